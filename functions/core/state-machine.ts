import { isTerminal, type Run, type RunStatus } from './run-model';

export const RunEventSource = ['api', 'workflow', 'batch-event', 'artifact', 'sweeper'] as const;
export type RunEventSource = (typeof RunEventSource)[number];

/** Something that happened to a run, as reported by one of its writers. */
export interface RunEvent {
  to: RunStatus;
  /** When it happened (ISO 8601, UTC). */
  at: string;
  source: RunEventSource;
  detail?: string | null;
  exit_code?: number | null;
  error_message?: string | null;
  error_task?: string | null;
  error_detail?: string | null;
}

export type RunStateFields = Pick<
  Run,
  | 'status'
  | 'updated_at'
  | 'submitted_at'
  | 'started_at'
  | 'exit_code'
  | 'error_message'
  | 'error_task'
  | 'error_detail'
>;

export type RunPatch = Partial<
  Pick<
    Run,
    | 'status'
    | 'updated_at'
    | 'submitted_at'
    | 'started_at'
    | 'completed_at'
    | 'failed_at'
    | 'cancelled_at'
    | 'exit_code'
    | 'error_message'
    | 'error_task'
    | 'error_detail'
  >
>;

const RANK: Record<RunStatus, number> = {
  pending: 0,
  submitted: 1,
  running: 2,
  completed: 3,
  failed: 3,
  cancelled: 3,
};

function setTimestamp(patch: RunPatch, to: RunStatus, at: string): void {
  switch (to) {
    case 'pending':
      return;
    case 'submitted':
      patch.submitted_at = at;
      return;
    case 'running':
      patch.started_at = at;
      return;
    case 'completed':
      patch.completed_at = at;
      return;
    case 'failed':
      patch.failed_at = at;
      return;
    case 'cancelled':
      patch.cancelled_at = at;
      return;
  }
}

/** Copies the error fields the event knows; with `run`, only those the run does not know yet. */
function copyErrorFields(patch: RunPatch, event: RunEvent, run?: RunStateFields): void {
  if (event.exit_code != null && (!run || run.exit_code === null)) patch.exit_code = event.exit_code;
  if (event.error_message != null && (!run || run.error_message === null)) {
    patch.error_message = event.error_message;
  }
  if (event.error_task != null && (!run || run.error_task === null)) patch.error_task = event.error_task;
  if (event.error_detail != null && (!run || run.error_detail === null))
    patch.error_detail = event.error_detail;
}

function later(a: string, b: string): string {
  return a > b ? a : b;
}

/**
 * The one state machine. Statuses move forward only (skipping is allowed), terminal
 * statuses are sticky, and an event that would move backward returns null — except that
 * a late `submitted`/`running` event fills in that step's time when it is still unknown. A repeated
 * terminal event may still fill in error fields that are not known yet (Batch says
 * FAILED before the orchestrator's exit.json tells which task failed and why).
 */
export function applyRunEvent(run: RunStateFields, event: RunEvent): RunPatch | null {
  const from = run.status;
  const to = event.to;

  if (RANK[to] > RANK[from]) {
    const patch: RunPatch = { status: to, updated_at: later(run.updated_at, event.at) };
    setTimestamp(patch, to, event.at);
    if (isTerminal(to)) copyErrorFields(patch, event);
    return patch;
  }

  if ((to === 'submitted' || to === 'running') && RANK[to] < RANK[from]) {
    // A late event for a step the run has already passed: the status stays, but the
    // step's time is recorded if nobody recorded it (events arrive out of order).
    const field = to === 'submitted' ? 'submitted_at' : 'started_at';
    if (run[field] !== null) return null;
    return { [field]: event.at, updated_at: later(run.updated_at, event.at) };
  }

  if (to === from && isTerminal(to)) {
    const patch: RunPatch = {};
    copyErrorFields(patch, event, run);
    if (Object.keys(patch).length === 0) return null;
    patch.updated_at = later(run.updated_at, event.at);
    return patch;
  }

  return null;
}

/** How an applied patch reads in the status history. */
export function appliedDetail(run: RunStateFields, event: RunEvent, patch: RunPatch): string | null {
  if (patch.status === undefined && event.to !== run.status)
    return `late ${event.to}: time recorded, status stays ${run.status}`;
  return event.detail ?? null;
}

/** Why applyRunEvent ignored an event, for the status history. */
export function ignoredReason(run: RunStateFields, event: RunEvent): string {
  if (event.to === run.status) return `already ${run.status}`;
  if (isTerminal(run.status)) return `${run.status} is final`;
  return `${event.to} would move ${run.status} backward`;
}
