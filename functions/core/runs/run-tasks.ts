/**
 * A run's tasks, from the live trace chunks while it runs and from the final trace.txt
 * after. A page (any sort, any filter) and one task by id are chosen from the traces' task
 * indexes (task-index.ts, written at ingest) and read only their own rows. Traces not indexed
 * yet, and the whole list (the assistant's search by name), read the whole table: one run's
 * parsed traces are kept per function instance (keyed by object generation), so paging a
 * 100,000-task trace without its index does not re-read it; new live chunks are parsed as
 * they appear, each once.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import { NUMERIC_TASK_FIELDS, type NumericTaskField, parseTrace, type TraceTask } from '../nextflow/trace';
import { runPaths, taskIndexName } from '../shared/bucket-layout';
import { NotFoundError } from '../shared/errors';
import type { ObjectInfo, ObjectStore } from '../shared/ports';
import { chunkAttempt } from './orchestrator-attempts';
import type { Run } from './run-model';
import {
  chunkPosition,
  compareTasks,
  findRow,
  type IndexedRow,
  indexSections,
  parseBaseSection,
  parseValueSection,
  processMatches,
  ROLLUP_LEVELS,
  rollupName,
  type SectionName,
  selectRows,
  statusMatches,
  type TaskIndex,
  type TaskIndexBase,
  taskFilter,
  taskFromLine,
} from './task-index';

export const TasksQuery = z.strictObject({
  status: z
    .string()
    .max(100)
    .regex(/^[A-Za-z_]+(,[A-Za-z_]+)*$/, 'a status or a comma-separated list, e.g. FAILED,ABORTED')
    .optional()
    .describe('COMPLETED, CACHED, FAILED, ABORTED, …; several separated by commas'),
  process: z
    .string()
    .min(1)
    .max(500)
    .optional()
    .describe('a process name, full (NFCORE_X:Y:STAR_ALIGN) or short (STAR_ALIGN)'),
  sort: z.enum(NUMERIC_TASK_FIELDS).default('task_id').describe('any numeric field'),
  order: z.enum(['asc', 'desc']).default('asc'),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  page_size: z.coerce.number().int().min(1).max(500).default(100),
});
export type TasksQuery = z.infer<typeof TasksQuery>;

export interface TaskSet {
  source: 'final' | 'live';
  tasks: TraceTask[];
}

interface CachedRun {
  runId: string;
  final: { generation: string; tasks: TraceTask[] } | null;
  chunks: Map<string, TraceTask[]>;
}

/**
 * Values of task indexes kept per instance, across runs: a row's base is 5 (id, status,
 * process, byte span), a numeric field 1 more; about 8 bytes each.
 */
const MAX_CACHED_VALUES = 4_000_000;
/** Trace chunks read at once for a run's first task page. */
const CHUNK_READS = 16;

export class TaskCatalog {
  /** The one run whose whole table is kept: another run's replaces it. */
  private cached: CachedRun | null = null;
  /** Bytes read from storage, for the benchmarks. */
  bytesRead = 0;

  private readonly indexes: TaskIndexes;

  constructor(private readonly objects: ObjectStore) {
    this.indexes = new TaskIndexes(objects);
  }

  private entry(runId: string): CachedRun {
    if (this.cached?.runId !== runId) this.cached = { runId, final: null, chunks: new Map() };
    return this.cached;
  }

  private async parse(name: string, size: number): Promise<TraceTask[]> {
    const text = await this.objects.read(name);
    this.bytesRead += size;
    return parseTrace(text.toString('utf8')).tasks;
  }

  /** The run's current traces: the final trace.txt, or else the latest attempt's live chunks. */
  private async traces(runId: string): Promise<{ source: 'final' | 'live'; traces: ObjectInfo[] }> {
    // Both at once: on Cloud Storage each is a round trip of tens of milliseconds.
    const [final, { objects: listed }] = await Promise.all([
      this.objects.stat(runPaths(this.objects.bucket, runId).finalTrace),
      this.objects.list(runPaths(this.objects.bucket, runId).liveTraceChunks, 100_000),
    ]);
    if (final) return { source: 'final', traces: [final] };
    // The latest orchestrator attempt's chunks only: its -resume reports the earlier attempt's
    // finished tasks again (CACHED), so they are the whole table (runs/orchestrator-attempts.ts).
    const latest = Math.max(1, ...listed.map((chunk) => chunkAttempt(chunk.name)));
    return { source: 'live', traces: listed.filter((chunk) => chunkAttempt(chunk.name) === latest) };
  }

