/**
 * The run kernel (ARCHITECTURE §3a): what happens to a run on Batch, for every kind in the
 * list the functions are given. The workflow's two steps, Batch's state events, the stale-run
 * sweep and a restart of the local stack each look the run's kind up and go through the one
 * lifecycle (`lifecycle.ts`); whenever a run has ended, every Batch job it started is stopped
 * here, whichever way it ended.
 */
import { z } from 'zod';
import { BatchJob, batchParent, isJobEnded, type JobRunner, jobIdOf, jobName } from './batch';
import { ConflictError, NotFoundError, UpstreamError } from './errors';
import { eventsFromJob, type RunEvent, type RunEventSource } from './lifecycle';
import type { Clock } from './ports';
import type { RunEventOutbox } from './run-events';
import {
  type EventOutcome,
  type KernelRun,
  type KindStore,
  kindOfRun,
  type PreparedJob,
  type QueuedJob,
  type RunKind,
  type RunQueue,
  stopJobs,
  type WorkflowArgument,
  type WorkflowStarter,
} from './run-kind';
import { isTerminal, type RunStatus } from './run-status';

export interface KernelSettings {
  project: string;
  region: string;
}

/** What the workflow steps and Batch's events need. */
export interface KernelDeps {
  kinds: readonly RunKind[];
  jobs: JobRunner;
  clock: Clock;
  settings: KernelSettings;
}

function kindOf(deps: Pick<KernelDeps, 'kinds'>, runId: string): RunKind {
  const kind = kindOfRun(deps.kinds, runId);
  if (!kind) throw new NotFoundError(`Run ${runId} was not found: no kind of run has ids like it.`);
  return kind;
}

async function runOf(kind: RunKind, runId: string): Promise<KernelRun> {
  const run = await kind.runs.get(runId);
  if (!run) throw new NotFoundError(`Run ${runId} was not found.`);
  return run;
}

/**
 * A run that has ended keeps no Batch job going: every job it may have started is asked to
 * stop (the ones gone or ended are left alone). Called after each of the kernel's writes; a
 * cancel from the API calls it too.
 */
export async function stopJobsOfEndedRun(
  jobs: Pick<JobRunner, 'cancelJob'>,
  kind: RunKind,
  run: KernelRun,
  /** A job just read and found ended needs no call. */
  read: BatchJob | null = null,
): Promise<void> {
  if (!isTerminal(run.status)) return;
  const ended = read && isJobEnded(read.status.state) ? read.name : null;
  try {
    await stopJobs(
      jobs,
      kind.jobsOf(run).filter((name) => name !== ended),
    );
  } catch (error) {
    throw new UpstreamError(
      `Run ${run.run_id} has ended, but Batch did not confirm stopping its jobs; they are stopped when this is retried.`,
      { cause: error },
    );
  }
}

export interface StartDeps {
  workflows: Pick<WorkflowStarter, 'start'>;
  workflowArgument: (runId: string) => WorkflowArgument;
  clock: Clock;
}

/**
 * Starts the run's run-pipeline execution (the same workflow for every kind) and records it on
 * the run. If the execution cannot be started the run is failed with the reason (it is kept:
 * nothing the user sent is lost), and `startError` says why.
 */
export async function startExecution<R extends KernelRun>(
  deps: StartDeps,
  runs: KindStore<R>,
  run: R,
): Promise<{ run: R; startError: string | null }> {
  try {
    const execution = await deps.workflows.start(deps.workflowArgument(run.run_id));
    await runs.setFields(run.run_id, { workflow_execution: execution });
    return { run: { ...run, workflow_execution: execution }, startError: null };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const applied = await runs.apply(run.run_id, {
      to: 'failed',
      at: deps.clock.now().toISOString(),
      source: 'api',
      error_message: `The run could not be started: the run-pipeline workflow did not accept it (${reason}). Launch it again; if this keeps happening, the Workflows service is unavailable.`,
    });
    return { run: applied?.run ?? run, startError: reason };
  }
}

const ReconcilePhase = z
  .enum(['submitted', 'final', 'error', 'queued'])
  .describe('queued: Batch refused the create for quota; the run waits and the create is tried again');

export const PrepareRequest = z.strictObject({ run_id: z.string().min(1).max(100) });

