import { describe, expect, it } from 'vitest';
import { chunkAttempt, retriesFromJob } from '../../../functions/core/runs/orchestrator-attempts';
import { liveProgress, progressView } from '../../../functions/core/runs/progress';
import { emptyProgress } from '../../../functions/core/runs/run-model';
import { BatchJob } from '../../../functions/core/shared/batch';
import { liveChunkName } from '../../../functions/core/shared/bucket-layout';
import { eventsFromJob } from '../../../functions/core/shared/lifecycle';

const NAME = 'projects/p/locations/us-central1/jobs/nf-run-abc123def456';

function job(state: string, events: Record<string, unknown>[]) {
  return BatchJob.parse({ name: NAME, status: { state, statusEvents: events } });
}

const running = {
  description: `Job state is set from SCHEDULED to RUNNING for job ${NAME}.`,
  eventTime: '2026-11-27T10:00:00Z',
};
const preempted = {
  type: 'TASK_STATE_CHANGED',
  description:
    'Task state is updated from RUNNING to FAILED on zones/us-central1-a/instances/123 with exit code 50001.',
  eventTime: '2026-11-27T10:05:00Z',
  taskState: 'FAILED',
  taskExecution: { exitCode: 50001 },
};

describe('orchestrator attempts', () => {
  it('reads the attempt from a chunk name; names written before attempts existed are attempt 1', () => {
    expect(chunkAttempt(`runs/run-abc123def456/logs/${liveChunkName('trace', 2, 7)}`)).toBe(2);
    expect(chunkAttempt(`runs/run-abc123def456/logs/${liveChunkName('nextflow', 3, 1)}`)).toBe(3);
    expect(chunkAttempt('runs/run-abc123def456/logs/live/trace.000004.tsv')).toBe(1);
  });

  it('a task failure Batch retried leaves the run running, and is read as a retry with its reason', () => {
    const retried = job('RUNNING', [running, preempted]);
    expect(eventsFromJob(retried, 'batch-event', '2026-11-27T10:06:00Z').map((e) => e.to)).toEqual([
      'running',
    ]);
    expect(retriesFromJob(retried)).toEqual([
      {
        attempt: 2,
        at: '2026-11-27T10:05:00Z',
        exit_code: 50001,
        reason: 'the Spot VM was preempted (exit 50001)',
      },
    ]);
  });

  it('job-level events still count as the job history when the gRPC client fills taskState with STATE_UNSPECIFIED', () => {
    const done = job('SUCCEEDED', [
      { ...running, taskState: 'STATE_UNSPECIFIED' },
      {
        description: `Job state is set from RUNNING to SUCCEEDED for job ${NAME}.`,
        eventTime: '2026-11-27T10:09:00Z',
        taskState: 'STATE_UNSPECIFIED',
      },
    ]);
    expect(eventsFromJob(done, 'sweeper', '2026-11-27T10:10:00Z').map((e) => [e.to, e.at])).toEqual([
      ['running', '2026-11-27T10:00:00Z'],
      ['completed', '2026-11-27T10:09:00Z'],
    ]);
  });

  it('the last task failure of a job that failed for good is not a retry', () => {
    const failedForGood = job('FAILED', [
      running,
      preempted,
      { ...preempted, eventTime: '2026-11-27T10:09:00Z', taskExecution: { exitCode: 1 } },
      {
        description: `Job state is set from RUNNING to FAILED for job ${NAME}.`,
        eventTime: '2026-11-27T10:09:01Z',
      },
    ]);
    expect(retriesFromJob(failedForGood).map((r) => r.attempt)).toEqual([2]);
    expect(eventsFromJob(failedForGood, 'batch-event', '2026-11-27T10:10:00Z').at(-1)).toMatchObject({
      to: 'failed',
    });
  });

  it("shows the current attempt's counters: attempt 1 in progress, later ones apart", () => {
    const first = { ...emptyProgress(), submitted: 10, completed: 9 };
    const second = { ...emptyProgress(), submitted: 2, cached: 9, announced: 9, completed: 1 };
    const run = { progress: first, orchestrator_attempt: 2, attempt_progress: { '2': second } };
    expect(liveProgress(run)).toBe(second);
    expect(liveProgress({ ...run, orchestrator_attempt: 1 })).toBe(first);
    expect(liveProgress({ ...run, orchestrator_attempt: 3 })).toEqual(emptyProgress());
    expect(progressView({ ...run, status: 'running', metrics: null })).toMatchObject({
      submitted: 2,
      cached: 9,
      running: 1,
      total_known: 11,
    });
  });

  it('never shows fewer finished tasks while a retried attempt catches up', () => {
    // Attempt 1 finished 8 of 11 and had 1 running when its VM went; attempt 2 re-reports
    // the 8 as cached over its first seconds, then goes on.
    const first = { ...emptyProgress(), submitted: 9, completed: 8, processes: {} };
    const states = [
      { ...emptyProgress() },
      { ...emptyProgress(), announced: 8 },
      { ...emptyProgress(), announced: 8, cached: 5, submitted: 1 },
      { ...emptyProgress(), announced: 8, cached: 8, submitted: 1 },
      { ...emptyProgress(), announced: 8, cached: 8, submitted: 2, completed: 1 },
    ];
    const shown = states.map((second) =>
      progressView({
        progress: first,
        orchestrator_attempt: 2,
        attempt_progress: { '2': second },
        status: 'running',
        metrics: null,
      }),
    );
    const finished = shown.map((p) => p.completed + p.cached);
    expect(finished).toEqual([8, 8, 8, 8, 9]);
    for (const [i, n] of finished.entries()) if (i > 0) expect(n).toBeGreaterThanOrEqual(finished[i - 1]!);
    // While it catches up, what runs is the new attempt's (nothing, then its one task).
    expect(shown.map((p) => p.running)).toEqual([0, 0, 1, 1, 1]);
    expect(shown.at(-1)!.total_known).toBe(10);
  });
});