  /** The run's current traces and its index objects, listed at once. */
  private async tracesAndIndexes(runId: string) {
    const [current, { objects: indexed }] = await Promise.all([
      this.traces(runId),
      this.objects.list(runPaths(this.objects.bucket, runId).taskIndexes, 100_000),
    ]);
    return { current, indexed };
  }

  /**
   * A page of the run's tasks, chosen from the traces' task indexes, reading only its rows;
   * while an index is missing (or the trace changed under it), from the whole table.
   */
  async page(runId: string, query: TasksQuery): Promise<TaskPage> {
    const { current, indexed } = await this.tracesAndIndexes(runId);
    const indexes = await this.indexes.of(indexed, current.traces, query.sort);
    if (indexes) {
      const rows = selectRows(indexes, taskFilter(query), { field: query.sort, order: query.order });
      const start = (query.page - 1) * query.page_size;
      const tasks = await this.readRows(rows.slice(start, start + query.page_size));
      if (tasks) return { source: current.source, tasks, total: rows.length };
    }
    const set = await this.table(runId, current);
    return { source: set.source, ...queryTasks(set.tasks, query) };
  }

  /** One task by its trace task_id (the latest attempt row if the id repeats), as findTask finds it. */
  async task(runId: string, taskId: string): Promise<TraceTask> {
    const id = taskIdOf(taskId);
    if (id === null) throw taskNotFound(runId, taskId);
    const { current, indexed } = await this.tracesAndIndexes(runId);
    const indexes = await this.indexes.of(indexed, current.traces, 'task_id');
    if (indexes) {
      const found = findRow(indexes, id);
      if (!found) throw taskNotFound(runId, taskId);
      const tasks = await this.readRows([found]);
      if (tasks) return tasks[0]!;
    }
    return findTask(runId, (await this.table(runId, current)).tasks, taskId);
  }

  /** Several tasks by id at once (one listing, one index read, one ranged read a trace): those found. */
  async tasksById(runId: string, taskIds: number[]): Promise<Map<number, TraceTask>> {
    const { current, indexed } = await this.tracesAndIndexes(runId);
    const indexes = await this.indexes.of(indexed, current.traces, 'task_id');
    if (indexes) {
      const found = taskIds.flatMap((id) => {
        const row = findRow(indexes, id);
        return row ? [{ id, row }] : [];
      });
      const tasks = await this.readRows(found.map((f) => f.row));
      if (tasks) return new Map(found.map((f, i) => [f.id, tasks[i]!]));
    }
    const wanted = new Set(taskIds);
    const byId = new Map<number, TraceTask>();
    for (const task of (await this.table(runId, current)).tasks)
      if (task.task_id !== null && wanted.has(task.task_id)) byId.set(task.task_id, task);
    return byId;
  }

  /** The tasks of `chosen`, in its order, read by range; null when a trace changed under its index. */
  private async readRows(chosen: IndexedRow[]): Promise<TraceTask[] | null> {
    // Rows of one trace close together are read in one range.
    const ranges: { index: TaskIndex; from: number; to: number; rows: number[] }[] = [];
    for (const { index, row } of [...chosen].sort(
      (a, b) => a.index.source.localeCompare(b.index.source) || a.index.start[a.row]! - b.index.start[b.row]!,
    )) {
      const last = ranges.at(-1);
      if (last && last.index === index && index.start[row]! - last.to <= COALESCE_BYTES) {
        last.to = Math.max(last.to, index.end[row]!);
        last.rows.push(row);
      } else ranges.push({ index, from: index.start[row]!, to: index.end[row]!, rows: [row] });
    }
    const tasks = new Map<TaskIndex, Map<number, TraceTask>>();
    const limit = pLimit(CHUNK_READS);
    const read = await Promise.all(
      ranges.map((range) =>
        limit(async () => {
          const bytes = await this.objects.readRange(range.index.source, range.from, range.to);
          this.bytesRead += bytes.length;
          const found = tasks.get(range.index) ?? new Map<number, TraceTask>();
          tasks.set(range.index, found);
          for (const row of range.rows) {
            const line = bytes
              .subarray(range.index.start[row]! - range.from, range.index.end[row]! - range.from)
              .toString('utf8');
            const task = taskFromLine(range.index, row, line);
            if (!task) return false;
            found.set(row, task);
          }
          return true;
        }),
      ),
    );
    // A trace that changed under its index: the whole table answers instead.
    if (read.includes(false)) return null;
    return chosen.map(({ index, row }) => tasks.get(index)!.get(row)!);
  }

