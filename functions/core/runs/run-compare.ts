/**
 * GET /api/runs/compare?a=&b=: two runs side by side, as a lab compares this week's run with
 * last week's or a recovery with its parent: what was asked (pipeline, params, config,
 * samplesheet, Nextflow), what it cost per process, what finished, and which result files one
 * has and the other does not. Both runs must be the caller's (or the caller an admin).
 */
import { z } from 'zod';
import { getPipelineVersion } from '../nextflow/pipelines/registry';
import { sampleIdColumn } from '../nextflow/sample-attribution';
import { rowsBySample } from '../nextflow/samplesheet';
import { runPaths } from '../shared/bucket-layout';
import type { Caller } from '../shared/caller';
import { NotFoundError, ValidationError } from '../shared/errors';
import type { ObjectStore } from '../shared/ports';
import type { RunStore } from './ports';
import { locateRunLog, readLogRange } from './run-logs';
import { type Run, RunId } from './run-model';
import { getAccessibleRun } from './run-service';

export const CompareQuery = z.strictObject({
  a: RunId.describe('the run to compare from (e.g. last week’s, or the parent)'),
  b: RunId.describe('the run to compare with'),
});
export type CompareQuery = z.infer<typeof CompareQuery>;

const Side = z.object({
  run_id: z.string(),
  name: z.string().nullable(),
  status: z.string(),
  pipeline: z.string(),
  pipeline_version: z.string(),
  nextflow_version: z.string().nullable().describe('from its nextflow.log; null when the log does not say'),
  created_at: z.string(),
  wall_ms: z.number().nullable(),
  cpu_hours: z.number().nullable(),
  cost_usd: z.number().nullable(),
  tasks: z
    .object({ completed: z.number(), cached: z.number(), failed: z.number(), aborted: z.number() })
    .nullable()
    .describe('from the final trace; null while the run has none'),
  error_task: z.string().nullable(),
  exit_code: z.number().nullable(),
});

/** One run's side of a process row: its tasks by how they ended, and their CPU-hours. */
const ProcessSide = z.object({
  completed: z.number(),
  cached: z.number(),
  failed: z.number(),
  cpu_hours: z.number(),
  mean_realtime_ms: z.number().nullable(),
});

const Change = z.object({ name: z.string(), a: z.unknown(), b: z.unknown() });

export const RunComparison = z.object({
  a: Side,
  b: Side,
  same_pipeline: z.boolean(),
  params: z.object({
    changed: z.array(Change).describe('params set in both, to different values'),
    only_a: z.array(Change),
    only_b: z.array(Change),
    same: z.number().int(),
  }),
  config: z.object({
    same: z.boolean(),
    only_a: z.array(z.string()).describe('lines of the extra config only the first run has'),
    only_b: z.array(z.string()),
  }),
  samplesheet: z.object({
    id_column: z.string().nullable(),
    added: z.array(z.string()).describe('samples only the second run has'),
    removed: z.array(z.string()).describe('samples only the first run has'),
    changed: z.array(z.string()).describe('samples in both whose rows differ'),
    same: z.number().int(),
  }),
  processes: z.array(
    z.object({
      process: z.string(),
      a: ProcessSide.nullable(),
      b: ProcessSide.nullable(),
      cpu_hours_delta: z.number().describe('b − a, CPU-hours'),
    }),
  ),
  results: z.object({
    only_a: z.array(z.string()).describe('result files (relative to results/) only the first run has'),
    only_b: z.array(z.string()),
    both: z.number().int(),
    truncated: z.boolean().describe('a run has more result files than were compared (5,000)'),
  }),
  basis: z.string(),
});
export type RunComparison = z.infer<typeof RunComparison>;

export interface CompareDeps {
  runs: RunStore;
  objects: ObjectStore;
}

const MAX_RESULTS = 5_000;
const MAX_LISTED = 500;
/** The head of nextflow.log read for the version line (it is among the first lines). */
const LOG_HEAD_BYTES = 16 * 1024;
const NEXTFLOW_VERSION = /N E X T F L O W\s+~\s+version\s+(\S+)/;

async function nextflowVersion(objects: ObjectStore, runId: string): Promise<string | null> {
  const log = await locateRunLog(objects, runId);
  if (log.size === 0) return null;
  const head = await readLogRange(objects, log, 0, Math.min(log.size, LOG_HEAD_BYTES));
  return NEXTFLOW_VERSION.exec(head.toString('utf8'))?.[1] ?? null;
}

