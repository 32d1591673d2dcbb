import { z } from 'zod';
import type { Executor } from '../nextflow/executors';
import type { SpotPrices } from '../nextflow/metrics';
import { renderNextflowConfig, renderParamsYaml } from '../nextflow/nextflow-config';
import { ExitReport } from '../nextflow/nextflow-log';
import { renderSamplesheet } from '../nextflow/samplesheet';
import { ConflictError, NotFoundError } from '../shared/errors';
import { batchJobId, RUN_ID, runIdFromBatchJobId } from '../shared/ids';
import type { Clock, ObjectStore } from '../shared/ports';
import {
  FINAL_TRACE,
  ingestFinalTrace,
  ingestLogChunk,
  ingestTraceChunk,
  LIVE_LOG_CHUNK,
  LIVE_TRACE_CHUNK,
} from './artifact-ingest';
import {
  BatchJob,
  type BatchJobSpec,
  batchJobName,
  batchParent,
  buildBatchJob,
  jobFailure,
  jobStateTime,
  jobTransitions,
  type OrchestratorSettings,
  runStatusForJobState,
  TERMINAL_JOB_STATES,
} from './batch-job';
import { retriesFromJob, retryDetail } from './orchestrator-attempts';
import type { ApplyResult, JobRunner, RunStore } from './ports';
import { isTerminal, type Run, RunId, type RunQueue } from './run-model';
import { runPaths } from './run-service';
import type { RunEvent } from './state-machine';

export interface ExecutionSettings {
  /** Spot prices for the cost estimate in run metrics. */
  prices: SpotPrices;
  project: string;
  region: string;
  executor: Executor;
  tasksServiceAccount: string;
  orchestrator: OrchestratorSettings;
  /** Batch jobs the platform keeps going at once (0: no limit); past it, runs wait in the queue. */
  maxConcurrentJobs: number;
}

export interface ExecutionDeps {
  runs: RunStore;
  objects: ObjectStore;
  jobs: JobRunner;
  clock: Clock;
  settings: ExecutionSettings;
}

/** prepareRun's answer when the platform is at its job limit: the workflow waits and asks again. */
export interface QueuedRun {
  run_id: string;
  queued: true;
  reason: string;
}

export interface PreparedRun {
  queued?: false;
  run_id: string;
  parent: string;
  job_id: string;
  job_name: string;
  request_id: string;
  job: BatchJobSpec;
}

function locations(bucket: string, run: Run) {
  const paths = runPaths(bucket, run.run_id, run.root_run_id);
  return {
    bucket,
    config: paths.config,
    params: paths.params,
    samplesheet: paths.samplesheet,
    logsPrefix: paths.logs,
    workDir: paths.workDir,
    cacheDir: paths.cacheDir,
  };
}

/** Marks a pending run as waiting for capacity (the first `since` is kept). */
async function enqueue(deps: ExecutionDeps, run: Run, kind: RunQueue['kind'], reason: string): Promise<void> {
  const now = deps.clock.now().toISOString();
  await deps.runs.setFields(run.run_id, {
    queue: { kind, reason, since: run.queue?.since ?? now, checked_at: now },
  });
}

export const PLATFORM_LIMIT_REASON = (limit: number) =>
  `System busy: the platform runs at most ${limit} Batch jobs at once, and that many are going. This run is queued and starts as soon as one of them ends.`;
export const BATCH_QUOTA_REASON =
  'System busy: Google Batch refused to create the job because a quota is exhausted. This run is queued and is submitted as soon as Batch has capacity again.';

/**
 * Workflow step 1: renders the run's inputs into `runs/{id}/inputs/` and returns the Batch
 * job to create. Refuses (409) a run that is no longer pending, e.g. cancelled before
 * submission. At the platform's job limit it queues the run instead (`queued: true`): the
 * workflow waits and asks again.
 */
