/**
 * HAYSTACK runs on the local stack, end to end: /api/v1 → the run-pipeline workflow with
 * HAYSTACK's steps → the agent as a Batch job (the twin runs its image's program) → progress in
 * the run → outputs in the bucket → the result's signed URLs.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreHaystackRunStore } from '../../functions/adapters/firestore-haystack-run-store';
import { waitForValue } from '../../scripts/lib/net';
import { anndataInspect } from '../helpers/anndata';
import { asUser, request } from '../helpers/api-server';
import { tempDir } from '../helpers/env';
import { startTestStack, type TestStack } from '../helpers/stack';

const ALICE = 'alice@example.com';
let stack: TestStack;
let dir: Awaited<ReturnType<typeof tempDir>>;

type HaystackRunView = {
  run_id: string;
  status: string;
  current_phase: string | null;
  grounding_scores: { iteration: number; composite: number }[];
  final_score: number | null;
  termination_reason: string | null;
  error_message: string | null;
  control_strategy_effective: string | null;
  batch_job_name: string | null;
};

beforeAll(async () => {
  stack = await startTestStack();
  dir = await tempDir('arc-hs-stack-');
});
afterAll(async () => {
  await stack?.close();
  await dir?.remove();
});

const launch = async (body: Record<string, unknown>) => {
  const created = await request<HaystackRunView>(`${stack.url}/api/v1/runs`, {
    method: 'POST',
    headers: asUser(ALICE),
    json: body,
  });
  expect(created.status).toBe(201);
  return created.body.run_id;
};
const read = async (id: string) =>
  (await request<HaystackRunView>(`${stack.url}/api/v1/runs/${id}`, { headers: asUser(ALICE) })).body;
const until = (id: string, test: (run: HaystackRunView) => boolean, what: string) =>
  waitForValue(
    async () => {
      const run = await read(id);
      return test(run) ? run : null;
    },
    { timeoutMs: 90_000, intervalMs: 100, what },
  );

describe('a HAYSTACK run on the platform', () => {
  it('runs as a Batch job through the workflow, shows its scores live, and ends at the threshold with its three outputs', async () => {
    const id = await launch({
      query: 'How would lung fibroblasts respond to interferon gamma?',
      score_threshold: 7,
    });
    const running = await until(id, (r) => r.status === 'running', 'the agent job to start');
    expect(running.batch_job_name).toMatch(new RegExp(`/jobs/haystack-${id}$`));
    const done = await until(
      id,
      (r) => ['completed', 'failed', 'cancelled'].includes(r.status),
      'the run to end',
    );
    expect(done).toMatchObject({
      status: 'completed',
      termination_reason: 'threshold_reached',
      control_strategy_effective: 'synthetic_control',
      current_phase: null,
    });
    expect(done.grounding_scores.length).toBeGreaterThanOrEqual(1);
    expect(done.final_score).toBeGreaterThanOrEqual(7);
    const result = await request<{ anndata_url: string; report_url: string; log_url: string }>(
      `${stack.url}/api/v1/runs/${id}/result`,
      {
        headers: asUser(ALICE),
      },
    );
    expect(result.status).toBe(200);
    const h5ad = join(dir.path, 'predictions.h5ad');
    await writeFile(h5ad, Buffer.from(await (await fetch(result.body.anndata_url)).arrayBuffer()));
    expect(anndataInspect(h5ad).uns).toEqual(expect.arrayContaining(['run_id', 'model', 'synthetic']));
    expect(await (await fetch(result.body.report_url)).text()).toContain('Synthetic data, stand-in model.');
    const log = (await (await fetch(result.body.log_url)).json()) as { run_id: string; final_score: number };
    expect(log).toMatchObject({ run_id: id, final_score: done.final_score });
    // Each model call was its own Batch job on the inference image: treat and control per iteration.
    const inference = done.grounding_scores.flatMap((g) => [`i${g.iteration}-treat`, `i${g.iteration}-ctrl`]);
    for (const label of inference) {
      const job = await stack.batch.getJob(
        `projects/${stack.config.project}/locations/${stack.config.region}/jobs/stack-${id}-${label}`,
      );
      expect(job?.status.state, label).toBe('SUCCEEDED');
    }
    expect(await (await fetch(result.body.report_url)).text()).toContain('stack-standin');
    // The agent job's state changes reached the run through Batch's events, as a pipeline job's do.
    await waitForValue(
      () =>
        stack.logs.entries.find((e) => e.message === 'batch_event_applied' && e.fields.run_id === id) ?? null,
      { timeoutMs: 10_000, intervalMs: 100, what: 'a Batch event applied to the run' },
    );
  }, 120_000);

  it('stops when cancelled: the run is cancelled, its agent job too, and there are no results', async () => {
    const id = await launch({
      query: 'How would NK cells respond to IL-15?',
      score_threshold: 10,
      max_iterations: 10,
    });
    await until(id, (r) => r.current_phase === 'inference', 'the first model call');
    const cancelled = await request<HaystackRunView>(`${stack.url}/api/v1/runs/${id}/cancel`, {
      method: 'POST',
      headers: asUser(ALICE),
    });
    expect(cancelled.body.status).toBe('cancelled');
    await waitForValue(
      async () => {
        const job = await stack.batch.getJob(cancelled.body.batch_job_name!);
        return job && ['CANCELLED', 'SUCCEEDED'].includes(job.status.state) ? job : null;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the agent job to stop' },
    );
    expect((await read(id)).status).toBe('cancelled');
    // Every model job of the run is stopped (or had finished), and no other one starts.
    const prefix = `projects/${stack.config.project}/locations/${stack.config.region}/jobs/stack-${id}-`;
    await waitForValue(
      async () => {
        const states = await Promise.all(
          ['i1-treat', 'i1-ctrl', 'i2-treat', 'i2-ctrl'].map(
            async (l) => (await stack.batch.getJob(prefix + l))?.status.state ?? null,
          ),
        );
        return states.every((s) => s === null || ['CANCELLED', 'SUCCEEDED', 'FAILED'].includes(s))
          ? states
          : null;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the model jobs to stop' },
    );
    const result = await request(`${stack.url}/api/v1/runs/${id}/result`, { headers: asUser(ALICE) });
    expect(result.status).toBe(409);
  }, 120_000);

  it('runs one model job per iteration with the query as control', async () => {
    const id = await launch({
      query: 'How would lung fibroblasts respond to interferon gamma?',
      control_strategy: 'query_as_control',
      max_iterations: 1,
    });
    const done = await until(
      id,
      (r) => ['completed', 'failed', 'cancelled'].includes(r.status),
      'the run to end',
    );
    expect(done).toMatchObject({ status: 'completed', control_strategy_effective: 'query_as_control' });
    const jobs = `projects/${stack.config.project}/locations/${stack.config.region}/jobs/stack-${id}`;
    expect((await stack.batch.getJob(`${jobs}-i1-treat`))?.status.state).toBe('SUCCEEDED');
    expect(await stack.batch.getJob(`${jobs}-i1-ctrl`)).toBeNull();
  }, 120_000);

  it('falls back to the query as control where no matched controls exist, one model job an iteration, both strategies recorded', async () => {
    // OpenProblems' T regulatory cells have no DMSO wells in the atlas.
    const id = await launch({
      query: 'How would T regulatory cells respond to Belinostat?',
      dataset: 'openproblems',
      max_iterations: 1,
    });
    const done = await until(
      id,
      (r) => ['completed', 'failed', 'cancelled'].includes(r.status),
      'the run to end',
    );
    expect(done).toMatchObject({ status: 'completed', control_strategy_effective: 'query_as_control' });
    expect((await read(id)).grounding_scores[0]).toMatchObject({
      control_strategy_effective: 'query_as_control',
    });
    const stored = (
      await request<{ control_strategy: string }>(`${stack.url}/api/v1/runs/${id}`, {
        headers: asUser(ALICE),
      })
    ).body;
    expect(stored.control_strategy).toBe('synthetic_control');
    const jobs = `projects/${stack.config.project}/locations/${stack.config.region}/jobs/stack-${id}`;
    expect((await stack.batch.getJob(`${jobs}-i1-treat`))?.status.state).toBe('SUCCEEDED');
    expect(await stack.batch.getJob(`${jobs}-i1-ctrl`)).toBeNull();
  }, 120_000);

  it('ends failed, saying why, when the agent’s process is killed', async () => {
    const id = await launch({
      query: 'How would CD14 monocytes respond to TNF-alpha?',
      score_threshold: 10,
      max_iterations: 10,
    });
    const running = await until(id, (r) => r.status === 'running', 'the agent job to start');
    expect(stack.batch.interruptTask(running.batch_job_name!, 137)).toBe(true);
    const ended = await until(
      id,
      (r) => ['completed', 'failed', 'cancelled'].includes(r.status),
      'the run to end',
    );
    expect(ended.status).toBe('failed');
    expect(ended.error_message).toMatch(/agent job failed before it recorded why/);
  }, 120_000);

  it('is swept like any run: a running one whose agent job is gone fails, a pending one never started fails', async () => {
    const store = new FirestoreHaystackRunStore(stack.firestore);
    const id = await launch({ query: 'How would B cells respond to IL-4?', max_iterations: 1 });
    await until(id, (r) => r.status !== 'pending' && r.status !== 'submitted', 'the run to start');
    await until(id, (r) => ['completed', 'failed'].includes(r.status), 'the run to end');
    // Two runs the platform lost track of: a running one whose job is gone, a pending one never started.
    const old = new Date(Date.now() - 3_600_000).toISOString();
    const base = (await store.get(id))!;
    const lostJob = {
      ...base,
      run_id: 'hs-sweptrunning',
      status: 'running' as const,
      updated_at: old,
      created_at: old,
      batch_job_name: `${base.batch_job_name}-gone`,
    };
    const neverStarted = {
      ...base,
      run_id: 'hs-sweptpending',
      status: 'pending' as const,
      updated_at: old,
      created_at: old,
      batch_job_name: null,
      workflow_execution: null,
    };
    await store.create(lostJob);
    await store.create(neverStarted);
    const report = await stack.sweep();
    expect(report.changed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ run_id: 'hs-sweptrunning', from: 'running', to: 'failed' }),
        expect.objectContaining({ run_id: 'hs-sweptpending', from: 'pending', to: 'failed' }),
      ]),
    );
    expect((await store.get('hs-sweptrunning'))?.error_message).toMatch(
      /^Batch job disappeared: .*\/jobs\/haystack-hs-.*-gone no longer exists/,
    );
    expect((await store.get('hs-sweptpending'))?.error_message).toMatch(
      /^The run was never submitted: .* Ask the question again\.$/,
    );
    // The finished run is left alone.
    expect(report.changed.map((c) => c.run_id)).not.toContain(id);
  }, 120_000);
});
