/**
 * GET /api/runs/{id}/samples: a run as a lab thinks of it, sample by sample. The counters come
 * from the run document, kept per sample as trace chunks are ingested (progress.ts
 * `countTraceTasks`), so a 200-sample run costs one document read, one read of its stored
 * samplesheet and one listing of its results, whatever its number of tasks.
 */
import { z } from 'zod';
import { getPipelineVersion } from '../nextflow/pipelines/registry';
import { sampleIdColumn, sampleMatcher } from '../nextflow/sample-attribution';
import { rowsBySample } from '../nextflow/samplesheet';
import { runPaths } from '../shared/bucket-layout';
import { NotFoundError } from '../shared/errors';
import type { ObjectStore } from '../shared/ports';
import { isTerminal } from '../shared/run-status';
import type { RunStore } from './ports';
import { shownAttempt } from './progress';
import { type SampleProgress, zeroSampleCounters } from './run-document';
import { FailedTaskRef, type Run, type SampleCounters } from './run-model';
import type { TaskCatalog } from './run-tasks';
import { readTaskLogs, type TaskLogSource } from './task-logs';

export const SampleStatus = ['waiting', 'running', 'done', 'failed', 'stopped'] as const;
export type SampleStatus = (typeof SampleStatus)[number];

const TaskCounts = z.object({
  completed: z.number().int(),
  cached: z.number().int(),
  failed: z.number().int().describe('failed attempts, retried ones included'),
  retried: z.number().int().describe('failed attempts Nextflow tried again'),
  aborted: z.number().int(),
});

const SampleFile = z.object({ path: z.string(), size: z.number() });

export const SampleView = z.object({
  sample: z.string(),
  rows: z.array(z.record(z.string(), z.string())).describe("the sample's samplesheet rows, as stored"),
  status: z
    .enum(SampleStatus)
    .describe(
      'waiting: no task yet; running: tasks seen while the run goes on; done: the run completed and none of its tasks failed for good; failed: one of its tasks failed for good; stopped: the run ended (failed or cancelled) before it completed, though none of its own tasks failed',
    ),
  tasks: TaskCounts,
  progress: z
    .number()
    .min(0)
    .max(1)
    .describe(
      "tasks done (completed + cached) over the most any sample of the run has done: the pipeline's per-sample steps are not known before they run, so 1 means as far as the furthest sample; 1 once the run completed",
    ),
  cpu_hours: z
    .number()
    .describe("Σ cpus × run time of the sample's tasks, h (a task of several samples split evenly)"),
  cost_share_usd: z
    .number()
    .nullable()
    .describe(
      "the run's cost estimate × this sample's share of its CPU-hours; null until the run's metrics exist",
    ),
  failed_task: FailedTaskRef.extend({
    log_tail: z
      .array(z.string())
      .nullable()
      .describe(
        'the last lines of its stderr (else stdout), with include=log_tail for the first 10 failed samples; null otherwise, or when its logs could not be read',
      ),
  }).nullable(),
  results: z.array(SampleFile).describe('result files whose path names the sample (first 50)'),
  results_total: z.number().int(),
});
export type SampleView = z.infer<typeof SampleView>;

export const RunSamplesView = z.object({
  run_id: z.string(),
  status: z.string(),
  id_column: z
    .string()
    .nullable()
    .describe('the samplesheet column that names a sample (null: one sample a line)'),
  samples: z.array(SampleView),
  whole_run: z
    .object({ tasks: TaskCounts, cpu_hours: z.number(), cost_share_usd: z.number().nullable() })
    .describe('tasks that name no sample: genome indexes, MultiQC, version reports'),
  unlisted_samples: z
    .number()
    .int()
    .describe('samples beyond the 500 a run records: their tasks count as whole-run tasks'),
  basis: z.string().describe('how tasks were given to samples and how the cost share was computed'),
});
export type RunSamplesView = z.infer<typeof RunSamplesView>;

