/**
 * A HAYSTACK run's status changes reach its owner like a pipeline run's, through the one
 * kernel: a run that completes, one whose model job fails, one whose agent is killed and one
 * cancelled mid-inference each put exactly one `running` and one final event on
 * `arc-run-events`, the owner's webhook gets them signed, once each, and none of the run's
 * Batch jobs is left going. The cancelled one has no results.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcsObjectStore } from '../../functions/adapters/gcs-object-store';
import { type HaystackRun, newHaystackRun } from '../../functions/core/haystack/run-model';
import { UNPUBLISHED_AFTER_MS } from '../../functions/core/shared/kernel';
import type { RunStatusCloudEvent } from '../../functions/core/shared/run-events';
import { isTerminal } from '../../functions/core/shared/run-status';
import { createFirestore, createStorage } from '../../functions/deps';
import { createHaystackRunStore } from '../../functions/deps/events';
import { memoryLogger } from '../../functions/logging';
import { waitFor, waitForValue } from '../../scripts/lib/net';
import { asUser, request } from '../helpers/api-server';
import { subscribeToRunEvents } from '../helpers/pubsub';
import { startTestStack, type TestStack } from '../helpers/stack';

const OWNER = 'hs-owner@example.com';
let stack: TestStack;
let sink: Server;
let secret: string;
let events: Awaited<ReturnType<typeof subscribeToRunEvents>>;
const posts: { headers: IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  sink = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const saved = await request<{ webhook_secret: string }>(`${stack.url}/api/me/preferences`, {
    method: 'PUT',
    headers: asUser(OWNER),
    json: {
      webhook_url: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/arc`,
      statuses: ['running', 'completed', 'failed', 'cancelled'],
    },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
  secret = saved.body.webhook_secret;
  events = await subscribeToRunEvents(stack.pubsubHost, stack.config.project, stack.config.runEventsTopic);
});
afterAll(async () => {
  await events?.close();
  sink?.close();
  await stack?.close();
});

const launch = async (body: Record<string, unknown>) => {
  const created = await request<HaystackRun>(`${stack.url}/api/v1/runs`, {
    method: 'POST',
    headers: asUser(OWNER),
    json: body,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.run_id;
};
const read = async (id: string) =>
  (await request<HaystackRun>(`${stack.url}/api/v1/runs/${id}`, { headers: asUser(OWNER) })).body;
const until = (id: string, test: (run: HaystackRun) => boolean, what: string) =>
  waitForValue(
    async () => {
      const run = await read(id);
      return test(run) ? run : null;
    },
    { timeoutMs: 90_000, intervalMs: 100, what: `${id}: ${what}` },
  );

const signed = (header: string, body: string) => {
  const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) ?? [];
  return v1 === createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
};

/** Every Batch job of the run (its agent's and its model jobs), once none of them is going. */
const jobsAllEnded = (id: string) =>
  waitForValue(
    async () => {
      const jobs = stack.batch.list().filter((job) => job.name.includes(id));
      return jobs.every((job) => isTerminal(runStatusOf(job.status.state))) ? jobs : null;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: `every Batch job of ${id} to end` },
  );
const runStatusOf = (state: string) =>
  state === 'SUCCEEDED'
    ? 'completed'
    : state === 'FAILED'
      ? 'failed'
      : state === 'CANCELLED'
        ? 'cancelled'
        : 'running';

/**
 * Waits until the run's staged events are published and received (a barrier after them). A
 * writer whose claim of the run's stream keeps failing (contended transactions, under load)
 * leaves its events to the sweeper, which publishes what is unpublished after a minute on its
 * next pass (every minute here): that path is waited for too (it timed out in CI at 20 s).
 */
async function whatWentOutRaw(id: string) {
  await waitFor(
    async () => (await stack.firestore.collection('run_event_outbox').where('run_id', '==', id).get()).empty,
    { timeoutMs: UNPUBLISHED_AFTER_MS + 70_000, what: `${id}'s staged events published` },
  );
  await events.barrier(id);
}

/**
 * What the run put on arc-run-events and what its owner's webhook got, once the run's stream
 * is drained (a barrier after the last event) and the final event was delivered.
 */