export async function prepareRun(deps: ExecutionDeps, runId: string): Promise<PreparedRun | QueuedRun> {
  const run = await deps.runs.get(runId);
  if (!run) throw new NotFoundError(`Run ${runId} was not found.`);
  if (run.status !== 'pending') {
    throw new ConflictError(`Run ${runId} is ${run.status}; only a pending run is submitted.`, {
      status: run.status,
    });
  }
  const { settings } = deps;
  if (settings.maxConcurrentJobs > 0 && (await deps.runs.countActiveJobs()) >= settings.maxConcurrentJobs) {
    const reason = PLATFORM_LIMIT_REASON(settings.maxConcurrentJobs);
    await enqueue(deps, run, 'platform_limit', reason);
    return { run_id: run.run_id, queued: true, reason };
  }
  const paths = runPaths(deps.objects.bucket, run.run_id, run.root_run_id);
  const uploaded = await deps.objects.read(paths.requestSamplesheet);
  await Promise.all([
    deps.objects.write(paths.samplesheet, renderSamplesheet(uploaded.toString('utf8')), 'text/csv'),
    deps.objects.write(paths.params, renderParamsYaml(run.params), 'application/yaml'),
    deps.objects.write(
      paths.config,
      renderNextflowConfig(
        {
          runId: run.run_id,
          project: settings.project,
          region: settings.region,
          tasksServiceAccount: settings.tasksServiceAccount,
        },
        run.config_content,
      ),
      'text/plain',
    ),
  ]);
  const jobName = batchJobName(settings.project, settings.region, run.run_id);
  await deps.runs.setFields(run.run_id, { batch_job_name: jobName, executor: settings.executor });
  return {
    run_id: run.run_id,
    parent: batchParent(settings.project, settings.region),
    job_id: batchJobId(run.run_id),
    job_name: jobName,
    request_id: run.batch_request_id,
    job: buildBatchJob(run, locations(deps.objects.bucket, run), settings.orchestrator),
  };
}

export const ReconcileRequest = z.strictObject({
  run_id: RunId,
  phase: z
    .enum(['submitted', 'final', 'error', 'queued'])
    .describe('queued: Batch refused the create for quota; the run waits and the create is tried again'),
  job: z.unknown().optional(),
  error: z.unknown().optional(),
});
export type ReconcileRequest = z.infer<typeof ReconcileRequest>;

export interface ReconcileResult {
  run_id: string;
  status: Run['status'];
  /** `stop`: the workflow has nothing more to do for this run. */
  action: 'continue' | 'stop';
}

/** The workflow gave up waiting for capacity (it raises with the tag QueueTimeout). */
function isQueueTimeout(error: unknown): boolean {
  const tags = (error as { tags?: unknown } | null)?.tags;
  return Array.isArray(tags) && tags.includes('QueueTimeout');
}

function queueTimeoutMessage(run: Run): string {
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

/**
 * What a Batch job says about its run: one event per state change its status events record
 * (so a lost notification is made good by any later read of the job), ending with its
 * current state (with the failure, for FAILED). Each is timed when the job entered that state.
 */
export function eventsFromJob(job: BatchJob, source: RunEvent['source'], now: string): RunEvent[] {
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
    const failure = jobFailure(job);
    current.error_message = failure.message;
    current.exit_code = failure.exitCode;
  }
  if (to === 'completed') current.exit_code = 0;
  return [...events, current];
}

/**
 * Records, once each, the orchestrator retries the job's history shows: the run's attempt,
 * why the one before ended, and a line in its status history. Progress then shows the new
 * attempt's counts (runs/orchestrator-attempts.ts).
 */
export async function recordOrchestratorRetries(
  runs: RunStore,
  runId: string,
  job: BatchJob,
  source: RunEvent['source'],
): Promise<void> {
  for (const retry of retriesFromJob(job)) {
    await runs.applyOnce(
      runId,
      `orchestrator-retry-${retry.attempt}`,
      (run) =>
        run.orchestrator_retries.some((r) => r.attempt === retry.attempt)
          ? null
          : {
              orchestrator_attempt: Math.max(run.orchestrator_attempt, retry.attempt),
              orchestrator_retries: [...run.orchestrator_retries, retry].sort(
                (a, b) => a.attempt - b.attempt,
              ),
            },
      () => ({ source, at: retry.at, detail: retryDetail(retry) }),
    );
  }
}

async function cancelIfActive(deps: ExecutionDeps, job: BatchJob | null): Promise<void> {
  if (job && !TERMINAL_JOB_STATES.includes(job.status.state)) await deps.jobs.cancelJob(job.name);
}

