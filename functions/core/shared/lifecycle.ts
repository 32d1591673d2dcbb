/**
 * The one lifecycle of every run, of every kind (ARCHITECTURE §3): one pure reducer,
 * `applyRunEvent`, that every writer of either kind goes through (API, workflow steps, event
 * functions, sweeper, the HAYSTACK agent), and what a Batch job's state says about its run.
 */
import { type BatchJob, type BatchJobState, jobFailure, jobStateTime, jobTransitions } from './batch';
import { isTerminal, type RunStatus, STATUS_RANK } from './run-status';

export const RunEventSource = ['api', 'workflow', 'batch-event', 'artifact', 'sweeper', 'agent'] as const;
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

type TimestampField = 'submitted_at' | 'started_at' | 'completed_at' | 'failed_at' | 'cancelled_at';
type ErrorField = 'exit_code' | 'error_message' | 'error_task' | 'error_detail';

/** What the lifecycle owns on a run of any kind. */
export type LifecycleFields = { status: RunStatus; updated_at: string } & Record<
  TimestampField,
  string | null
>;

/**
 * The error fields a kind's record keeps: a Nextflow run all four, a HAYSTACK run only
 * `error_message`. The reducer fills only the fields the record has.
 */
export type ErrorFields = Partial<{
  exit_code: number | null;
  error_message: string | null;
  error_task: string | null;
  error_detail: string | null;
}>;

export type RunStateFields = LifecycleFields & ErrorFields;

export type LifecyclePatch = Partial<LifecycleFields> & ErrorFields;

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
  patch: LifecyclePatch,
  event: RunEvent,
  run: RunStateFields,
  mode: 'all' | 'missing' | 'override',
): void {
  for (const field of ERROR_FIELDS) {
    const value = event[field];
    if (value === undefined || value === null) continue;
    // A field the kind's record does not keep is not added to it.
    if (!(field in run)) continue;
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
export function applyRunEvent(run: RunStateFields, event: RunEvent): LifecyclePatch | null {
  const from = run.status;
  const to = event.to;
  const patch: LifecyclePatch = {};
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
    const known = field ? run[field] : null;
    if (field && (known === null || event.at < known)) patch[field] = event.at;
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
export function appliedDetail(run: RunStateFields, event: RunEvent, patch: LifecyclePatch): string | null {
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

/** The run status a Batch job state stands for; null for states that say nothing new. */
export function runStatusForJobState(state: BatchJobState): RunStatus | null {
  switch (state) {
    case 'QUEUED':
    case 'SCHEDULED':
      return 'submitted';
    case 'RUNNING':
      return 'running';
    case 'SUCCEEDED':
      return 'completed';
    case 'FAILED':
      return 'failed';
    case 'CANCELLED':
      return 'cancelled';
    default:
      return null;
  }
}

/** Why a run's job failed, in the words its kind uses (default: what Batch's status events say). */
export type JobFailureReader = (job: BatchJob) => { message: string; exitCode: number | null };

/**
 * What a Batch job says about its run: one event per state change its status events record
 * (so a lost notification is made good by any later read of the job), ending with its
 * current state (with the failure, for FAILED). Each is timed when the job entered that state.
 */
export function eventsFromJob(
  job: BatchJob,
  source: RunEventSource,
  now: string,
  failure: JobFailureReader = jobFailure,
): RunEvent[] {
  const events: RunEvent[] = [];
  for (const transition of jobTransitions(job)) {
    const to = runStatusForJobState(transition.state);
    if (to && to !== runStatusForJobState(job.status.state)) {
      events.push({
        to,
        at: transition.at,
        source,
        detail: `Batch job ${transition.state} (from the job's history)`,
      });
    }
  }
  const to = runStatusForJobState(job.status.state);
  if (!to) return events;
  const current: RunEvent = {
    to,
    at: jobStateTime(job, now),
    source,
    detail: `Batch job ${job.status.state}`,
  };
  if (to === 'failed') {
    const failed = failure(job);
    current.error_message = failed.message;
    current.exit_code = failed.exitCode;
  }
  if (to === 'completed') current.exit_code = 0;
  return [...events, current];
}
