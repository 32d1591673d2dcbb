/**
 * A run's tasks, from the live trace chunks while it runs and from the final trace.txt
 * after. A page sorted by task id (the default) is chosen from the traces' task indexes
 * (task-index.ts, written at ingest) and reads only its own rows. Other sorts, and traces not
 * indexed yet, read the whole table: parsed traces are kept per function instance (keyed by
 * object generation), so paging, sorting and filtering a 100,000-task trace does not re-read
 * it; new live chunks are parsed as they appear, each once.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import { type NumericTaskField, parseTrace, type TraceTask } from '../nextflow/trace';
import { NotFoundError } from '../shared/errors';
import type { ObjectInfo, ObjectStore } from '../shared/ports';
import { chunkAttempt } from './orchestrator-attempts';
import type { Run } from './run-model';
import {
  chunkPosition,
  parseTaskIndex,
  parseTaskIndexRollup,
  ROLLUP_LEVELS,
  rollupName,
  selectRows,
  type TaskIndex,
  taskFromLine,
  taskIndexName,
  taskIndexPrefix,
} from './task-index';

export const NUMERIC_TASK_FIELDS = [
  'task_id',
  'exit',
  'cpus',
  'memory',
  'disk',
  'time',
  'attempt',
  'duration',
  'realtime',
  'queue',
  'cpu_percent',
  'mem_percent',
  'rss',
  'vmem',
  'peak_rss',
  'peak_vmem',
  'rchar',
  'wchar',
  'syscr',
  'syscw',
  'read_bytes',
  'write_bytes',
] as const satisfies readonly NumericTaskField[];

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
  final: { generation: string; tasks: TraceTask[] } | null;
  chunks: Map<string, TraceTask[]>;
  size: number;
}

const MAX_CACHED_TASKS = 400_000;
/** Trace chunks read at once for a run's first task page. */
const CHUNK_READS = 16;

export class TaskCatalog {
  private readonly runs = new Map<string, CachedRun>();
  private cachedTasks = 0;
  /** Bytes read from storage, for the benchmarks. */
  bytesRead = 0;

  private readonly indexes: TaskIndexes;

  constructor(private readonly objects: ObjectStore) {
    this.indexes = new TaskIndexes(objects);
  }

  private entry(runId: string): CachedRun {
    let entry = this.runs.get(runId);
    if (entry) {
      this.runs.delete(runId);
      this.runs.set(runId, entry);
      return entry;
    }
    entry = { final: null, chunks: new Map(), size: 0 };
    this.runs.set(runId, entry);
    return entry;
  }

  private remember(entry: CachedRun, added: number): void {
    entry.size += added;
    this.cachedTasks += added;
    for (const [runId, cached] of this.runs) {
      if (this.cachedTasks <= MAX_CACHED_TASKS || cached === entry) break;
      this.runs.delete(runId);
      this.cachedTasks -= cached.size;
    }
  }

  private async parse(name: string, size: number): Promise<TraceTask[]> {
    const text = await this.objects.read(name);
    this.bytesRead += size;
    return parseTrace(text.toString('utf8')).tasks;
  }

  /** The run's current traces: the final trace.txt, or else the latest attempt's live chunks. */
  private async traces(runId: string): Promise<{ source: 'final' | 'live'; traces: ObjectInfo[] }> {
    const final = await this.objects.stat(`runs/${runId}/logs/trace.txt`);
    if (final) return { source: 'final', traces: [final] };
    const { objects: listed } = await this.objects.list(`runs/${runId}/logs/live/trace.`, 100_000);
    // The latest orchestrator attempt's chunks only: its -resume reports the earlier attempt's
    // finished tasks again (CACHED), so they are the whole table (runs/orchestrator-attempts.ts).
    const latest = Math.max(1, ...listed.map((chunk) => chunkAttempt(chunk.name)));
    return { source: 'live', traces: listed.filter((chunk) => chunkAttempt(chunk.name) === latest) };
  }

  /**
   * A page of the run's tasks. Sorted by task id (the default), it is chosen from the traces'
   * task indexes and only its rows are read; otherwise, or while an index is missing, from
   * the whole table (tasks()).
   */
  async page(runId: string, query: TasksQuery): Promise<TaskPage> {
    const current = await this.traces(runId);
    if (query.sort === 'task_id') {
      const indexes = await this.indexes.of(runId, current.traces);
      const page = indexes && (await this.indexedPage(indexes, query));
      if (page) return { source: current.source, ...page };
    }
    const set = await this.table(runId, current);
    return { source: set.source, ...queryTasks(set.tasks, query) };
  }

  private async indexedPage(
    indexes: TaskIndex[],
    query: TasksQuery,
  ): Promise<{ tasks: TraceTask[]; total: number } | null> {
    const statuses = query.status ? new Set(query.status.toUpperCase().split(',')) : null;
    const rows = selectRows(indexes, { statuses, process: query.process }, query.order);
    const start = (query.page - 1) * query.page_size;
    const chosen = rows.slice(start, start + query.page_size);
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
    return { tasks: chosen.map(({ index, row }) => tasks.get(index)!.get(row)!), total: rows.length };
  }

