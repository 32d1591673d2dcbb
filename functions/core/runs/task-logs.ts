import type { TraceTask } from '../nextflow/trace';
import { NotFoundError } from '../shared/errors';
import type { ObjectStore } from '../shared/ports';

export interface TaskLogs {
  stdout: string;
  stderr: string;
  /** True when only the end of a long output is returned. */
  truncated: boolean;
  source: 'work-dir' | 'cloud-logging';
  /** Where the logs were read from. */
  locations: string[];
}

/** Somewhere a task's stdout and stderr can be found; null when this source has none. */
export interface TaskLogSource {
  read(task: TraceTask): Promise<TaskLogs | null>;
}

/** How much of each stream is returned: the end of it, where errors are. */
export const TASK_LOG_TAIL_BYTES = 256 * 1024;

/**
 * The task's work dir (`.command.out`, `.command.err`): Nextflow copies them there for every
 * executor, so this works for finished tasks wherever they ran (while the work dir lasts).
 */
export class WorkDirTaskLogs implements TaskLogSource {
  constructor(private readonly objects: ObjectStore) {}

  async read(task: TraceTask): Promise<TaskLogs | null> {
    const prefix = `gs://${this.objects.bucket}/`;
    if (!task.workdir?.startsWith(prefix)) return null;
    const dir = task.workdir.slice(prefix.length).replace(/\/$/, '');
    const names = [`${dir}/.command.out`, `${dir}/.command.err`];
    const stats = await Promise.all(names.map((name) => this.objects.stat(name)));
    if (stats.every((s) => s === null)) return null;
    let truncated = false;
    const [stdout, stderr] = await Promise.all(
      stats.map(async (stat) => {
        if (!stat) return '';
        const start = Math.max(0, stat.size - TASK_LOG_TAIL_BYTES);
        if (start > 0) truncated = true;
        return (await this.objects.readRange(stat.name, start, stat.size)).toString('utf8');
      }),
    );
    return {
      stdout: stdout!,
      stderr: stderr!,
      truncated,
      source: 'work-dir',
      locations: names.map((n) => `gs://${this.objects.bucket}/${n}`),
    };
  }
}

/** Tries each source in turn; a 404 naming where it looked when none has the logs. */
export async function readTaskLogs(
  sources: TaskLogSource[],
  runId: string,
  task: TraceTask,
): Promise<TaskLogs> {
  for (const source of sources) {
    const logs = await source.read(task);
    if (logs) return logs;
  }
  const where = task.workdir
    ? `${task.workdir.replace(/\/$/, '')}/.command.out and .command.err`
    : 'a work dir (the trace has none for this task)';
  throw new NotFoundError(
    `No logs for task ${task.task_id} (${task.name}) of run ${runId}: looked for ${where}.`,
    { looked_for: where },
  );
}