export interface RunSamplesDeps {
  runs: Pick<RunStore, 'sampleProgress'>;
  objects: ObjectStore;
  tasks: Pick<TaskCatalog, 'tasksById'>;
  taskLogs: TaskLogSource[];
}

export const RunSamplesQuery = z.strictObject({
  include: z
    .enum(['log_tail'])
    .optional()
    .describe(
      "log_tail: the last lines of each failed sample's failing task (the first 10), read from its work dir",
    ),
});
export type RunSamplesQuery = z.infer<typeof RunSamplesQuery>;

/** Failed samples whose failing task's log tail is read for one answer (each is two reads). */
const MAX_LOG_TAILS = 10;
const LOG_TAIL_LINES = 8;
const MAX_RESULTS_LISTED = 5_000;
const RESULTS_A_SAMPLE = 50;
const HOUR_MS = 3_600_000;

export const SAMPLES_BASIS =
  "A task belongs to the samples its tag names as whole words (STAR_ALIGN (PBMC_1) is PBMC_1's; PBMC_1_T2 and PBMC_1-L002 are too; tumour_vs_normal is both tumour's and normal's; a longer id wins over one it contains); a task naming no sample is a whole-run step. Counts are the run's live ones, of the orchestrator attempt whose progress is shown. A sample's cost is the run's estimate × its share of the run's CPU-hours.";

function counts(c: SampleCounters): z.infer<typeof TaskCounts> {
  return {
    completed: c.completed,
    cached: c.cached,
    failed: c.failed,
    retried: c.retried,
    aborted: c.aborted,
  };
}

const failedForGood = (c: SampleCounters) => c.failed - c.retried > 0;

/** The sample counters the run shows: those of the orchestrator attempt whose progress is shown. */
function shownSampleProgress(runs: Pick<RunStore, 'sampleProgress'>, run: Run): Promise<SampleProgress> {
  return runs.sampleProgress(run.run_id, shownAttempt(run));
}

/** The run's samples one of whose tasks failed for good (not retried), in samplesheet order. */
export async function samplesThatFailed(runs: Pick<RunStore, 'sampleProgress'>, run: Run): Promise<string[]> {
  const { samples: counters } = await shownSampleProgress(runs, run);
  const ids = [...new Set([...run.samples, ...Object.keys(counters)])];
  return ids.filter((id) => counters[id] && failedForGood(counters[id]));
}

function sampleStatus(run: Run, c: SampleCounters): SampleStatus {
  if (failedForGood(c)) return 'failed';
  if (run.status === 'completed') return 'done';
  if (isTerminal(run.status)) return 'stopped';
  return c.completed + c.cached + c.failed + c.aborted > 0 ? 'running' : 'waiting';
}

function lastLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '')
    .slice(-LOG_TAIL_LINES);
}