  async tasks(runId: string): Promise<TaskSet> {
    return this.table(runId, await this.traces(runId));
  }

  /** The whole table of `traces`, parsed once per instance. */
  private async table(
    runId: string,
    { source, traces }: { source: 'final' | 'live'; traces: ObjectInfo[] },
  ): Promise<TaskSet> {
    const entry = this.entry(runId);
    if (source === 'final') {
      const final = traces[0]!;
      if (entry.final?.generation !== final.generation) {
        const tasks = await this.parse(final.name, final.size);
        entry.final = { generation: final.generation, tasks };
        this.remember(entry, tasks.length);
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
          const tasks = await this.parse(chunk.name, chunk.size);
          entry.chunks.set(key, tasks);
          this.remember(entry, tasks.length);
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
 * The task indexes of a run's current traces (task-index.ts), each object read once per
 * instance: the rollups first, then the chunks' own indexes for what no rollup holds at the
 * chunk's generation. Null when a trace has no usable index (ingest behind, a run from before
 * indexes, a stale or unreadable one): the caller reads the traces then.
 */
class TaskIndexes {
  private readonly cache = new Map<string, TaskIndex[]>();
  private cachedRows = 0;

  constructor(private readonly objects: ObjectStore) {}

  async of(runId: string, traces: ObjectInfo[]): Promise<TaskIndex[] | null> {
    const { objects: listed } = await this.objects.list(taskIndexPrefix(runId), 100_000);
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
        parseTaskIndexRollup,
      ))
        for (const index of indexes) if (current(index)) found.set(index.source, index);
    }
    const singles = missing().map((t) => stored.get(taskIndexName(t.name)));
    if (singles.includes(undefined)) return null;
    const read = await this.read(singles as ObjectInfo[], (text) => {
      const index = parseTaskIndex(text);
      return index ? [index] : [];
    });
    for (const index of read.flat()) if (current(index)) found.set(index.source, index);
    return missing().length === 0 ? traces.map((t) => found.get(t.name)!) : null;
  }

  /** Index objects, CHUNK_READS at a time, each parsed once per generation. */
  private async read(objects: ObjectInfo[], parse: (text: string) => TaskIndex[]): Promise<TaskIndex[][]> {
    const limit = pLimit(CHUNK_READS);
    return Promise.all(
      objects.map((object) =>
        limit(async () => {
          const key = `${object.name}@${object.generation}`;
          const cached = this.cache.get(key);
          if (cached) return cached;
          const text = await this.objects.read(object.name).catch(() => null);
          const indexes = text === null ? [] : parse(text.toString('utf8'));
          this.remember(key, indexes);
          return indexes;
        }),
      ),
    );
  }

  private remember(key: string, indexes: TaskIndex[]): void {
    this.cache.set(key, indexes);
    for (const index of indexes) this.cachedRows += index.task_id.length;
    for (const [oldest, cached] of this.cache) {
      if (this.cachedRows <= MAX_CACHED_TASKS) break;
      this.cache.delete(oldest);
      for (const index of cached) this.cachedRows -= index.task_id.length;
    }
  }
}

function shortName(process: string): string {
  return process.slice(process.lastIndexOf(':') + 1);
}

export interface TaskView extends Omit<TraceTask, 'workdir'> {
  work_dir: string | null;
  logs_url: string | null;
}

export function taskView(run: Pick<Run, 'run_id'>, task: TraceTask): TaskView {
  const { workdir, ...rest } = task;
  return {
    ...rest,
    work_dir: workdir,
    logs_url: task.task_id === null ? null : `/api/runs/${run.run_id}/tasks/${task.task_id}/logs`,
  };
}

/** Filters, sorts (nulls last) and pages tasks. */
export function queryTasks(tasks: TraceTask[], query: TasksQuery): { tasks: TraceTask[]; total: number } {
  const statuses = query.status ? new Set(query.status.toUpperCase().split(',')) : null;
  const process = query.process;
  const matching = tasks.filter(
    (task) =>
      (!statuses || (task.status !== null && statuses.has(task.status))) &&
      (!process ||
        task.process === process ||
        (task.process !== null && shortName(task.process) === process)),
  );
  const direction = query.order === 'asc' ? 1 : -1;
  const field = query.sort;
  const sorted = [...matching].sort((a, b) => {
    const x = a[field];
    const y = b[field];
    if (x === null && y === null) return (a.task_id ?? 0) - (b.task_id ?? 0);
    if (x === null) return 1;
    if (y === null) return -1;
    return (x - y) * direction || ((a.task_id ?? 0) - (b.task_id ?? 0)) * direction;
  });
  const start = (query.page - 1) * query.page_size;
  return { tasks: sorted.slice(start, start + query.page_size), total: matching.length };
}

/** One task by its trace task_id (the latest attempt row if the id repeats). */
export function findTask(runId: string, tasks: TraceTask[], taskId: string): TraceTask {
  const id = /^\d{1,9}$/.test(taskId) ? Number(taskId) : null;
  const task = id === null ? undefined : tasks.findLast((t) => t.task_id === id);
  if (!task) throw new NotFoundError(`Task ${taskId} is not in run ${runId}'s trace.`);
  return task;
}