  async tasks(runId: string): Promise<TaskSet> {
    return this.table(runId, await this.traces(runId));
  }

  /** Runs whose task outcomes are kept (the parents of the recoveries being looked at). */
  private readonly outcomesCache = new Map<string, Map<string, TaskOutcome>>();

  /**
   * How each task of the run ended, by name (its last attempt): what a recovery's tasks are
   * compared with. Kept apart from the one run whose table is kept, so reading a recovery's
   * pages does not evict it; kept per trace generation, so a run still going is read again.
   */
  async outcomes(runId: string): Promise<Map<string, TaskOutcome>> {
    const current = await this.traces(runId);
    const key = `${runId}|${current.traces.map((t) => `${t.name}@${t.generation}`).join('|')}`;
    const known = this.outcomesCache.get(key);
    if (known) return known;
    const outcomes = new Map<string, TaskOutcome>();
    for (const trace of current.traces)
      for (const task of await this.parse(trace.name, trace.size))
        if (task.name) outcomes.set(task.name, { status: task.status, hash: task.hash, exit: task.exit });
    if (this.outcomesCache.size >= 8) this.outcomesCache.delete(this.outcomesCache.keys().next().value!);
    this.outcomesCache.set(key, outcomes);
    return outcomes;
  }

  /** The whole table of `traces`, parsed once per instance (for the last run asked about). */
  private async table(
    runId: string,
    { source, traces }: { source: 'final' | 'live'; traces: ObjectInfo[] },
  ): Promise<TaskSet> {
    const entry = this.entry(runId);
    if (source === 'final') {
      const final = traces[0]!;
      if (entry.final?.generation !== final.generation) {
        entry.final = { generation: final.generation, tasks: await this.parse(final.name, final.size) };
      }
      return { source, tasks: entry.final.tasks };
    }
    // The chunks not read yet, CHUNK_READS at a time (a long run has hundreds: one by one, the
    // first page waited for each read in turn); the table keeps the chunks' order.
    const limit = pLimit(CHUNK_READS);
    await Promise.all(
      traces.map((chunk) =>
        limit(async () => {
          const key = `${chunk.name}@${chunk.generation}`;
          if (entry.chunks.has(key)) return;
          entry.chunks.set(key, await this.parse(chunk.name, chunk.size));
        }),
      ),
    );
    return {
      source,
      tasks: traces.flatMap((chunk) => entry.chunks.get(`${chunk.name}@${chunk.generation}`) ?? []),
    };
  }
}

/** Bytes between two of a page's rows in one trace below which they are read in one range. */
const COALESCE_BYTES = 64 * 1024;

/** A page of tasks and how many match. */
export interface TaskPage {
  source: 'final' | 'live';
  tasks: TraceTask[];
  total: number;
}

/**
 * The task indexes of a run's current traces (task-index.ts), with the numeric field a page is
 * sorted by: the rollups first, then the chunks' own indexes for what no rollup holds at the
 * chunk's generation. Each object's sections are read by range, at the generation listed, once
 * per instance. Null when a trace has no usable index (ingest behind, a run from before
 * indexes, a stale or unreadable one): the caller reads the traces then.
 */
class TaskIndexes {
  private readonly cache = new Map<string, CachedIndexes>();
  private cachedValues = 0;

  constructor(private readonly objects: ObjectStore) {}

