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