async function samplesheetOf(objects: ObjectStore, runId: string): Promise<string | null> {
  try {
    return (await objects.read(runPaths(objects.bucket, runId).requestSamplesheet)).toString('utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 404) return null;
    throw error;
  }
}

async function resultFiles(
  objects: ObjectStore,
  runId: string,
): Promise<{ files: Set<string>; truncated: boolean }> {
  const prefix = runPaths(objects.bucket, runId).results;
  const { objects: listed, truncated } = await objects.list(prefix, MAX_RESULTS);
  return { files: new Set(listed.map((o) => o.name.slice(prefix.length))), truncated: Boolean(truncated) };
}

function side(run: Run, nextflow: string | null): z.infer<typeof Side> {
  const m = run.metrics;
  return {
    run_id: run.run_id,
    name: run.name,
    status: run.status,
    pipeline: run.pipeline,
    pipeline_version: run.pipeline_version,
    nextflow_version: nextflow,
    created_at: run.created_at,
    wall_ms: m?.wall_ms ?? null,
    cpu_hours: m?.cpu_hours ?? null,
    cost_usd: m?.cost.estimate ?? null,
    tasks: m
      ? {
          completed: m.tasks.completed,
          cached: m.tasks.cached,
          failed: m.tasks.failed,
          aborted: m.tasks.aborted,
        }
      : null,
    error_task: run.error_task,
    exit_code: run.exit_code,
  };
}

const PLATFORM = new Set(['input', 'outdir']);

function diffParams(a: Record<string, unknown>, b: Record<string, unknown>) {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((n) => !PLATFORM.has(n)).sort();
  const changed: z.infer<typeof Change>[] = [];
  const onlyA: z.infer<typeof Change>[] = [];
  const onlyB: z.infer<typeof Change>[] = [];
  let same = 0;
  for (const name of names) {
    if (!(name in b)) onlyA.push({ name, a: a[name], b: null });
    else if (!(name in a)) onlyB.push({ name, a: null, b: b[name] });
    else if (JSON.stringify(a[name]) !== JSON.stringify(b[name]))
      changed.push({ name, a: a[name], b: b[name] });
    else same++;
  }
  return { changed, only_a: onlyA, only_b: onlyB, same };
}

function diffLines(a: string, b: string) {
  const lines = (text: string) =>
    text
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l.trim() !== '');
  const left = lines(a);
  const right = lines(b);
  const inRight = new Set(right);
  const inLeft = new Set(left);
  return {
    same: left.join('\n') === right.join('\n'),
    only_a: left.filter((l) => !inRight.has(l)).slice(0, MAX_LISTED),
    only_b: right.filter((l) => !inLeft.has(l)).slice(0, MAX_LISTED),
  };
}

function idColumnOf(run: Run): string | null {
  try {
    return sampleIdColumn(getPipelineVersion(run.pipeline, run.pipeline_version).release.inputSchema);
  } catch (error) {
    if (error instanceof NotFoundError) return 'sample';
    throw error;
  }
}

function diffSamples(a: string | null, b: string | null, idColumn: string | null) {
  const left = a === null ? new Map() : rowsBySample(a, idColumn);
  const right = b === null ? new Map() : rowsBySample(b, idColumn);
  const added = [...right.keys()].filter((id) => !left.has(id));
  const removed = [...left.keys()].filter((id) => !right.has(id));
  const both = [...left.keys()].filter((id) => right.has(id));
  const changed = both.filter((id) => JSON.stringify(left.get(id)) !== JSON.stringify(right.get(id)));
  return {
    id_column: idColumn,
    added: added.slice(0, MAX_LISTED),
    removed: removed.slice(0, MAX_LISTED),
    changed: changed.slice(0, MAX_LISTED),
    same: both.length - changed.length,
  };
}

function processRows(a: Run, b: Run) {
  const of = (run: Run) => new Map((run.metrics?.processes ?? []).map((p) => [p.process, p]));
  const left = of(a);
  const right = of(b);
  const view = (p: ReturnType<typeof of> extends Map<string, infer P> ? P | undefined : never) =>
    p
      ? {
          completed: p.completed,
          cached: p.cached,
          failed: p.failed,
          cpu_hours: p.cpu_hours,
          mean_realtime_ms: p.mean_realtime_ms,
        }
      : null;
  return [...new Set([...left.keys(), ...right.keys()])].sort().map((process) => {
    const pa = left.get(process);
    const pb = right.get(process);
    return {
      process,
      a: view(pa),
      b: view(pb),
      cpu_hours_delta: Math.round(((pb?.cpu_hours ?? 0) - (pa?.cpu_hours ?? 0)) * 10_000) / 10_000,
    };
  });
}

/** Compares two of the caller's runs (a 404 for either that is not theirs, as for one that does not exist). */
export async function compareRuns(
  deps: CompareDeps,
  caller: Caller,
  query: CompareQuery,
): Promise<RunComparison> {
  if (query.a === query.b)
    throw new ValidationError('Give two different runs to compare (a and b are the same run).', [
      { field: 'b', rule: 'different', message: 'the same run as a' },
    ]);
  const [a, b] = await Promise.all([
    getAccessibleRun(deps, caller, query.a),
    getAccessibleRun(deps, caller, query.b),
  ]);
  const [nfA, nfB, sheetA, sheetB, resultsA, resultsB] = await Promise.all([
    nextflowVersion(deps.objects, a.run_id),
    nextflowVersion(deps.objects, b.run_id),
    samplesheetOf(deps.objects, a.run_id),
    samplesheetOf(deps.objects, b.run_id),
    resultFiles(deps.objects, a.run_id),
    resultFiles(deps.objects, b.run_id),
  ]);
  const onlyA = [...resultsA.files].filter((f) => !resultsB.files.has(f)).sort();
  const onlyB = [...resultsB.files].filter((f) => !resultsA.files.has(f)).sort();
  return {
    a: side(a, nfA),
    b: side(b, nfB),
    same_pipeline: a.pipeline === b.pipeline && a.pipeline_version === b.pipeline_version,
    params: diffParams(a.params, b.params),
    config: diffLines(a.config_content, b.config_content),
    samplesheet: diffSamples(sheetA, sheetB, idColumnOf(b)),
    processes: processRows(a, b),
    results: {
      only_a: onlyA.slice(0, MAX_LISTED),
      only_b: onlyB.slice(0, MAX_LISTED),
      both: resultsA.files.size - onlyA.length,
      truncated: resultsA.truncated || resultsB.truncated,
    },
    basis:
      "Per process: the final trace's counts and CPU-hours (CPUs × run time) of each run; a run still going has none yet. A recovery counts only what it ran (cached tasks are not costed again). Samplesheets are compared by sample id, rows as stored; params without the platform's input and outdir.",
  };
}
