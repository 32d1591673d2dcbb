import { computeMetrics, type SpotPrices } from './metrics';
import type { ObjectStore, OnceOutcome, RunStore } from './ports';
import { countLogLines, countTraceTasks, isEmptyDelta, traceCountDifferences } from './progress';
import { parseTrace } from './trace';

export const LIVE_TRACE_CHUNK = /^runs\/(run-[a-z0-9]{12})\/logs\/live\/trace\.(\d+)\.tsv$/;
export const LIVE_LOG_CHUNK = /^runs\/(run-[a-z0-9]{12})\/logs\/live\/nextflow\.(\d+)\.log$/;
export const FINAL_TRACE = /^runs\/(run-[a-z0-9]{12})\/logs\/trace\.txt$/;

const MAX_WARNINGS = 50;

export interface IngestDeps {
  runs: RunStore;
  objects: ObjectStore;
  prices: SpotPrices;
}

function chunkName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/**
 * A live trace chunk: its rows are added to the run's progress counters, once. Reads the
 * chunk only (work proportional to the chunk), writes once (no transaction, no read of the run).
 */
export async function ingestTraceChunk(
  deps: IngestDeps,
  runId: string,
  name: string,
  generation: string,
): Promise<OnceOutcome> {
  const parsed = parseTrace((await deps.objects.read(name)).toString('utf8'));
  const chunk = chunkName(name);
  return deps.runs.addProgressOnce(runId, `${chunk}@${generation}`, countTraceTasks(parsed.tasks), {
    malformedRows: parsed.malformed.length,
    warnings: parsed.malformed
      .slice(0, MAX_WARNINGS)
      .map((m) => `${chunk} line ${m.line} skipped: ${m.reason}`),
  });
}

/** A live nextflow.log chunk: its `Submitted process >` and `Cached process >` lines are counted, once. */
export async function ingestLogChunk(
  deps: IngestDeps,
  runId: string,
  name: string,
  generation: string,
): Promise<OnceOutcome> {
  const delta = countLogLines((await deps.objects.read(name)).toString('utf8'));
  if (isEmptyDelta(delta)) return 'unchanged';
  return deps.runs.addProgressOnce(runId, `${chunkName(name)}@${generation}`, delta, {
    malformedRows: 0,
    warnings: [],
  });
}

/**
 * The final logs/trace.txt: the run's metrics, whose task counts are then shown instead of
 * the live ones. The live counts are checked against it (differences are recorded). A newer
 * generation of the file recomputes; an older one arriving late changes nothing.
 */
export async function ingestFinalTrace(
  deps: IngestDeps,
  runId: string,
  name: string,
  generation: string,
): Promise<OnceOutcome> {
  const parsed = parseTrace((await deps.objects.read(name)).toString('utf8'));
  const final = countTraceTasks(parsed.tasks);
  const metrics = computeMetrics(parsed.tasks, deps.prices, generation);
  return deps.runs.applyOnce(runId, `trace.txt@${generation}`, (run) => {
    const previous = run.metrics?.trace_generation;
    if (previous && BigInt(generation) <= BigInt(previous)) return null;
    const differences = traceCountDifferences(run.progress, final);
    const warnings = parsed.malformed.map((m) => `trace.txt line ${m.line} skipped: ${m.reason}`);
    return {
      metrics,
      ingest: {
        ...run.ingest,
        trace_generation: generation,
        malformed_rows: parsed.malformed.length,
        warnings: [...(run.ingest.warnings ?? []), ...warnings].slice(-MAX_WARNINGS),
        ...(Object.keys(differences).length > 0 ? { progress_corrected: differences } : {}),
      },
    };
  });
}
