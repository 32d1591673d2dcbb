import { accruedCost, computeMetrics, type SpotPrices } from '../nextflow/metrics';
import { type ParsedTrace, parseTrace, type TraceTask } from '../nextflow/trace';
import type { JobRunner } from '../shared/batch';
import { runPaths, taskIndexName } from '../shared/bucket-layout';
import type { ObjectStore } from '../shared/ports';
import { enforceBudget } from './budget';
import { chunkAttempt } from './orchestrator-attempts';
import type { BudgetState, OnceOutcome, RunStore } from './ports';
import {
  countLogLines,
  countTraceTasks,
  isEmptyDelta,
  liveProgress,
  traceCountDifferences,
} from './progress';
import type { ProgressDelta, Run } from './run-model';
import { SampleMatchers } from './sample-matchers';
import {
  buildTaskIndex,
  type ChunkPosition,
  chunkPosition,
  combineIndexes,
  encodeIndexes,
  groupBefore,
  ROLLUP_LEVELS,
  rollupMembers,
  rollupName,
  type TaskIndex,
} from './task-index';

const MAX_WARNINGS = 50;

export interface IngestDeps {
  runs: RunStore;
  objects: ObjectStore;
  prices: SpotPrices;
  /** Which samples each task is a sample's, and each run's budget (built from the run when not given). */
  samples?: SampleMatchers;
  /** Stops a run its budget cancels. */
  jobs?: Pick<JobRunner, 'cancelJob'>;
}

function chunkName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/**
 * The object as the event names it, at that generation: a name written again (an older
 * orchestrator that reused chunk names) is read as it was, never as its newer content, which
 * has an event of its own. Null when that generation is gone.
 */
async function readGeneration(deps: IngestDeps, name: string, generation: string): Promise<string | null> {
  const content = await deps.objects.readGeneration(name, generation);
  return content === null ? null : content.toString('utf8');
}

/**
 * Counts a chunk of orchestrator attempt `attempt` once. A chunk of a later attempt than the
 * run knows first raises the run's attempt (the progress shown is that attempt's, which its
 * -resume rebuilds with the earlier work as cached); a chunk of an earlier attempt still
 * counts in its own attempt's progress, which is no longer shown.
 */
async function countChunk(
  deps: IngestDeps,
  runId: string,
  name: string,
  generation: string,
  delta: ProgressDelta,
  problems: { malformedRows: number; warnings: string[] },
): Promise<OnceOutcome> {
  const attempt = chunkAttempt(name);
  if (attempt > 1) {
    const raised = await deps.runs.applyOnce(runId, `orchestrator-attempt-${attempt}`, (run) =>
      attempt > run.orchestrator_attempt ? { orchestrator_attempt: attempt } : null,
    );
    if (raised === 'missing') return 'missing';
  }
  return deps.runs.addProgressOnce(runId, `${chunkName(name)}@${generation}`, delta, problems, attempt);
}

type ChunkCount = { delta: ProgressDelta; problems: { malformedRows: number; warnings: string[] } };

/** A live chunk read at its event's generation, counted by `count` (null: nothing to add). */
async function ingestLiveChunk(
  deps: IngestDeps,
  runId: string,
  name: string,
  generation: string,
  count: (text: string) => ChunkCount | null | Promise<ChunkCount | null>,
): Promise<OnceOutcome> {
  const text = await readGeneration(deps, name, generation);
  const counted = text === null ? null : await count(text);
  if (counted === null) return 'unchanged';
  return countChunk(deps, runId, name, generation, counted.delta, counted.problems);
}

/**
 * Writes the trace's task index (runs/task-index.ts) beside the run: the same content for the
 * same generation, so a redelivered event writes it again harmlessly.
 */
async function writeTaskIndex(
  deps: IngestDeps,
  name: string,
  generation: string,
  text: string,
  parsed: ParsedTrace,
): Promise<void> {
  const index = buildTaskIndex(text, name, generation, parsed);
  if (index) await writeIndexes(deps, taskIndexName(name), [index]);
}

