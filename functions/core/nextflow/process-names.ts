/** Nextflow's names for processes and tasks, and its log line format (zod-free: the page uses them). */

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