async function whatWentOut(id: string, final: string) {
  await whatWentOutRaw(id);
  await waitFor(() => posts.some((p) => p.headers['x-arc-event-id'] === `${id}/${final}`), {
    timeoutMs: 20_000,
    what: `${id}/${final} at the webhook`,
  });
  const published = events.received.filter((r) => r.orderingKey === id).map((r) => r.event);
  const delivered = posts.filter((p) => String(p.headers['x-arc-event-id']).startsWith(`${id}/`));
  return { published, delivered };
}

function expectOnceEach(
  id: string,
  out: Awaited<ReturnType<typeof whatWentOut>>,
  final: string,
): RunStatusCloudEvent {
  const statuses = out.published.map((e) => e.data.to);
  expect(
    statuses.filter((s) => s === 'running'),
    `${id} running events`,
  ).toHaveLength(1);
  expect(
    statuses.filter((s) => s === final),
    `${id} ${final} events`,
  ).toHaveLength(1);
  expect(statuses.filter((s) => isTerminal(s))).toEqual([final]);
  expect(new Set(out.published.map((e) => e.id)).size).toBe(out.published.length);
  for (const e of out.published)
    expect(e.data).toMatchObject({ kind: 'haystack', run_id: id, user_email: OWNER });
  // The webhook: running and the final status, each once, signed with the owner's secret.
  expect(out.delivered.map((p) => p.headers['x-arc-event-id']).sort()).toEqual(
    [`${id}/${final}`, `${id}/running`].sort(),
  );
  for (const post of out.delivered)
    expect(signed(String(post.headers['x-arc-signature']), post.body)).toBe(true);
  return out.published.find((e) => e.data.to === final)!;
}