async function writeIndexes(deps: IngestDeps, name: string, indexes: TaskIndex[]): Promise<void> {
  const { content, metadata } = encodeIndexes(indexes);
  await deps.objects.write(name, content, INDEX_TYPE, metadata);
}

/** Index objects are JSON texts one after the other (task-index.ts): no JSON type fits. */
const INDEX_TYPE = 'application/octet-stream';

/**
 * The rollups a chunk's index completes (runs/task-index.ts), each from its members as
 * written: level 1 once its ten chunks are indexed, then level 2 once its ten level-1 rollups
 * are. Two ingests completing a group at once may both write it, with the same content, or,
 * each before seeing the other's index, neither: the sixth chunk of the next group checks the
 * group before and writes what is missing (until then readers read the chunks' indexes).
 */
async function writeRollups(deps: IngestDeps, name: string): Promise<void> {
  const position = chunkPosition(name);
  if (!position) return;
  await rollUp(deps, position, false);
  const before = groupBefore(position);
  if (before) await rollUp(deps, before, true);
}

/**
 * The rollups of the chunk at `position`, level by level. A rollup written after its newest
 * member needs nothing; unless `repair`, neither do the levels above it (they were checked
 * when it was written).
 */
async function rollUp(deps: IngestDeps, position: ChunkPosition, repair: boolean): Promise<void> {
  for (const level of ROLLUP_LEVELS) {
    const members = rollupMembers(position, level);
    const prefix = `${position.stem}${position.seq.slice(0, 6 - level)}`;
    const { objects: listed } = await deps.objects.list(prefix, 1_000);
    const present = new Map(listed.map((o) => [o.name, o]));
    if (!members.every((member) => present.has(member))) return;
    const written = present.get(rollupName(position, level))?.updated;
    if (written && members.every((member) => present.get(member)!.updated <= written)) {
      if (repair) continue;
      return;
    }
    // Each member at the generation listed (its metadata says where its sections are); one
    // rewritten since, or not an index, is left out: readers read its chunks' own indexes.
    const read = await Promise.all(
      members.map(async (member) => {
        const info = present.get(member)!;
        const content = await deps.objects.readGeneration(member, info.generation);
        return content ? [{ content, info }] : [];
      }),
    );
    const { content, metadata } = combineIndexes(read.flat());
    await deps.objects.write(rollupName(position, level), content, INDEX_TYPE, metadata);
  }
}

/**
 * A live trace chunk: its rows are added to the run's progress counters, once, and its task
 * index is written, with the rollups it completes. Reads the chunk only (work proportional to
 * the chunk), writes the run once (no transaction; no read of the run, except the budget fields
 * of a run that has a budget).
 */
export async function ingestTraceChunk(deps: IngestDeps, runId: string, name: string, generation: string) {
  const chunk = chunkName(name);
  const facts = deps.samples ?? new SampleMatchers(deps.runs);
  let cost = 0;
  // A run with a budget is read from the start, beside the chunk's own read and the index's
  // write (not after them): its accrued cost before this chunk is counted.
  const budgetRead = facts
    .budgetOf(runId)
    .then((budget) => (budget !== null ? deps.runs.budgetState(runId) : null));
  // Awaited before the chunk is counted (a failed read fails the chunk, which is then delivered
  // again); a chunk that is a duplicate never looks at it.
  budgetRead.catch(() => {});
  // Set inside the callback (TypeScript does not follow it there: read back with its type below).
  let before: BudgetState | null = null;
  const outcome = await ingestLiveChunk(deps, runId, name, generation, async (text) => {
    const parsed = parseTrace(text, { spans: true });
    const [matcher] = await Promise.all([
      facts.of(runId),
      writeTaskIndex(deps, name, generation, text, parsed),
    ]);
    await writeRollups(deps, name);
    before = await budgetRead;
    cost = accruedCost(parsed.tasks, deps.prices);
    return {
      delta: { ...countTraceTasks(parsed.tasks, matcher), cost_usd: cost },
      problems: {
        malformedRows: parsed.malformed.length,
        warnings: parsed.malformed
          .slice(0, MAX_WARNINGS)
          .map((m) => `${chunk} line ${m.line} skipped: ${m.reason}`),
      },
    };
  });
  const read = outcome === 'applied' && cost > 0 ? (before as BudgetState | null) : null;
  if (read)
    await enforceBudget(
      { runs: deps.runs, jobs: deps.jobs, now: () => new Date() },
      read,
      read.accrued_usd + cost,
    );
  return outcome;
}