export const ReconcileRequest = z.strictObject({
  run_id: z.string().min(1).max(100),
  phase: ReconcilePhase,
  job: z.unknown().optional(),
  error: z.unknown().optional(),
});
export type ReconcileRequest = z.infer<typeof ReconcileRequest>;

export interface ReconcileResult {
  run_id: string;
  status: RunStatus;
  /** `stop`: the workflow has nothing more to do for this run. */
  action: 'continue' | 'stop';
}

/**
 * Workflow step 1: the run's kind makes its inputs ready and names the Batch job to create.
 * Refuses (409) a run that is no longer pending, e.g. cancelled before submission.
 */
export async function prepareRun(
  deps: Pick<KernelDeps, 'kinds'>,
  runId: string,
): Promise<PreparedJob | QueuedJob> {
  const kind = kindOf(deps, runId);
  const run = await runOf(kind, runId);
  if (run.status !== 'pending') {
    throw new ConflictError(`Run ${runId} is ${run.status}; only a pending run is submitted.`, {
      status: run.status,
    });
  }
  return kind.prepare(run);
}

export const BATCH_QUOTA_REASON =
  'System busy: Google Batch refused to create the job because a quota is exhausted. This run is queued and is submitted as soon as Batch has capacity again.';

/** Marks a pending run as waiting for capacity (the first `since` is kept). */
export async function enqueue(
  runs: Pick<KindStore<KernelRun>, 'setFields'>,
  run: KernelRun,
  queue: RunQueue['kind'],
  reason: string,
  now: string,
): Promise<void> {
  await runs.setFields(run.run_id, {
    queue: { kind: queue, reason, since: run.queue?.since ?? now, checked_at: now },
  });
}

/** The workflow gave up waiting for capacity (it raises with the tag QueueTimeout). */
function isQueueTimeout(error: unknown): boolean {
  const tags = (error as { tags?: unknown } | null)?.tags;
  return Array.isArray(tags) && tags.includes('QueueTimeout');
}

function queueTimeoutMessage(run: KernelRun): string {
  const why =
    run.queue?.kind === 'platform_limit' ? "the platform's limit of concurrent Batch jobs" : 'Batch quota';
  return `No Batch capacity came free while the run waited in the queue${run.queue ? ` since ${run.queue.since}` : ''} (${why}). Nothing ran. Launch it again later, or ask an operator to raise the quota or MAX_CONCURRENT_JOBS.`;
}

function describeWorkflowError(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { message?: unknown; code?: unknown; tags?: unknown };
    const tags = Array.isArray(e.tags) ? ` [${e.tags.join(', ')}]` : '';
    const code = typeof e.code === 'number' ? ` (HTTP ${e.code})` : '';
    if (typeof e.message === 'string') return `${e.message}${code}${tags}`;
  }
  return typeof error === 'string' ? error : JSON.stringify(error);
}

/** What a read of the run's job says, through its kind (and the kind told of the read). */
async function eventsOfJob(
  kind: RunKind,
  run: KernelRun,
  job: BatchJob,
  source: RunEventSource,
  now: string,
): Promise<RunEvent[]> {
  await kind.observeJob?.(run, job, source);
  return eventsFromJob(job, source, now, kind.jobFailure);
}

async function applyAndSettle(
  deps: Pick<KernelDeps, 'jobs'>,
  kind: RunKind,
  run: KernelRun,
  events: RunEvent[],
  job: BatchJob | null = null,
): Promise<KernelRun> {
  const result = events.length > 0 ? await kind.runs.apply(run.run_id, events) : null;
  const current = result?.run ?? run;
  await stopJobsOfEndedRun(deps.jobs, kind, current, job);
  return current;
}

/**
 * Workflow steps 2 and 4: after the job is created (`submitted`), when polling ends
 * (`final`), when Batch refused the create for quota (`queued`), or when a step failed for
 * good (`error`). Applies what the job says through the lifecycle, so missed or late events
 * cannot leave the run behind; a run that has ended has its jobs stopped.
 */