  /** `listed`: the run's index objects (under taskIndexPrefix), as listed with their metadata. */
  async of(listed: ObjectInfo[], traces: ObjectInfo[], field: NumericTaskField): Promise<TaskIndex[] | null> {
    const stored = new Map(listed.map((o) => [o.name, o]));
    const found = new Map<string, TaskIndex>();
    const generations = new Map(traces.map((t) => [t.name, t.generation]));
    const current = (index: TaskIndex) => generations.get(index.source) === index.generation;
    const missing = () => traces.filter((t) => !found.has(t.name));
    // Largest rollups first: each level reads only what the levels above did not hold.
    for (const level of [...ROLLUP_LEVELS].reverse()) {
      const names = new Set(
        missing().flatMap((t) => {
          const position = chunkPosition(t.name);
          const name = position && rollupName(position, level);
          return name && stored.has(name) ? [name] : [];
        }),
      );
      for (const indexes of await this.read(
        [...names].map((n) => stored.get(n)!),
        field,
      ))
        for (const index of indexes ?? []) if (current(index)) found.set(index.source, index);
    }
    const singles = missing().map((t) => stored.get(taskIndexName(t.name)));
    if (singles.includes(undefined)) return null;
    const read = await this.read(singles as ObjectInfo[], field);
    for (const index of read.flat()) if (index && current(index)) found.set(index.source, index);
    return missing().length === 0 ? traces.map((t) => found.get(t.name)!) : null;
  }

  /** Index objects, CHUNK_READS at a time, each with `field`'s columns; null for one that is not an index. */
  private async read(objects: ObjectInfo[], field: NumericTaskField): Promise<(TaskIndex[] | null)[]> {
    const limit = pLimit(CHUNK_READS);
    return Promise.all(objects.map((object) => limit(() => this.load(object, field))));
  }

  private async load(object: ObjectInfo, field: NumericTaskField): Promise<TaskIndex[] | null> {
    const sections = indexSections(object);
    if (!sections) return null;
    const key = `${object.name}@${object.generation}`;
    // A generation gone (rewritten since it was listed) is no index, kept as such under its
    // key; any other failure (Cloud Storage down) fails the request and is not remembered.
    const section = async (name: SectionName) => {
      const [from, to] = sections.get(name)!;
      try {
        return (await this.objects.readRange(object.name, from, to, object.generation)).toString('utf8');
      } catch (error) {
        if (error instanceof NotFoundError) return null;
        throw error;
      }
    };
    // The base and the field's section (when not read yet) at once.
    const cached = this.cache.get(key);
    const wanted = field !== 'task_id' && sections.has(field) && !cached?.columns.has(field) ? field : null;
    const [baseText, fieldText] = await Promise.all([
      cached ? null : section('base'),
      wanted ? section(wanted) : null,
    ]);
    const entry: CachedIndexes = cached ?? {
      bases: baseText === null ? null : parseBaseSection(baseText),
      columns: new Map(),
      values: 0,
    };
    if (!cached) this.remember(key, entry, entry.bases ? 5 * rowsOf(entry.bases) : 0);
    if (!entry.bases) return null;
    const bases = entry.bases;
    if (wanted) {
      const columns = fieldText === null ? null : parseValueSection(fieldText, bases);
      entry.columns.set(wanted, columns);
      this.remember(key, entry, columns ? rowsOf(bases) : 0);
    }
    if (field === 'task_id' || !sections.has(field)) return bases.map((base) => ({ ...base, values: {} }));
    const columns = entry.columns.get(field);
    return columns
      ? bases.map((base, i) => ({ ...base, values: columns[i] ? { [field]: columns[i] } : {} }))
      : null;
  }

  private remember(key: string, entry: CachedIndexes, added: number): void {
    const previous = this.cache.get(key);
    entry.values += added;
    if (previous === entry) this.cachedValues += added;
    else {
      // New, evicted since, or read twice at once: this entry replaces whatever was there.
      this.cachedValues += entry.values - (previous?.values ?? 0);
      this.cache.set(key, entry);
    }
    for (const [oldest, cached] of this.cache) {
      if (this.cachedValues <= MAX_CACHED_VALUES) break;
      this.cache.delete(oldest);
      this.cachedValues -= cached.values;
    }
  }
}