describe('a HAYSTACK run tells its owner how it went', () => {
  it('completed, failed (its model job failed; its agent was killed) and cancelled mid-inference: one event each, no job left going', async () => {
    // The faults are set before their run is launched (the next model task of that name gets
    // it), and each of the two runs they are for starts its first model job before the next
    // run is launched, so no other run's job takes them.
    const firstModelJob = (id: string, label: string) =>
      waitForValue(
        async () =>
          stack.batch
            .list()
            .find((job) => job.name.endsWith(`/stack-${id}-${label}`) && job.status.state === 'RUNNING')
            ?.name ?? null,
        { timeoutMs: 60_000, intervalMs: 100, what: `${id}'s ${label} model job to run` },
      ).catch((error: unknown) => {
        // Say what the twin held instead: the run's jobs and their states.
        const jobs = stack.batch
          .list()
          .filter((job) => job.name.includes(id))
          .map((job) => `${job.name.split('/').at(-1)} ${job.status.state}`);
        throw new Error(`${(error as Error).message} Its jobs: ${jobs.join(', ') || 'none'}.`);
      });
    // Its first treated prediction's container crashes; its control's job (one that would run
    // for half an hour) is left going by the failed agent, and the kernel stops it.
    stack.batch.failNextTask(/^stack-hs-[a-z0-9]{12}-i1-treat$/, 1);
    stack.batch.stallNextTask(/^stack-hs-[a-z0-9]{12}-i1-ctrl$/);
    const modelFails = await launch({
      query: 'How would B cells respond to IL-4?',
      max_iterations: 3,
      score_threshold: 10,
    });
    await firstModelJob(modelFails, 'i1-ctrl');
    // Its model job is still going when the agent dies: the kernel stops it.
    stack.batch.stallNextTask(/^stack-hs-[a-z0-9]{12}-i1-treat$/);
    const killed = await launch({
      query: 'How would CD14 monocytes respond to TNF-alpha?',
      score_threshold: 10,
      max_iterations: 10,
    });
    await firstModelJob(killed, 'i1-treat');
    const completed = await launch({
      query: 'How would lung fibroblasts respond to interferon gamma?',
      max_iterations: 1,
    });
    const cancelled = await launch({
      query: 'How would NK cells respond to IL-15?',
      score_threshold: 10,
      max_iterations: 10,
    });

    const agentOfKilled = (await until(killed, (r) => r.status === 'running', 'the agent to start'))
      .batch_job_name!;
    // Killed while its first model job runs.
    expect(stack.batch.interruptTask(agentOfKilled, 137)).toBe(true);
    await until(cancelled, (r) => r.current_phase === 'inference', 'the first model call');
    const cancel = await request<HaystackRun>(`${stack.url}/api/v1/runs/${cancelled}/cancel`, {
      method: 'POST',
      headers: asUser(OWNER),
    });
    expect(cancel.body.status).toBe('cancelled');

    const ends = {
      [completed]: await until(completed, (r) => isTerminal(r.status), 'the end'),
      [modelFails]: await until(modelFails, (r) => isTerminal(r.status), 'the end'),
      [killed]: await until(killed, (r) => isTerminal(r.status), 'the end'),
      [cancelled]: await until(cancelled, (r) => isTerminal(r.status), 'the end'),
    };
    expect(ends[completed]).toMatchObject({ status: 'completed', current_phase: null });
    const jobStates = (id: string) =>
      JSON.stringify(
        stack.batch
          .list()
          .filter((j) => j.name.includes(id))
          .map((j) => [j.name, j.status]),
      );
    expect(ends[modelFails], jobStates(modelFails)).toMatchObject({
      status: 'failed',
      termination_reason: 'error',
    });
    expect(ends[modelFails]!.error_message).toMatch(/model job stack-.*-i1-treat ended FAILED/);
    expect(ends[killed]).toMatchObject({ status: 'failed', termination_reason: 'error' });
    expect(ends[killed]!.error_message).toMatch(/agent job failed before it recorded why.*exit code 137/);
    expect(ends[cancelled]).toMatchObject({ status: 'cancelled', termination_reason: 'cancelled' });

    for (const [id, final] of [
      [completed, 'completed'],
      [modelFails, 'failed'],
      [killed, 'failed'],
      [cancelled, 'cancelled'],
    ] as const) {
      const event = expectOnceEach(id, await whatWentOut(id, final), final);
      if (final === 'failed') expect(event.data.error_message).toBe(ends[id]!.error_message);
      const jobs = await jobsAllEnded(id);
      expect(jobs.map((job) => job.name)).toContain(ends[id]!.batch_job_name);
    }

    // The model jobs the dead or failed agents left going were stopped by the kernel.
    for (const name of [`stack-${modelFails}-i1-ctrl`, `stack-${killed}-i1-treat`]) {
      const left = stack.batch.list().find((job) => job.name.endsWith(`/${name}`));
      expect(left?.status.state, name).toBe('CANCELLED');
    }

    // A cancelled run has no results (and the result endpoint says why).
    const objects = new GcsObjectStore(createStorage(stack.config), stack.config.runsBucket);
    expect((await objects.list(`haystack/${cancelled}/results/`, 10)).objects).toEqual([]);
    expect((await objects.list(`haystack/${completed}/results/`, 10)).objects.length).toBe(3);
    const result = await request(`${stack.url}/api/v1/runs/${cancelled}/result`, { headers: asUser(OWNER) });
    expect(result.status).toBe(409);
  }, 360_000);

  it('stages and publishes one running event when the agent and Batch’s event move a run at the same moment', async () => {
    // Two writers as two processes would be: two clients, each with its store and its outbox.
    const writers = [0, 1].map(() => {
      const db = createFirestore(stack.config);
      return createHaystackRunStore(stack.config, db, memoryLogger());
    });
    const ids = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const run = newHaystackRun({
          run_id: `hs-racingrun${String(i).padStart(3, '0')}`,
          user_email: OWNER,
          request: {
            query: 'How would NK cells respond to IL-15?',
            control_strategy: 'synthetic_control',
            max_iterations: 1,
            score_threshold: 7,
          },
          created_at: new Date().toISOString(),
          bucket: stack.config.runsBucket,
          batch_request_id: crypto.randomUUID(),
          model: 'stack-standin',
        });
        await writers[0]!.create({ ...run, status: 'submitted' });
        return run.run_id;
      }),
    );
    const at = new Date().toISOString();
    await Promise.all(
      ids.flatMap((id) => [
        writers[0]!.apply(id, { to: 'running', at, source: 'agent' }),
        writers[1]!.apply(id, { to: 'running', at, source: 'batch-event' }),
      ]),
    );
    for (const id of ids) {
      await whatWentOutRaw(id);
      const mine = events.received.filter((r) => r.orderingKey === id).map((r) => r.event.id);
      expect(mine).toEqual([`${id}/running`]);
    }
  });
});
