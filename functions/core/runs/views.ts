/**
 * Shapes the API answers and the page reads, defined once: the routes describe them in the
 * OpenAPI document, the core returns their types, and the page imports the types (`import
 * type`, so no zod reaches its bundle).
 */
import { z } from 'zod';
import { failedTaskExitCode } from '../nextflow/exit-codes';
import { progressView } from './progress';
import type { Run, RunView } from './run-model';
import type { TaskView } from './run-tasks';
import type { TaskLogs } from './task-logs';

export const LogEntry = z.object({
  offset: z.number().describe('byte offset of the entry in the log: a cursor for the entries after it'),
  timestamp: z.string().describe('as written: Mar-25 09:38:50.568 (Nextflow omits the year)'),
  time: z.string().nullable().describe('ISO 8601, the year taken from the run'),
  thread: z.string(),
  level: z.string(),
  logger: z.string(),
  message: z.string().describe('the message, continuation lines folded in (joined with newlines)'),
});
export type LogEntry = z.infer<typeof LogEntry>;

export const LogPage = z.object({
  source: z.enum(['final', 'live']),
  entries: z.array(LogEntry),
  offset: z.number().describe('offset of the first entry returned'),
  next_offset: z.number().describe('where the next page starts'),
  size: z.number().describe('size of the log in bytes, now'),
});
export type LogPage = z.infer<typeof LogPage>;

export const RunFile = z.object({
  path: z.string().describe('relative to the run: results/multiqc/multiqc_report.html'),
  name: z.string(),
  size: z.number(),
  updated: z.string(),
  content_type: z.string().nullable(),
  download_url: z.string().describe('an API link that answers with a short-lived signed URL (302)'),
});
export type RunFile = z.infer<typeof RunFile>;

export const RunFiles = z.object({
  inputs: z.array(RunFile),
  results: z.array(RunFile),
  logs: z.array(RunFile),
  live_chunks: z.number().describe('live log chunks are not listed, only counted'),
  truncated: z.boolean().describe('the run has more files than are listed'),
});
export type RunFiles = z.infer<typeof RunFiles>;

/**
 * A run as the API shows it: progress with running and total_known derived, and without
 * `recovery_run_ids`, which the store keeps so that reading a run needs no query for its
 * recoveries: GET /api/runs/{id} answers them as `recoveries`.
 */
export function runView<T extends Run>(run: T): Omit<T, 'recovery_run_ids'> & RunView {
  const { recovery_run_ids: _, ...shown } = run;
  return {
    ...shown,
    progress: progressView(run),
    failed_task_exit_code: failedTaskExitCode(run.error_detail),
  };
}

/** GET /api/runs/{id}/tasks: a page of the run's tasks. */
export interface TaskPageView {
  run_id: string;
  source: 'final' | 'live';
  total: number;
  page: number;
  page_size: number;
  tasks: TaskView[];
}

/** GET /api/runs/{id}/tasks/{task_id}/logs: the end of one task's stdout and stderr, and where they were read. */
export type TaskLogsView = Pick<TaskView, 'task_id' | 'name' | 'status' | 'exit'> & TaskLogs;
