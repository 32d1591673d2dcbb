/**
 * A run's budget on the local stack (its own stack: the estimate here comes from the pipeline's
 * prior, with no completed run to learn from): refused at launch when the estimate's low end is
 * over it, cancelled once the cost accrued from its trace reaches it, and resumed by a recovery
 * with a higher one.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../functions/core/runs/run-model';
import { waitFor } from '../../scripts/lib/net';
import { asUser, request } from '../helpers/api-server';
import { runBody, samplesheet } from '../helpers/samplesheets';
import { getRun, isFinal, settled, startTestStack, type TestStack, waitForRun } from '../helpers/stack';

let stack: TestStack;
let sink: Server;
/** What the owner's webhook received: each body's event. */
const told: { type: string; id: string; data: { notice?: string; to?: string; message?: string } }[] = [];

beforeAll(async () => {
  // Slower than the other suites' replay, so that trace chunks land while the run is going.
  stack = await startTestStack({
    replaySpeed: 400,
    env: {
      BUDGET_POLICY: JSON.stringify({
        users: { 'capped@example.com': { monthly_usd: 0.01 } },
        labels: { 'cost-center=thrifty': { run_usd: 0.01 }, 'cost-center=generous': { run_usd: 90 } },
      }),
    },
  });
});
beforeAll(async () => {
  // The owner's webhook, where the 80% notice and the cancellation arrive.
  sink = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      told.push(
        (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { event: (typeof told)[number] }).event,
      );
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const saved = await request(`${stack.url}/api/me/preferences`, {
    method: 'PUT',
    json: {
      webhook_url: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook`,
      statuses: ['cancelled'],
    },
  });
  expect(saved.status).toBe(200);
});
afterAll(async () => {
  sink?.close();
  await stack?.close();
});

type RunWithEvents = Run & { events: { source: string; to: string; detail: string | null }[] };

describe('a run with a budget', () => {
  it('is refused at launch when the estimate is already over it, saying both figures', async () => {
    const refused = await request<{ error: { code: string; message: string } }>(`${stack.url}/api/runs`, {
      method: 'POST',
      json: runBody({ budget_usd: 0.05 }),
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(
      /^The estimate's low end, \$0\.\d\d, is already over the budget of \$0\.05: raise budget_usd, or launch fewer samples\. A prior, not this lab's history/,
    );
    const preview = await request<{ valid: boolean; problems: { field: string }[] }>(
      `${stack.url}/api/runs/preview`,
      { method: 'POST', json: runBody({ budget_usd: 0.05 }) },
    );
    expect(preview.body).toMatchObject({ valid: false, problems: [{ field: 'budget_usd' }] });
  });

  it('is cancelled when its accrued cost reaches the budget, warned at 80% first, and resumed by a recovery with more', async () => {
    const body = runBody({ samplesheet_csv: samplesheet(4) });
    const preview = await request<{ estimate: { cost_usd: { low: number } } }>(
      `${stack.url}/api/runs/preview`,
      {
        method: 'POST',
        json: body,
      },
    );
    // Just over the estimate's low end: the launch is accepted, the run costs more.
    const budget = Math.round((preview.body.estimate.cost_usd.low + 0.01) * 100) / 100;
    const created = await request<Run>(`${stack.url}/api/runs`, {
      method: 'POST',
      json: { ...body, budget_usd: budget },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const run = await waitForRun(stack, created.body.run_id, isFinal, 120_000);
    expect(run.status).toBe('cancelled');
    expect(run.accrued_usd).toBeGreaterThanOrEqual(budget);
    expect(run.budget_warned_at).not.toBeNull();
    expect(run.error_message).toMatch(
      /^Budget exceeded: \$\d+\.\d\d of \$\d+\.\d\d: the run was cancelled\./,
    );
    const withEvents = await request<RunWithEvents>(`${stack.url}/api/runs/${run.run_id}?include=events`);
    const details = withEvents.body.events.map((e) => e.detail ?? '');
    const warned = details.findIndex((d) => d.startsWith('80% of the budget used'));
    const cancelled = details.findIndex((d) => /^Cancelled: budget exceeded: \$/.test(d));
    expect(warned).toBeGreaterThanOrEqual(0);
    expect(cancelled).toBeGreaterThan(warned);
    // The owner was told at 80%, on the channel they chose, and then of the cancellation.
    await waitFor(
      async () =>
        told.some((e) => e.id === `${run.run_id}/notice/budget_warning`) &&
        told.some((e) => e.id === `${run.run_id}/cancelled`),
      { timeoutMs: 30_000, what: "the 80% notice and the cancellation at the owner's webhook" },
    );
    const notice = told.find((e) => e.id === `${run.run_id}/notice/budget_warning`)!;
    expect(notice).toMatchObject({
      type: 'com.arcreactor.run.notice.v1',
      data: { notice: 'budget_warning' },
    });
    expect(notice.data.message).toMatch(
      /^80% of the budget used: \$\d+\.\d\d of \$\d+\.\d\d\. The run is cancelled when/,
    );
    // Its Batch job was stopped, not left to run up the bill.
    await waitFor(async () => (await stack.batch.getJob(run.batch_job_name!))?.status.state === 'CANCELLED', {
      timeoutMs: 15_000,
      what: 'the job to be cancelled',
    });

    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    const recovery = await request<Run>(`${stack.url}/api/runs/${run.run_id}/recover`, {
      method: 'POST',
      json: { budget_usd: 50 },
    });
    expect(recovery.status, JSON.stringify(recovery.body)).toBe(201);
    expect(recovery.body.budget_usd).toBe(50);
    const resumed = await waitForRun(
      stack,
      recovery.body.run_id,
      (r) => isFinal(r) && r.metrics !== null,
      120_000,
    );
    expect(resumed.status).toBe('completed');
    expect(resumed.metrics!.tasks.cached).toBeGreaterThan(0);
    expect((await getRun(stack, run.run_id)).status).toBe('cancelled');
  }, 240_000);
});

describe('budgets an administrator set', () => {
  it("gives a launch without a budget its label's, saying so, and refuses one the label's budget cannot cover", async () => {
    const thrifty = await request<{ error: { message: string } }>(`${stack.url}/api/runs`, {
      method: 'POST',
      json: runBody({ labels: { 'cost-center': 'thrifty' } }),
    });
    expect(thrifty.status).toBe(409);
    expect(thrifty.body.error.message).toMatch(
      /is already over the budget of \$0\.01: .*\(The budget is the budget for label cost-center=thrifty\.\)$/,
    );
    const generous = await request<Run>(`${stack.url}/api/runs`, {
      method: 'POST',
      json: runBody({ labels: { 'cost-center': 'generous' } }),
    });
    expect(generous.status, JSON.stringify(generous.body)).toBe(201);
    expect(generous.body).toMatchObject({
      budget_usd: 90,
      budget_from: 'the budget for label cost-center=generous',
    });
    // The preview says which budget a launch left empty would get (the wizard shows it).
    const preview = await request<{ default_budget: unknown }>(`${stack.url}/api/runs/preview`, {
      method: 'POST',
      json: runBody({ labels: { 'cost-center': 'generous' } }),
    });
    expect(preview.body.default_budget).toEqual({
      usd: 90,
      from: 'the budget for label cost-center=generous',
    });
    // A budget the launch names wins over the label's.
    const named = await request<Run>(`${stack.url}/api/runs`, {
      method: 'POST',
      json: runBody({ labels: { 'cost-center': 'thrifty' }, budget_usd: 40 }),
    });
    expect(named.status, JSON.stringify(named.body)).toBe(201);
    expect(named.body).toMatchObject({ budget_usd: 40, budget_from: null });
    for (const id of [generous.body.run_id, named.body.run_id])
      await request(`${stack.url}/api/runs/${id}`, { method: 'DELETE' });
  });

  it("refuses a launch past its owner's monthly cap, in the preview too, with both figures", async () => {
    const headers = asUser('capped@example.com');
    const preview = await request<{ valid: boolean; message: string }>(`${stack.url}/api/runs/preview`, {
      method: 'POST',
      json: runBody(),
      headers,
    });
    expect(preview.body.valid).toBe(false);
    expect(preview.body.message).toMatch(
      /^This launch would take your spending this month over your monthly cap of \$0\.01: \$0\.00 accrued by your runs since \d{4}-\d\d-01 \+ at least \$\d+\.\d\d for this one/,
    );
    const refused = await request<{ error: { message: string } }>(`${stack.url}/api/runs`, {
      method: 'POST',
      json: runBody(),
      headers,
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe(preview.body.message);
    // Someone without a cap launches the same run.
    const free = await request<Run>(`${stack.url}/api/runs/preview`, { method: 'POST', json: runBody() });
    expect(free.body).toMatchObject({ valid: true });
  });
});
