/**
 * The run statuses of ARCHITECTURE §3, free of any library so that the web page can share
 * them (and the progress view built on them) without bundling the schema code.
 */
export const RunStatus = ['pending', 'submitted', 'running', 'completed', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RunStatus)[number];

export const TerminalStatus = ['completed', 'failed', 'cancelled'] as const;
export type TerminalStatus = (typeof TerminalStatus)[number];

/** Order of the statuses: a run only moves up (ARCHITECTURE §3); the terminal ones share a rank. */
export const STATUS_RANK: Record<RunStatus, number> = {
  pending: 0,
  submitted: 1,
  running: 2,
  completed: 3,
  failed: 3,
  cancelled: 3,
};

export function isTerminal(status: RunStatus): status is TerminalStatus {
  return (TerminalStatus as readonly string[]).includes(status);
}

/** `NFCORE_X:Y:STAR_ALIGN (S1)` → `NFCORE_X:Y:STAR_ALIGN` (the process of a task name). */
export function processOfName(name: string): string {
  const open = name.indexOf(' (');
  return open === -1 ? name : name.slice(0, open);
}

/** `NFCORE_X:Y:STAR_ALIGN` → `STAR_ALIGN`. */
export function shortProcessName(process: string): string {
  return process.slice(process.lastIndexOf(':') + 1);
}

/** `Mar-25 09:41:18.817 [Task submitter] ERROR nextflow.processor.TaskProcessor - message` */
export const LOG_LINE =
  /^([A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) \[([^\]]*)\] (TRACE|DEBUG|INFO|WARN|ERROR)\s+(\S+) - (.*)$/;
