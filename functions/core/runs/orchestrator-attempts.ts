/**
 * Batch retries the orchestrator task when its VM is preempted or lost (max_retry_count 2).
 * Each attempt is a new `nextflow run -resume <session>`: it re-reports the tasks finished
 * before as CACHED and numbers its chunks afresh. So each attempt writes chunks of its own
 * (`logs/live/trace.{attempt}-{seq}.tsv`), counts into progress of its own, and the run shows
 * the latest attempt's: a retry never double-counts, and late chunks of an earlier attempt
 * change nothing that is shown.
 */

import { SPOT_PREEMPTION_EXIT_CODE } from '../nextflow/exit-codes';
import type { BatchJob } from '../shared/batch';
import { LIVE_LOG_CHUNK, LIVE_TRACE_CHUNK } from '../shared/bucket-layout';

/** The orchestrator attempt (1-based) that wrote a live chunk. */
export function chunkAttempt(name: string): number {
  const match = LIVE_TRACE_CHUNK.exec(name) ?? LIVE_LOG_CHUNK.exec(name);
  return match?.[2] ? Number(match[2]) : 1;
}

/** Where an attempt's counters are stored on the run document. */
export function progressPath(attempt: number): string[] {
  return attempt <= 1 ? ['progress'] : ['attempt_progress', String(attempt)];
}

const ENDED: Record<number, string> = {
  [SPOT_PREEMPTION_EXIT_CODE]: 'the Spot VM was preempted (exit 50001)',
  50002: 'the VM stopped reporting to Batch (exit 50002)',
  50003: 'the VM was rebooted (exit 50003)',
  50004: 'the task stopped responding (exit 50004)',
  50006: 'the VM was recreated (exit 50006)',
  137: 'the orchestrator was killed (exit 137)',
  143: 'the orchestrator was stopped (exit 143)',
};

export function attemptEndReason(exitCode: number | null): string {
  if (exitCode === null) return 'its task failed without an exit code';
  return ENDED[exitCode] ?? `its task exited with code ${exitCode}`;
}

export interface OrchestratorRetry {
  /** The attempt Batch started. */
  attempt: number;
  /** When the previous attempt ended. */
  at: string;
  exit_code: number | null;
  reason: string;
}

/**
 * The retries a job's history records: every task failure Batch answered with another
 * attempt (a task FAILED event, except the last one of a job that failed for good).
 */
export function retriesFromJob(job: BatchJob): OrchestratorRetry[] {
  const failures = job.status.statusEvents.filter(
    (event) =>
      event.taskState === 'FAILED' ||
      /^Task state is updated from \w+ to FAILED/.test(event.description ?? ''),
  );
  const retried = job.status.state === 'FAILED' ? failures.slice(0, -1) : failures;
  return retried.map((event, index) => {
    const exitCode = event.taskExecution?.exitCode ?? null;
    return {
      attempt: index + 2,
      at: event.eventTime ?? job.updateTime ?? '',
      exit_code: exitCode,
      reason: attemptEndReason(exitCode),
    };
  });
}

export function retryDetail(retry: OrchestratorRetry): string {
  return `Batch retried the orchestrator: attempt ${retry.attempt} started because attempt ${retry.attempt - 1} ended: ${retry.reason}. Progress now counts attempt ${retry.attempt}, which resumes the run: work already done shows as cached.`;
}