/**
 * Workflow steps 2 and 4: after the job is created (`submitted`), when polling ends
 * (`final`), or when a step failed for good (`error`). Applies what the job says through
 * the state machine, so missed or late events cannot leave the run behind.
 */
export async function reconcileRun(deps: ExecutionDeps, request: ReconcileRequest): Promise<ReconcileResult> {
  const run = await deps.runs.get(request.run_id);
  if (!run) throw new NotFoundError(`Run ${request.run_id} was not found.`);
  const now = deps.clock.now().toISOString();
  const job = request.job === undefined || request.job === null ? null : BatchJob.parse(request.job);
  const done = (result: ApplyResult | null | Run, action: ReconcileResult['action']): ReconcileResult => {
    const current = result && 'run' in result ? result.run : (result as Run);
    return { run_id: run.run_id, status: current.status, action };
  };

  if (request.phase === 'queued') {
    if (run.status !== 'pending') return done(run, 'stop');
    await enqueue(deps, run, 'batch_quota', BATCH_QUOTA_REASON);
    return done(run, 'continue');
  }

  if (request.phase === 'error') {
    const existing = job ?? (run.batch_job_name ? await deps.jobs.getJob(run.batch_job_name) : null);
    await cancelIfActive(deps, existing);
    const queueTimeout = isQueueTimeout(request.error);
    const applied = await deps.runs.apply(run.run_id, {
      to: 'failed',
      at: now,
      source: 'workflow',
      error_message: queueTimeout
        ? queueTimeoutMessage(run)
        : `The run-pipeline workflow stopped: ${describeWorkflowError(request.error)}`,
    });
    return done(applied ?? run, 'stop');
  }

  if (request.phase === 'submitted') {
    if (job && run.batch_job_name !== job.name)
      await deps.runs.setFields(run.run_id, { batch_job_name: job.name });
    if (run.queue) await deps.runs.setFields(run.run_id, { queue: null });
    if (run.status === 'cancelled') {
      // Cancelled between prepare and create: the job must not run.
      await cancelIfActive(deps, job);
      return done(run, 'stop');
    }
    const events = job ? eventsFromJob(job, 'workflow', now) : [];
    const applied = events.length > 0 ? await deps.runs.apply(run.run_id, events) : null;
    if (job) await recordOrchestratorRetries(deps.runs, run.run_id, job, 'workflow');
    const current = applied?.run ?? run;
    return done(current, isTerminal(current.status) ? 'stop' : 'continue');
  }

  if (!job) {
    const applied = await deps.runs.apply(run.run_id, {
      to: 'failed',
      at: now,
      source: 'workflow',
      error_message: 'The Batch job disappeared before it finished (it was deleted outside Arc Reactor).',
    });
    return done(applied ?? run, 'stop');
  }
  const events = eventsFromJob(job, 'workflow', now);
  const applied = events.length > 0 ? await deps.runs.apply(run.run_id, events) : null;
  await recordOrchestratorRetries(deps.runs, run.run_id, job, 'workflow');
  return done(applied ?? run, 'stop');
}

export const BatchEventAttributes = z.object({
  JobName: z.string().min(1),
  JobUID: z.string().optional(),
  NewJobState: z.string().optional(),
  Region: z.string().optional(),
});
export type BatchEventAttributes = z.infer<typeof BatchEventAttributes>;

export type EventOutcome =
  | { outcome: 'applied'; run_id: string; status: Run['status'] }
  | { outcome: 'ignored'; run_id?: string; reason: string };

/**
 * onBatchJobEvent: the notification is only a trigger. The job itself, read from Batch, is
 * the authority; its state goes through the state machine. Transient errors propagate.
 */
