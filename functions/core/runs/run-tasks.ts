/**
 * A run's tasks, from the live trace chunks while it runs and from the final trace.txt
 * after. Parsed traces are kept per function instance (keyed by object generation), so
 * paging, sorting and filtering a 100,000-task trace does not re-read it; new live chunks are
 * parsed as they appear, each once.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import { type NumericTaskField, parseTrace, type TraceTask } from '../nextflow/trace';
import { NotFoundError } from '../shared/errors';
import type { ObjectStore } from '../shared/ports';
import { chunkAttempt } from './orchestrator-attempts';
import type { Run } from './run-model';

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

  constructor(private readonly objects: ObjectStore) {}

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

  async tasks(runId: string): Promise<TaskSet> {
    const entry = this.entry(runId);
    const final = await this.objects.stat(`runs/${runId}/logs/trace.txt`);
    if (final) {
      if (entry.final?.generation !== final.generation) {
        const tasks = await this.parse(final.name, final.size);
        entry.final = { generation: final.generation, tasks };
        this.remember(entry, tasks.length);
      }
      return { source: 'final', tasks: entry.final.tasks };
    }
    const { objects: listed } = await this.objects.list(`runs/${runId}/logs/live/trace.`, 100_000);
    // The latest orchestrator attempt's chunks only: its -resume reports the earlier attempt's
    // finished tasks again (CACHED), so they are the whole table (runs/orchestrator-attempts.ts).
    const latest = Math.max(1, ...listed.map((chunk) => chunkAttempt(chunk.name)));
    const chunks = listed.filter((chunk) => chunkAttempt(chunk.name) === latest);
    // The chunks not read yet, CHUNK_READS at a time (a long run has hundreds: one by one, the
    // first page waited for each read in turn); the table keeps the chunks' order.
    const limit = pLimit(CHUNK_READS);
    await Promise.all(
      chunks.map((chunk) =>
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
      source: 'live',
      tasks: chunks.flatMap((chunk) => entry.chunks.get(`${chunk.name}@${chunk.generation}`) ?? []),
    };
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