export async function reconcileRun(deps: KernelDeps, request: ReconcileRequest): Promise<ReconcileResult> {
  const kind = kindOf(deps, request.run_id);
  const run = await runOf(kind, request.run_id);
  const now = deps.clock.now().toISOString();
  const job = request.job === undefined || request.job === null ? null : BatchJob.parse(request.job);
  const done = (current: KernelRun, action?: ReconcileResult['action']): ReconcileResult => ({
    run_id: run.run_id,
    status: current.status,
    action: action ?? (isTerminal(current.status) ? 'stop' : 'continue'),
  });

  if (request.phase === 'queued') {
    if (run.status !== 'pending') return done(run, 'stop');
    await enqueue(kind.runs, run, 'batch_quota', BATCH_QUOTA_REASON, now);
    return done(run, 'continue');
  }

  if (request.phase === 'error') {
    const message = isQueueTimeout(request.error)
      ? queueTimeoutMessage(run)
      : `The run-pipeline workflow stopped: ${describeWorkflowError(request.error)}`;
    const current = await applyAndSettle(deps, kind, run, [
      { to: 'failed', at: now, source: 'workflow', error_message: message },
    ]);
    return done(current, 'stop');
  }

  if (request.phase === 'submitted') {
    const fields = {
      ...(job && run.batch_job_name !== job.name ? { batch_job_name: job.name } : {}),
      ...(run.queue ? { queue: null } : {}),
    };
    if (Object.keys(fields).length > 0) await kind.runs.setFields(run.run_id, fields);
    const known = { ...run, ...fields };
    // Cancelled between prepare and create: the job must not run (the settle below stops it).
    const events = job && !isTerminal(run.status) ? await eventsOfJob(kind, known, job, 'workflow', now) : [];
    return done(await applyAndSettle(deps, kind, known, events, job));
  }

  const events: RunEvent[] = job
    ? await eventsOfJob(kind, run, job, 'workflow', now)
    : [
        {
          to: 'failed',
          at: now,
          source: 'workflow',
          error_message: 'The Batch job disappeared before it finished (it was deleted outside Arc Reactor).',
        },
      ];
  return done(await applyAndSettle(deps, kind, run, events, job), 'stop');
}

export const BatchEventAttributes = z.object({
  JobName: z.string().min(1),
  JobUID: z.string().optional(),
  NewJobState: z.string().optional(),
  Region: z.string().optional(),
});
export type BatchEventAttributes = z.infer<typeof BatchEventAttributes>;

/**
 * onBatchJobEvent: the notification is only a trigger. The job's kind is found from its id;
 * the job itself, read from Batch, is the authority, and its state goes through the
 * lifecycle. A run that has ended has its other jobs stopped. Transient errors propagate.
 */
export async function handleBatchJobEvent(
  deps: KernelDeps,
  attributes: BatchEventAttributes,
): Promise<EventOutcome> {
  const jobId = jobIdOf(attributes.JobName);
  const owner = deps.kinds
    .map((kind) => ({ kind, runId: kind.runOfJob(jobId) }))
    .find((candidate) => candidate.runId !== null);
  if (!owner?.runId)
    return { outcome: 'ignored', reason: `job ${attributes.JobName} is not an Arc Reactor run` };
  const { kind, runId } = owner;
  const run = await kind.runs.get(runId);
  if (!run) return { outcome: 'ignored', run_id: runId, reason: 'no such run' };
  const name = attributes.JobName.startsWith('projects/')
    ? attributes.JobName
    : jobName(batchParent(deps.settings.project, attributes.Region ?? deps.settings.region), jobId);
  const job = await deps.jobs.getJob(name);
  if (!job) return { outcome: 'ignored', run_id: runId, reason: `job ${name} no longer exists` };
  const events = await eventsOfJob(kind, run, job, 'batch-event', deps.clock.now().toISOString());
  const result = events.length > 0 ? await kind.runs.apply(runId, events) : null;
  if (events.length > 0 && !result) return { outcome: 'ignored', run_id: runId, reason: 'no such run' };
  const current = result?.run ?? run;
  await stopJobsOfEndedRun(deps.jobs, kind, current, job);
  if (events.length === 0)
    return { outcome: 'ignored', run_id: runId, reason: `job state ${job.status.state} changes nothing` };
  return result?.applied
    ? { outcome: 'applied', run_id: runId, status: current.status }
    : { outcome: 'ignored', run_id: runId, reason: `run is ${current.status}` };
}

