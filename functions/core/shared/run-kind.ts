/**
 * A run kind: the platform's unit of work on Batch (ARCHITECTURE §3a). A Nextflow run and a
 * HAYSTACK run are two kinds; the kernel (`kernel.ts`) drives every kind the same way — the
 * workflow's steps, Batch's state events, the stale-run sweep, a restart of the local stack,
 * stopping a run's jobs when it ends — and a kind says only what is its own: its ids, its
 * store, the job that carries its status, every job it may start, and how to prepare it.
 */
import { z } from 'zod';
import type { BatchJob, JobRunner, JobSpec } from './batch';
import type { JobFailureReader, RunEvent, RunEventSource, RunStateFields } from './lifecycle';
import type { RunStatus } from './run-status';

/** Why a pending run is not submitted yet: Batch refused the job for quota, or the platform's own cap. */
export const RunQueue = z.object({
  kind: z.enum(['batch_quota', 'platform_limit']),
  reason: z.string(),
  since: z.iso.datetime({ offset: false }),
  checked_at: z.iso.datetime({ offset: false }).describe('when capacity was last looked for'),
});
export type RunQueue = z.infer<typeof RunQueue>;

/** What the kernel reads and writes of a run, whatever its kind. */
export interface KernelRun extends RunStateFields {
  run_id: string;
  user_email: string;
  created_at: string;
  /** The job whose state is the run's (`…/jobs/nf-{run}`, `…/jobs/haystack-{run}`), once prepared. */
  batch_job_name: string | null;
  /** The run-pipeline execution that drives it. */
  workflow_execution: string | null;
  queue: RunQueue | null;
  error_message: string | null;
}

/** Fields of a run the kernel writes outside the lifecycle. */
export type KernelFields = Partial<Pick<KernelRun, 'batch_job_name' | 'workflow_execution' | 'queue'>>;

export interface StaleQuery {
  statuses: RunStatus[];
  /** Runs whose `field` is earlier than `before` (ISO 8601), oldest first. */
  field: 'updated_at' | 'created_at';
  before: string;
  limit: number;
}

/** Where a kind keeps its runs: every status change goes through the lifecycle's reducer. */
export interface KindStore<R extends KernelRun> {
  get(runId: string): Promise<R | null>;
  /**
   * Runs applyRunEvent for each event, in order, against the run's current state, and commits
   * what changed with a status event for each status entered (ARCHITECTURE §7a). `applied`:
   * something changed. Null when the run does not exist.
   */
  apply(runId: string, events: RunEvent | RunEvent[]): Promise<{ run: R; applied: boolean } | null>;
  /** False when the run does not exist. */
  setFields(runId: string, fields: KernelFields): Promise<boolean>;
  /** Runs in one of `statuses` not touched since `before` (the sweeper's candidates). */
  findStale(query: StaleQuery): Promise<R[]>;
}

/** Workflow step 1's answer: the job to create. */
export interface PreparedJob {
  queued?: false;
  run_id: string;
  parent: string;
  job_id: string;
  job_name: string;
  request_id: string;
  job: JobSpec;
}

/** Workflow step 1's answer when the run must wait for capacity: the workflow asks again. */
export interface QueuedJob {
  run_id: string;
  queued: true;
  reason: string;
}

/** One kind of run. A new kind is a folder under core/ with one of these, and a line in the list. */
export interface RunKind<R extends KernelRun = KernelRun> {
  /** As run events name it (`kind`): `nextflow`, `haystack`. */
  readonly name: string;
  /** Its run ids. */
  readonly runIds: RegExp;
  /** The run whose status a Batch job's state is (`nf-{run}`), from the job's id; null for other jobs. */
  runOfJob(jobId: string): string | null;
  readonly runs: KindStore<R>;
  /** Every Batch job the run may have started: the kernel stops them all when it ends. */
  jobsOf(run: R): string[];
  /** Workflow step 1, for a pending run: its inputs made ready and the job to create, or why it waits. */
  prepare(run: R): Promise<PreparedJob | QueuedJob>;
  /** Why its job failed, as the run's error (default: what Batch's status events say). */
  readonly jobFailure?: JobFailureReader;
  /** Told of every read of the run's job (Nextflow records the orchestrator's retries from it). */
  observeJob?(run: R, job: BatchJob, source: RunEventSource): Promise<void>;
  /** How the owner starts again a run that never ran, as a sentence. */
  readonly startAgain: string;
  /** How the owner carries on with a run that stopped midway (a restart of the local stack), as a sentence. */
  readonly carryOn: string;
}

/** What the kernel tells a function about an event it handled. */
export type EventOutcome =
  | { outcome: 'applied'; run_id: string; status: RunStatus }
  | { outcome: 'ignored'; run_id?: string; reason: string };

/** The argument of the run-pipeline workflow (the same for every kind). */
export interface WorkflowArgument {
  run_id: string;
  project: string;
  region: string;
  prepare_url: string;
  reconcile_url: string;
  poll_seconds: number;
  /** Waiting for Batch capacity: seconds between tries, and tries before the run fails. */
  queue_poll_seconds: number;
  max_queue_polls: number;
}

export interface WorkflowExecutionState {
  state: 'ACTIVE' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'UNAVAILABLE' | 'QUEUED' | 'UNKNOWN';
  /** The execution's error message when it FAILED. */
  error: string | null;
}

/** Cloud Workflows executions of run-pipeline, or the local interpreter. */
export interface WorkflowStarter {
  /** Starts an execution and returns its resource name. */
  start(argument: WorkflowArgument): Promise<string>;
  /** The execution's state; null when it does not exist. */
  describe(name: string): Promise<WorkflowExecutionState | null>;
}

/** The kind a run id belongs to; null when none does. */
export function kindOfRun(kinds: readonly RunKind[], runId: string): RunKind | null {
  return kinds.find((kind) => kind.runIds.test(runId)) ?? null;
}

/** Stops every job in `names` that is still going; jobs gone or ended are left alone (Batch's cancel is idempotent). */
export async function stopJobs(jobs: Pick<JobRunner, 'cancelJob'>, names: readonly string[]): Promise<void> {
  await Promise.all(names.map((name) => jobs.cancelJob(name)));
}
