import type { Logging } from '@google-cloud/logging';
import type { TraceTask } from '../core/nextflow/trace';
import { TASK_LOG_TAIL_BYTES, type TaskLogSource, type TaskLogs } from '../core/runs/task-logs';
import type { JobRunner } from '../core/shared/batch';
import { missingCredentials } from './grpc-status';

const MAX_ENTRIES = 5_000;
const LOOKBACK_MS = 30 * 86_400_000;
const CLOCK_SKEW_MS = 3_600_000;

/**
 * A Google Batch task's output in Cloud Logging (log `batch_task_logs`, label `job_uid`):
 * the trace's native_id is the task's Batch job, whose uid selects its entries. Entries at
 * ERROR severity are the task's stderr, the rest its stdout. Works while the task runs.
 */
export class CloudLoggingTaskLogs implements TaskLogSource {
  constructor(
    private readonly logging: Logging,
    private readonly jobs: JobRunner,
    private readonly project: string,
    private readonly region: string,
  ) {}

  async read(task: TraceTask): Promise<TaskLogs | null> {
    if (!task.native_id || !/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(task.native_id)) return null;
    const job = await this.jobs.getJob(
      `projects/${this.project}/locations/${this.region}/jobs/${task.native_id}`,
    );
    if (!job?.uid) return null;
    // Without a timestamp term the client library only looks at the last 24 hours.
    const since = new Date(
      (task.submit ? Date.parse(task.submit) : Date.now() - LOOKBACK_MS) - CLOCK_SKEW_MS,
    ).toISOString();
    const missing = await missingCredentials(this.logging);
    if (missing) throw new Error(`Cloud Logging entries.list failed: ${missing}`);
    const filter = `logName="projects/${this.project}/logs/batch_task_logs" AND labels.job_uid="${job.uid}" AND timestamp>="${since}"`;
    const [entries] = await this.logging.getEntries({
      filter,
      orderBy: 'timestamp asc',
      pageSize: MAX_ENTRIES,
      autoPaginate: false,
      resourceNames: [`projects/${this.project}`],
    });
    if (entries.length === 0) return null;
    const stdout: string[] = [];
    const stderr: string[] = [];
    for (const entry of entries) {
      const severity = String(entry.metadata.severity ?? 'DEFAULT');
      const text = typeof entry.data === 'string' ? entry.data : JSON.stringify(entry.data);
      (['ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY'].includes(severity) ? stderr : stdout).push(text);
    }
    const tail = (lines: string[]) => {
      const text = lines.join('\n');
      return text.length > TASK_LOG_TAIL_BYTES ? text.slice(-TASK_LOG_TAIL_BYTES) : text;
    };
    return {
      stdout: tail(stdout),
      stderr: tail(stderr),
      truncated:
        entries.length >= MAX_ENTRIES ||
        stdout.join('\n').length > TASK_LOG_TAIL_BYTES ||
        stderr.join('\n').length > TASK_LOG_TAIL_BYTES,
      source: 'cloud-logging',
      locations: [`Cloud Logging: ${filter}`],
    };
  }
}