export interface SweepSettings {
  /** A submitted or running run untouched this long has its Batch job checked. */
  staleAfterMs: number;
  /** A pending run this old whose workflow never started, or ended, is failed. */
  pendingTimeoutMs: number;
}

export interface SweepDeps {
  kinds: readonly RunKind[];
  jobs: JobRunner;
  workflows: Pick<WorkflowStarter, 'describe'>;
  clock: Clock;
  settings: SweepSettings;
  /** Status events whose publish failed after their change was committed. */
  events?: RunEventOutbox;
  /** Other periodic work of a kind (a work dir about to be deleted): each answers what it did. */
  passes?: readonly { name: string; run(limit: number): Promise<number> }[];
}

export interface SweepChange {
  run_id: string;
  kind: string;
  from: RunStatus;
  to: RunStatus;
  reason: string;
}

export interface SweepReport {
  checked: number;
  changed: SweepChange[];
  /** Runs whose job or workflow could not be read (or whose jobs could not be stopped) this time. */
  errors: { run_id: string; error: string }[];
  /** Status events published now that were left staged (a publish failed, a function died). */
  events_published: number;
  /** What each other pass did (e.g. `work_dir_notices`: owners told their work dir is about to go). */
  passes?: Record<string, number>;
}

/** A staged status event this old has lost its writer's publish: the sweeper publishes it. */
export const UNPUBLISHED_AFTER_MS = 60_000;

/** At most this many runs of each kind per sweep; the rest wait for the next one. */
export const SWEEP_LIMIT = 200;
const CONCURRENCY = 8;

function minutes(ms: number): string {
  const value = ms / 60_000;
  return value >= 1 ? `${Number(value.toFixed(1))} minutes` : `${Math.round(ms / 1000)} seconds`;
}

/** What the Batch job says about a submitted or running run ([] when it is still going), and the job read. */
async function activeRunEvents(
  deps: SweepDeps,
  kind: RunKind,
  run: KernelRun,
  now: string,
): Promise<{ events: RunEvent[]; job: BatchJob | null }> {
  const quiet = minutes(deps.settings.staleAfterMs);
  if (!run.batch_job_name) {
    const error_message = `The run is ${run.status} but no Batch job was ever recorded for it, and nothing changed for ${quiet}.`;
    return { events: [{ to: 'failed', at: now, source: 'sweeper', error_message }], job: null };
  }
  const job = await deps.jobs.getJob(run.batch_job_name);
  if (!job) {
    const error_message = `Batch job disappeared: ${run.batch_job_name} no longer exists, and no final state was ever reported for the run (found after ${quiet} without news).`;
    return {
      events: [{ to: 'failed', at: now, source: 'sweeper', detail: `no news for ${quiet}`, error_message }],
      job: null,
    };
  }
  return { events: await eventsOfJob(kind, run, job, 'sweeper', now), job };
}