/** The last lines of each task's stderr (else stdout), by task id; a task whose logs are gone is left out. */
async function logTails(deps: RunSamplesDeps, run: Run, taskIds: number[]): Promise<Map<number, string[]>> {
  const tails = new Map<number, string[]>();
  if (taskIds.length === 0) return tails;
  const tasks = await deps.tasks.tasksById(run.run_id, taskIds);
  await Promise.all(
    [...tasks].map(async ([id, task]) => {
      try {
        const logs = await readTaskLogs(deps.taskLogs, run.run_id, task);
        const lines = lastLines(logs.stderr);
        tails.set(id, lines.length > 0 ? lines : lastLines(logs.stdout));
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
    }),
  );
  return tails;
}

/** The run's samples, each with its rows, status, counts, CPU-hours, cost share, failure and results. */
export async function runSamples(
  deps: RunSamplesDeps,
  run: Run,
  query: RunSamplesQuery = {},
): Promise<RunSamplesView> {
  const paths = runPaths(deps.objects.bucket, run.run_id);
  let idColumn: string | null = 'sample';
  try {
    idColumn = sampleIdColumn(getPipelineVersion(run.pipeline, run.pipeline_version).release.inputSchema);
  } catch (error) {
    // A version no longer offered: its runs are still read, with nf-core's usual column.
    if (!(error instanceof NotFoundError)) throw error;
  }
  const [sheet, listed, progress] = await Promise.all([
    deps.objects
      .read(paths.requestSamplesheet)
      .then((content) => rowsBySample(content.toString('utf8'), idColumn))
      .catch((error: { code?: unknown }) => {
        if (error.code === 404) return new Map<string, Record<string, string>[]>();
        throw error;
      }),
    deps.objects.list(paths.results, MAX_RESULTS_LISTED),
    shownSampleProgress(deps.runs, run),
  ]);

  const counters = progress.samples;
  const ids = [...new Set([...run.samples, ...Object.keys(counters)])];
  const cpuMs = (c: SampleCounters) => c.cpu_ms;
  const wholeRun = progress.whole_run;
  const totalCpuMs = Object.values(counters).reduce((sum, c) => sum + cpuMs(c), cpuMs(wholeRun));
  const cost = run.metrics?.cost.estimate ?? null;
  const share = (ms: number) =>
    cost === null ? null : totalCpuMs === 0 ? 0 : Math.round(((cost * ms) / totalCpuMs) * 10_000) / 10_000;
  const hours = (ms: number) => Math.round((ms / HOUR_MS) * 10_000) / 10_000;

  const matcher = sampleMatcher(ids);
  const results = new Map<string, { path: string; size: number }[]>();
  const prefix = `${runPaths(deps.objects.bucket, run.run_id).prefix}/`;
  for (const object of listed.objects) {
    const path = object.name.slice(prefix.length);
    for (const sample of matcher(path.slice('results/'.length))) {
      const files = results.get(sample) ?? [];
      files.push({ path, size: object.size });
      results.set(sample, files);
    }
  }

  const mostDone = Math.max(
    0,
    ...ids.map((id) => (counters[id]?.completed ?? 0) + (counters[id]?.cached ?? 0)),
  );
  const statuses = new Map(ids.map((id) => [id, sampleStatus(run, counters[id] ?? zeroSampleCounters())]));
  const failing = ids.flatMap((id) => {
    const taskId = statuses.get(id) === 'failed' ? counters[id]?.failed_task?.task_id : null;
    return typeof taskId === 'number' ? [taskId] : [];
  });
  const tails =
    query.include === 'log_tail'
      ? await logTails(deps, run, failing.slice(0, MAX_LOG_TAILS))
      : new Map<number, string[]>();
  const samples = ids.map((id): SampleView => {
    const c = counters[id] ?? zeroSampleCounters();
    const status = statuses.get(id)!;
    const failed = status === 'failed' && c.failed_task ? c.failed_task : null;
    const done = c.completed + c.cached;
    const files = results.get(id) ?? [];
    return {
      sample: id,
      rows: sheet.get(id) ?? [],
      status,
      tasks: counts(c),
      progress: run.status === 'completed' ? 1 : mostDone === 0 ? 0 : done / mostDone,
      cpu_hours: hours(cpuMs(c)),
      cost_share_usd: share(cpuMs(c)),
      failed_task: failed && {
        ...failed,
        log_tail: failed.task_id === null ? null : (tails.get(failed.task_id) ?? null),
      },
      results: files.slice(0, RESULTS_A_SAMPLE),
      results_total: files.length,
    };
  });
  return {
    run_id: run.run_id,
    status: run.status,
    id_column: idColumn,
    samples,
    whole_run: {
      tasks: counts(wholeRun),
      cpu_hours: hours(cpuMs(wholeRun)),
      cost_share_usd: share(cpuMs(wholeRun)),
    },
    unlisted_samples: Math.max(0, run.sample_count - run.samples.length),
    basis: SAMPLES_BASIS,
  };
}