/** A live nextflow.log chunk: its `Submitted process >` and `Cached process >` lines are counted, once. */
export function ingestLogChunk(deps: IngestDeps, runId: string, name: string, generation: string) {
  return ingestLiveChunk(deps, runId, name, generation, (text) => {
    const delta = countLogLines(text);
    return isEmptyDelta(delta) ? null : { delta, problems: { malformedRows: 0, warnings: [] } };
  });
}

/** At most this many live trace chunks are read for the earlier attempts of one run. */
const MAX_EARLIER_CHUNKS = 5_000;

/**
 * The tasks the run's earlier orchestrator attempts executed, from their live trace chunks
 * (`logs/live/trace.{attempt}-{seq}.tsv`; each chunk is a trace of its own): the last attempt's
 * final trace shows their work as CACHED, or not at all. Nothing to read for a run that was
 * never retried (one attempt): its chunks are the final trace's rows.
 */
async function earlierAttemptTasks(deps: IngestDeps, run: Run): Promise<TraceTask[]> {
  const runId = run.run_id;
  const last = run.orchestrator_attempt;
  if (last <= 1) return [];
  const { objects } = await deps.objects.list(
    runPaths(deps.objects.bucket, runId).liveTraceChunks,
    MAX_EARLIER_CHUNKS,
  );
  const tasks: TraceTask[] = [];
  for (const object of objects) {
    const attempt = chunkAttempt(object.name);
    if (attempt >= last) continue;
    const text = (await deps.objects.read(object.name)).toString('utf8');
    for (const task of parseTrace(text).tasks)
      if (task.status === 'COMPLETED' || task.status === 'FAILED' || task.status === 'ABORTED')
        tasks.push(task);
  }
  return tasks;
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
  const text = await readGeneration(deps, name, generation);
  if (text === null) return 'unchanged';
  const parsed = parseTrace(text, { spans: true });
  const [matcher] = await Promise.all([
    (deps.samples ?? new SampleMatchers(deps.runs)).of(runId),
    writeTaskIndex(deps, name, generation, text, parsed),
  ]);
  const final = countTraceTasks(parsed.tasks, matcher);
  const run = await deps.runs.get(runId);
  if (!run) return 'missing';
  // The first run of a chain has no other run to take a task from cache: its CACHED rows are its own earlier attempts' work.
  const metrics = computeMetrics(
    parsed.tasks,
    deps.prices,
    generation,
    await earlierAttemptTasks(deps, run),
    {
      ownCache: run.parent_run_id === null && run.orchestrator_attempt > 1,
    },
  );
  // The final trace is the last orchestrator attempt's: its sample counts replace the ones
  // counted live (a chunk late or lost, rows the live chunks never had).
  await deps.runs.setFinalSampleProgress(runId, run.orchestrator_attempt, generation, {
    samples: final.samples,
    whole_run: final.whole_run,
  });
  return deps.runs.applyOnce(runId, `trace.txt@${generation}`, (run) => {
    const previous = run.metrics?.trace_generation;
    if (previous && BigInt(generation) <= BigInt(previous)) return null;
    const differences = traceCountDifferences(liveProgress(run), final);
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