/** An index object as read: its bases (null: not an index) and the numeric columns read so far. */
interface CachedIndexes {
  bases: TaskIndexBase[] | null;
  columns: Map<SectionName, ((number | null)[] | null)[] | null>;
  values: number;
}

const rowsOf = (bases: TaskIndexBase[]) => bases.reduce((sum, base) => sum + base.task_id.length, 0);

/** How a task of a run ended: what a recovery's task of the same name is compared with. */
export interface TaskOutcome {
  status: string | null;
  hash: string | null;
  exit: number | null;
}

export interface TaskView extends Omit<TraceTask, 'workdir'> {
  work_dir: string | null;
  logs_url: string | null;
  /** A recovery's task that ran (not CACHED): why it ran again; null otherwise. */
  reason: string | null;
}

/**
 * Why a recovery's task ran instead of coming back CACHED, from the task of the same name in
 * the run it recovers (`parent`: that run's outcomes). Null for a task reused, or a run that
 * recovers nothing.
 */
export function rerunReason(
  run: Pick<Run, 'is_recovery' | 'reused_work_dir' | 'parent_run_id'>,
  task: TraceTask,
  parent: Map<string, TaskOutcome> | null,
): string | null {
  if (!run.is_recovery || !parent || task.status === 'CACHED' || !task.name) return null;
  if (!run.reused_work_dir) return 'the recovery started afresh, in a new work dir: every task runs';
  const before = parent.get(task.name);
  if (!before) return `new: ${run.parent_run_id} never reached it (or its samples or params differ)`;
  if (before.status === 'FAILED')
    return `it failed in ${run.parent_run_id}${before.exit === null ? '' : ` (exit ${before.exit})`}`;
  if (before.status === 'ABORTED') return `it was stopped when ${run.parent_run_id} ended`;
  if (before.status !== 'COMPLETED' && before.status !== 'CACHED')
    return `it had not finished in ${run.parent_run_id} (${before.status ?? 'no status'})`;
  if (before.hash && task.hash && before.hash !== task.hash)
    return `its hash changed (${before.hash} → ${task.hash}): its inputs, script or a param its script uses changed`;
  return `it finished in ${run.parent_run_id} but its work dir or cache entry was gone`;
}

export function taskView(
  run: Pick<Run, 'run_id' | 'is_recovery' | 'reused_work_dir' | 'parent_run_id'>,
  task: TraceTask,
  parent: Map<string, TaskOutcome> | null = null,
): TaskView {
  const { workdir, ...rest } = task;
  return {
    ...rest,
    work_dir: workdir,
    logs_url: task.task_id === null ? null : `/api/runs/${run.run_id}/tasks/${task.task_id}/logs`,
    reason: rerunReason(run, task, parent),
  };
}

/** Filters, sorts (nulls last) and pages tasks. */
export function queryTasks(tasks: TraceTask[], query: TasksQuery): { tasks: TraceTask[]; total: number } {
  const filter = taskFilter(query);
  const matching = tasks.filter(
    (task) => statusMatches(filter, task.status) && processMatches(filter, task.process),
  );
  const direction = query.order === 'asc' ? 1 : -1;
  const field = query.sort;
  const sorted = [...matching].sort((a, b) =>
    compareTasks(a[field], b[field], a.task_id, b.task_id, direction),
  );
  const start = (query.page - 1) * query.page_size;
  return { tasks: sorted.slice(start, start + query.page_size), total: matching.length };
}

/** One task by its trace task_id (the latest attempt row if the id repeats). */
function findTask(runId: string, tasks: TraceTask[], taskId: string): TraceTask {
  const id = taskIdOf(taskId);
  const task = id === null ? undefined : tasks.findLast((t) => t.task_id === id);
  if (!task) throw taskNotFound(runId, taskId);
  return task;
}

const taskIdOf = (taskId: string) => (/^\d{1,9}$/.test(taskId) ? Number(taskId) : null);
const taskNotFound = (runId: string, taskId: string) =>
  new NotFoundError(`Task ${taskId} is not in run ${runId}'s trace.`);
