/**
 * Nextflow runs on Batch, what is their own (the kernel, core/shared/kernel.ts, does the rest):
 * preparing a run's inputs and its orchestrator job, recording the orchestrator's retries, and
 * ingesting what the orchestrator writes to the bucket.
 */
import { z } from 'zod';
import type { Executor } from '../nextflow/executors';
import type { SpotPrices } from '../nextflow/metrics';
import { renderNextflowConfig, renderParamsYaml } from '../nextflow/nextflow-config';
import { ExitReport } from '../nextflow/nextflow-log';
import { renderSamplesheet } from '../nextflow/samplesheet';
import { type BatchJob, batchParent, type JobRunner } from '../shared/batch';
import {
  EXIT_REPORT,
  FINAL_TRACE,
  LIVE_LOG_CHUNK,
  LIVE_TRACE_CHUNK,
  runPaths,
} from '../shared/bucket-layout';
import { batchJobId } from '../shared/ids';
import { enqueue } from '../shared/kernel';
import type { RunEvent } from '../shared/lifecycle';
import type { Clock, ObjectStore } from '../shared/ports';
import type { EventOutcome, PreparedJob, QueuedJob } from '../shared/run-kind';
import { ingestFinalTrace, ingestLogChunk, ingestTraceChunk } from './artifact-ingest';
import { batchJobName, buildBatchJob, type OrchestratorSettings } from './batch-job';
import { retriesFromJob, retryDetail } from './orchestrator-attempts';
import type { RunStore } from './ports';
import type { Run } from './run-model';
import type { SampleMatchers } from './sample-matchers';

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
  clock: Clock;
  settings: ExecutionSettings;
  /** Kept across events: which samples a run's tasks are, and its budget (read once per run). */
  samples?: SampleMatchers;
  /** Stops a run's job when ingest cancels it for its budget. */
  jobs?: Pick<JobRunner, 'cancelJob'>;
}

export const PLATFORM_LIMIT_REASON = (limit: number) =>
  `System busy: the platform runs at most ${limit} Batch jobs at once, and that many are going. This run is queued and starts as soon as one of them ends.`;

/**
 * Workflow step 1 for a pending Nextflow run: renders its inputs into `runs/{id}/inputs/` and
 * returns the orchestrator job to create. At the platform's job limit it queues the run
 * instead (`queued: true`): the workflow waits and asks again.
 */
export async function prepareNextflowRun(deps: ExecutionDeps, run: Run): Promise<PreparedJob | QueuedJob> {
  const { settings } = deps;
  if (settings.maxConcurrentJobs > 0 && (await deps.runs.countActiveJobs()) >= settings.maxConcurrentJobs) {
    const reason = PLATFORM_LIMIT_REASON(settings.maxConcurrentJobs);
    await enqueue(deps.runs, run, 'platform_limit', reason, deps.clock.now().toISOString());
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
    job: buildBatchJob(run, deps.objects.bucket, settings.orchestrator),
  };
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

/** The storage.object.v1.finalized payload fields we use (generation and size arrive as strings). */
export const StorageObject = z.object({
  bucket: z.string(),
  name: z.string(),
  generation: z.string().regex(/^\d+$/),
  size: z.string().regex(/^\d+$/).optional(),
  contentType: z.string().optional(),
});
export type StorageObject = z.infer<typeof StorageObject>;

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
      {
        runs: deps.runs,
        objects: deps.objects,
        prices: deps.settings.prices,
        samples: deps.samples,
        jobs: deps.jobs,
      },
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
