/**
 * "System busy": when Batch refuses a job for quota, or the platform is at its own limit of
 * concurrent jobs (MAX_CONCURRENT_JOBS), a run waits in the queue, says why, and is submitted
 * when capacity returns; past QUEUE_MAX_WAIT_SECONDS it fails, saying nothing ran.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../functions/core/runs/run-model';
import { request } from '../helpers/api-server';
import { runBody } from '../helpers/samplesheets';
import { getRun, isFinal, startTestStack, type TestStack, waitForRun } from '../helpers/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    replaySpeed: 1_000,
    env: { MAX_CONCURRENT_JOBS: '1', QUEUE_POLL_SECONDS: '0.25', QUEUE_MAX_WAIT_SECONDS: '2' },
  });
});
afterAll(async () => {
  stack?.batch.acceptCreates();
  await stack?.close();
});

async function launch(): Promise<Run> {
  const response = await request<Run>(`${stack.url}/api/runs`, { method: 'POST', json: runBody() });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

describe('waiting for Batch capacity', () => {
  it('queues a run past the platform limit, submits it when a job ends, and fails one that waits too long', async () => {
    const first = await launch();
    await waitForRun(stack, first.run_id, (run) => run.status === 'running');

    const second = await launch();
    const queued = await waitForRun(stack, second.run_id, (run) => run.queue !== null);
    expect(queued).toMatchObject({
      status: 'pending',
      queue: { kind: 'platform_limit', reason: expect.stringMatching(/^System busy: .*at most 1 Batch job/) },
    });
    expect(stack.batch.list().map((job) => job.name)).not.toContain(expect.stringContaining(second.run_id));

    // The first run ends (cancelled here): the second leaves the queue and runs.
    expect((await request(`${stack.url}/api/runs/${first.run_id}`, { method: 'DELETE' })).status).toBe(200);
    const started = await waitForRun(stack, second.run_id, (run) => run.status !== 'pending');
    expect(started.status).not.toBe('failed');
    expect(started.queue).toBeNull();

    // While the second runs, a third waits longer than the queue allows: it fails, saying why.
    const third = await launch();
    const failed = await waitForRun(stack, third.run_id, isFinal, 30_000);
    expect(failed).toMatchObject({
      status: 'failed',
      batch_job_name: null,
      error_message: expect.stringMatching(
        /^No Batch capacity came free while the run waited in the queue .*Nothing ran/,
      ),
    });
    await waitForRun(stack, second.run_id, isFinal);
  }, 90_000);

  it('queues a run whose job Batch refuses for quota, and submits it when Batch accepts again', async () => {
    stack.batch.refuseCreatesForQuota();
    const run = await launch();
    const queued = await waitForRun(stack, run.run_id, (r) => r.queue !== null, 40_000);
    expect(queued).toMatchObject({
      status: 'pending',
      queue: { kind: 'batch_quota', reason: expect.stringMatching(/^System busy: Google Batch refused/) },
    });
    const page = await request<{ runs: Run[] }>(`${stack.url}/api/runs`);
    expect(page.body.runs.find((r) => r.run_id === run.run_id)?.queue?.kind).toBe('batch_quota');

    stack.batch.acceptCreates();
    const done = await waitForRun(stack, run.run_id, isFinal, 60_000);
    expect(done.status).toBe('completed');
    expect((await getRun(stack, run.run_id)).queue).toBeNull();
  }, 120_000);
});
