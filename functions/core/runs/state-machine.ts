import { STATUS_RANK } from '../shared/run-status';
import { isTerminal, type Run, type RunStatus } from './run-model';

export const RunEventSource = ['api', 'workflow', 'batch-event', 'artifact', 'sweeper'] as const;
export type RunEventSource = (typeof RunEventSource)[number];

/** Something that happened to a run, as reported by one of its writers. */
export interface RunEvent {
  to: RunStatus;
  /** When it happened (ISO 8601, UTC), as the reporter knows it. */
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
  | 'completed_at'
  | 'failed_at'
  | 'cancelled_at'
  | 'exit_code'
  | 'error_message'
  | 'error_task'
  | 'error_detail'
>;

type TimestampField = 'submitted_at' | 'started_at' | 'completed_at' | 'failed_at' | 'cancelled_at';
type ErrorField = 'exit_code' | 'error_message' | 'error_task' | 'error_detail';

export type RunPatch = Partial<Pick<Run, 'status' | 'updated_at' | TimestampField | ErrorField>>;

const TIMESTAMP: Record<RunStatus, TimestampField | null> = {
  pending: null,
  submitted: 'submitted_at',
  running: 'started_at',
  completed: 'completed_at',
  failed: 'failed_at',
  cancelled: 'cancelled_at',
};

const ERROR_FIELDS: ErrorField[] = ['exit_code', 'error_message', 'error_task', 'error_detail'];

/**
 * all: a run entering a final status takes every error field the event knows;
 * missing: a repeated report only fills fields nobody filled;
 * override: the orchestrator's exit.json is the authority on why Nextflow failed.
 */
function copyErrorFields(
  patch: RunPatch,
  event: RunEvent,
  run: RunStateFields,
  mode: 'all' | 'missing' | 'override',
): void {
  for (const field of ERROR_FIELDS) {
    const value = event[field];
    if (value === undefined || value === null) continue;
    if (mode === 'missing' && run[field] !== null) continue;
    if (mode === 'override' && run[field] === value) continue;
    Object.assign(patch, { [field]: value });
  }
}

function later(a: string, b: string): string {
  return a > b ? a : b;
}

/**
 * The one state machine. Statuses move forward only (skipping is allowed) and terminal
 * statuses are sticky: an event that would move a run backward, or from one final status
 * to another, changes nothing. Repeated and late reports only refine what is known:
 * a status's time is the earliest report of it, missing error details are filled in, and
 * exit.json (source `artifact`) has the last word on the error. So every order of the same
 * events ends in the same run document.
 */
export function applyRunEvent(run: RunStateFields, event: RunEvent): RunPatch | null {
  const from = run.status;
  const to = event.to;
  const patch: RunPatch = {};
  const field = TIMESTAMP[to];

  if (STATUS_RANK[to] > STATUS_RANK[from]) {
    patch.status = to;
    if (field) patch[field] = event.at;
    if (isTerminal(to)) copyErrorFields(patch, event, run, 'all');
  } else if (
    to === from ||
    (STATUS_RANK[to] < STATUS_RANK[from] && (to === 'submitted' || to === 'running'))
  ) {
    // A report of the status the run is in, or of a step it has passed.
    if (field && (run[field] === null || event.at < run[field])) patch[field] = event.at;
    if (to === from && isTerminal(to))
      copyErrorFields(patch, event, run, event.source === 'artifact' ? 'override' : 'missing');
  } else {
    return null;
  }

  // A newer report of a known state still moves updated_at, so that updated_at is the
  // newest report whatever the order; a redelivery (same time) changes nothing.
  if (Object.keys(patch).length === 0 && event.at <= run.updated_at) return null;
  patch.updated_at = later(run.updated_at, event.at);
  return patch;
}

/** How an applied patch reads in the status history. */
export function appliedDetail(run: RunStateFields, event: RunEvent, patch: RunPatch): string | null {
  if (patch.status === undefined) {
    const changed = Object.keys(patch).filter((key) => key !== 'updated_at');
    return `${event.to === run.status ? 'repeated' : 'late'} ${event.to}: recorded ${changed.join(', ')}; status stays ${run.status}`;
  }
  return event.detail ?? null;
}

/** Why applyRunEvent ignored an event, for the status history. */
export function ignoredReason(run: RunStateFields, event: RunEvent): string {
  if (event.to === run.status) return `already ${run.status}`;
  if (isTerminal(run.status)) return `${run.status} is final`;
  return `${event.to} would move ${run.status} backward`;
}