/** A pending run past the timeout: failed unless its workflow execution is still going. */
async function pendingRunEvents(
  deps: SweepDeps,
  kind: RunKind,
  run: KernelRun,
  now: string,
): Promise<RunEvent[]> {
  const waited = minutes(deps.settings.pendingTimeoutMs);
  const fail = (why: string): RunEvent[] => [
    {
      to: 'failed',
      at: now,
      source: 'sweeper',
      error_message: `The run was never submitted: ${why}. ${kind.startAgain}`,
    },
  ];
  if (!run.workflow_execution) {
    return fail(`no run-pipeline workflow execution was recorded for it within ${waited} of its creation`);
  }
  const execution = await deps.workflows.describe(run.workflow_execution);
  if (!execution) return fail(`its workflow execution ${run.workflow_execution} no longer exists`);
  if (execution.state === 'ACTIVE' || execution.state === 'QUEUED') return [];
  return fail(
    `its workflow execution ended ${execution.state}${execution.error ? ` (${execution.error.slice(0, 500)})` : ''} before creating the Batch job`,
  );
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/**
 * The stale-run sweep (ARCHITECTURE §7): events are at-least-once but can still be lost (a
 * dropped notification, a workflow execution that died). For every kind, runs that have not
 * changed for a while have their authorities — the Batch job, the workflow execution — asked
 * what became of them; what they say goes through the lifecycle (source `sweeper`), so the
 * sweep can never move a run backwards. A run it ends has its jobs stopped.
 */
export async function sweepStaleRuns(deps: SweepDeps, limit = SWEEP_LIMIT): Promise<SweepReport> {
  const now = deps.clock.now();
  const iso = (ms: number) => new Date(now.getTime() - ms).toISOString();
  const report: SweepReport = { checked: 0, changed: [], errors: [], events_published: 0 };
  for (const kind of deps.kinds) {
    const [active, pending] = await Promise.all([
      kind.runs.findStale({
        statuses: ['submitted', 'running'],
        field: 'updated_at',
        before: iso(deps.settings.staleAfterMs),
        limit,
      }),
      kind.runs.findStale({
        statuses: ['pending'],
        field: 'created_at',
        before: iso(deps.settings.pendingTimeoutMs),
        limit,
      }),
    ]);
    report.checked += active.length + pending.length;
    await forEachLimited([...active, ...pending], CONCURRENCY, async (run) => {
      try {
        const at = deps.clock.now().toISOString();
        const { events, job } =
          run.status === 'pending'
            ? { events: await pendingRunEvents(deps, kind, run, at), job: null }
            : await activeRunEvents(deps, kind, run, at);
        if (events.length === 0) return;
        const result = await kind.runs.apply(run.run_id, events);
        if (result?.applied && result.run.status !== run.status) {
          report.changed.push({
            run_id: run.run_id,
            kind: kind.name,
            from: run.status,
            to: result.run.status,
            reason: result.run.error_message ?? events.at(-1)!.detail ?? '',
          });
        }
        if (result) await stopJobsOfEndedRun(deps.jobs, kind, result.run, job);
      } catch (error) {
        report.errors.push({
          run_id: run.run_id,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    });
  }
  for (const pass of deps.passes ?? []) {
    try {
      report.passes = { ...report.passes, [pass.name]: await pass.run(limit) };
    } catch (error) {
      report.errors.push({ run_id: '*', error: `${pass.name}: ${String(error)}` });
    }
  }
  if (deps.events) {
    try {
      report.events_published = await deps.events.drainStale(iso(UNPUBLISHED_AFTER_MS), limit);
    } catch (error) {
      report.errors.push({ run_id: '*', error: `publishing staged status events: ${String(error)}` });
    }
  }
  return report;
}

/** Why runs that were going when the local stack stopped are failed when it starts again, and what to do. */
export function localRestartMessage(kind: Pick<RunKind, 'carryOn'>): string {
  return `The local stack was restarted while this run was going: its Batch job and workflow stopped with it. ${kind.carryOn}`;
}

/**
 * The local stack's Batch and Workflows twins keep their jobs in memory: when the stack stops,
 * every job and execution dies with it. So on start, each run of every kind still pending,
 * submitted or running is failed at once, with a message that says so, instead of showing
 * "Running" until the stale-run threshold. (Google Batch has no such moment: its jobs outlive
 * our functions.)
 */
export async function failRunsOrphanedByRestart(
  deps: Pick<SweepDeps, 'kinds' | 'jobs' | 'clock'>,
): Promise<SweepChange[]> {
  const now = deps.clock.now().toISOString();
  const changed: SweepChange[] = [];
  for (const kind of deps.kinds) {
    for (;;) {
      const orphans = await kind.runs.findStale({
        statuses: ['pending', 'submitted', 'running'],
        field: 'updated_at',
        before: now,
        limit: SWEEP_LIMIT,
      });
      let progressed = false;
      for (const run of orphans) {
        const reason = localRestartMessage(kind);
        const applied = await kind.runs.apply(run.run_id, {
          to: 'failed',
          at: now,
          source: 'sweeper',
          detail: 'the local stack was restarted',
          error_message: reason,
        });
        if (applied?.applied) {
          progressed = true;
          changed.push({ run_id: run.run_id, kind: kind.name, from: run.status, to: 'failed', reason });
          await stopJobsOfEndedRun(deps.jobs, kind, applied.run);
        }
      }
      if (orphans.length < SWEEP_LIMIT || !progressed) break;
    }
  }
  return changed;
}