export async function handleBatchJobEvent(
  deps: ExecutionDeps,
  attributes: BatchEventAttributes,
): Promise<EventOutcome> {
  const jobId = attributes.JobName.split('/').at(-1)!;
  const runId = runIdFromBatchJobId(jobId);
  if (!runId) return { outcome: 'ignored', reason: `job ${attributes.JobName} is not an Arc Reactor run` };
  const run = await deps.runs.get(runId);
  if (!run) return { outcome: 'ignored', run_id: runId, reason: 'no such run' };
  const name = attributes.JobName.startsWith('projects/')
    ? attributes.JobName
    : batchJobName(deps.settings.project, attributes.Region ?? deps.settings.region, runId);
  const job = await deps.jobs.getJob(name);
  if (!job) return { outcome: 'ignored', run_id: runId, reason: `job ${name} no longer exists` };
  await recordOrchestratorRetries(deps.runs, runId, job, 'batch-event');
  const events = eventsFromJob(job, 'batch-event', deps.clock.now().toISOString());
  if (events.length === 0) {
    return { outcome: 'ignored', run_id: runId, reason: `job state ${job.status.state} changes nothing` };
  }
  const applied = await deps.runs.apply(runId, events);
  if (!applied) return { outcome: 'ignored', run_id: runId, reason: 'no such run' };
  return applied.applied
    ? { outcome: 'applied', run_id: runId, status: applied.run.status }
    : { outcome: 'ignored', run_id: runId, reason: `run is ${applied.run.status}` };
}

/** The storage.object.v1.finalized payload fields we use (generation and size arrive as strings). */
export const StorageObject = z.object({
  bucket: z.string(),
  name: z.string(),
  generation: z.string().regex(/^\d+$/),
  size: z.string().regex(/^\d+$/).optional(),
  contentType: z.string().optional(),
});
export type StorageObject = z.infer<typeof StorageObject>;

const EXIT_REPORT = new RegExp(`^runs/(${RUN_ID})/logs/exit\\.json$`);

const INGESTERS = [
  { pattern: LIVE_TRACE_CHUNK, ingest: ingestTraceChunk },
  { pattern: LIVE_LOG_CHUNK, ingest: ingestLogChunk },
  { pattern: FINAL_TRACE, ingest: ingestFinalTrace },
];

/**
 * onRunArtifact: live trace and log chunks update progress, the final trace.txt gives the
 * metrics, exit.json the orchestrator's verdict. Each object (name, generation) counts once.
 */
export async function handleRunArtifact(deps: ExecutionDeps, object: StorageObject): Promise<EventOutcome> {
  if (object.bucket !== deps.objects.bucket)
    return { outcome: 'ignored', reason: `bucket ${object.bucket} is not the runs bucket` };
  for (const { pattern, ingest } of INGESTERS) {
    const match = pattern.exec(object.name);
    if (!match) continue;
    const runId = match[1]!;
    const outcome = await ingest(
      { runs: deps.runs, objects: deps.objects, prices: deps.settings.prices },
      runId,
      object.name,
      object.generation,
    );
    if (outcome === 'missing') return { outcome: 'ignored', run_id: runId, reason: 'no such run' };
    return outcome === 'applied'
      ? { outcome: 'applied', run_id: runId, status: (await deps.runs.get(runId))?.status ?? 'pending' }
      : {
          outcome: 'ignored',
          run_id: runId,
          reason:
            outcome === 'duplicate'
              ? `${object.name}@${object.generation} was already counted`
              : 'nothing to change',
        };
  }
  const exit = EXIT_REPORT.exec(object.name);
  if (!exit) return { outcome: 'ignored', reason: `${object.name} is not an artifact this function reads` };
  const runId = exit[1]!;
  if (!(await deps.runs.get(runId))) return { outcome: 'ignored', run_id: runId, reason: 'no such run' };
  const content = await deps.objects.read(object.name);
  let report: ExitReport;
  try {
    report = ExitReport.parse(JSON.parse(content.toString('utf8')));
  } catch (error) {
    return {
      outcome: 'ignored',
      run_id: runId,
      reason: `malformed exit.json: ${String(error).slice(0, 200)}`,
    };
  }
  const event: RunEvent = {
    to: report.exit_code === 0 ? 'completed' : 'failed',
    at: report.finished_at,
    source: 'artifact',
    detail: `exit.json: Nextflow exited with ${report.exit_code}`,
    exit_code: report.exit_code,
    error_message: report.error_message,
    error_task: report.error_task,
    error_detail: report.error_detail,
  };
  const applied = await deps.runs.apply(runId, event);
  if (!applied) return { outcome: 'ignored', run_id: runId, reason: 'no such run' };
  return applied.applied
    ? { outcome: 'applied', run_id: runId, status: applied.run.status }
    : { outcome: 'ignored', run_id: runId, reason: `run is ${applied.run.status}` };
}
