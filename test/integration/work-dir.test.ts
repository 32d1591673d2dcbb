/**
 * What keeping a run's work dir costs, and freeing it, on the local stack: measured when a run
 * ends (the bytes the local GCS server holds under work/{root}/ and cache/{root}/), priced and
 * dated, listed largest first, refused while a run of the chain is active, and freed in batches
 * leaving the run's inputs, logs and results — after which -resume is refused, saying why.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../functions/core/runs/run-model';
import type { FreeWorkDirResult, WorkDirView } from '../../functions/core/runs/work-dir';
import { GIB } from '../../functions/core/runs/work-dir-model';
import type { RunNoticeCloudEvent } from '../../functions/core/shared/run-events';
import { waitFor } from '../../scripts/lib/net';
import { asUser, request } from '../helpers/api-server';
import { arcCommand } from '../helpers/commands';
import { runBody } from '../helpers/samplesheets';
import { getRun, isFinal, settled, startTestStack, type TestStack, waitForRun } from '../helpers/stack';

let stack: TestStack;
const BATCH = 8;

beforeAll(async () => {
  stack = await startTestStack({ apiOverrides: { freeBatchObjects: BATCH } });
});
afterAll(async () => {
  await stack?.close();
});

type RunWithEvents = Run & { events: { source: string; detail: string | null }[] };

async function launch(params: Record<string, unknown> = {}): Promise<Run> {
  const response = await request<Run>(`${stack.url}/api/runs`, {
    method: 'POST',
    json: runBody({ params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3', ...params } }),
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

/** `arc` as dev@example.com against the stack: its exit code and output. */
const arc = (args: string[]) => arcCommand(stack.url, 'dev@example.com', args);

/** What the local GCS server holds under the chain's two prefixes. */
function held(root: string) {
  const bucket = stack.config.runsBucket;
  return [
    ...stack.gcs.objectsUnder(bucket, `work/${root}/`),
    ...stack.gcs.objectsUnder(bucket, `cache/${root}/`),
  ];
}

describe('a run chain’s work dir', () => {
  let root: Run;

  beforeAll(async () => {
    const created = await launch({ replay_fail_process: 'STAR_ALIGN' });
    await waitForRun(stack, created.run_id, (r) => isFinal(r) && r.metrics !== null, 120_000);
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    await waitFor(async () => (await getRun(stack, created.run_id)).work_dir !== null, {
      timeoutMs: 30_000,
      what: 'the work dir to be measured',
    });
    root = await getRun(stack, created.run_id);
  }, 180_000);

  it('is measured when the run ends: the bytes the bucket holds, priced a month, resumable until its oldest object’s deletion', async () => {
    const objects = held(root.run_id);
    expect(objects.length).toBeGreaterThan(0);
    const bytes = objects.reduce((sum, o) => sum + o.size, 0);
    const response = await request<WorkDirView>(`${stack.url}/api/runs/${root.run_id}/work-dir`);
    expect(response.status).toBe(200);
    const view = response.body;
    expect(view.state).toMatchObject({ bytes, objects: objects.length, complete: true, freed_at: null });
    expect(view.state!.work_bytes + view.state!.cache_bytes).toBe(bytes);
    expect(view.state!.cache_bytes).toBeGreaterThan(0);
    expect(view.monthly_usd).toBeCloseTo((bytes / GIB) * 0.02, 12);
    const oldest = Date.parse(view.state!.oldest_at!);
    expect(Date.parse(view.resumable_until!)).toBe(oldest + 30 * 86_400_000);
    expect(view.basis).toContain('per GiB-month');
    expect(view.summary).toMatch(/a month to keep; can be resumed in full until \d{4}-\d\d-\d\d\.$/);

    // Listed among the caller's chains, largest first; another user sees neither it nor its work dir.
    const list = await request<{ work_dirs: WorkDirView[]; total_bytes: number }>(
      `${stack.url}/api/work-dirs`,
    );
    expect(list.body.work_dirs.map((w) => w.root_run_id)).toContain(root.run_id);
    const sizes = list.body.work_dirs.map((w) => w.state!.bytes);
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    const other = asUser('mallory@example.com');
    const theirs = await request<{ work_dirs: WorkDirView[] }>(`${stack.url}/api/work-dirs`, {
      headers: other,
    });
    expect(theirs.body.work_dirs).toEqual([]);
    const denied = await request(`${stack.url}/api/runs/${root.run_id}/work-dir`, { headers: other });
    expect(denied.status).toBe(404);
    const everyone = await request(`${stack.url}/api/work-dirs?scope=all`, { headers: other });
    expect(everyone.status).toBe(403);

    // The command line says the same, and --free without --yes deletes nothing (exit 2).
    const [shown, listed, unconfirmed] = await Promise.all([
      arc(['runs', 'work-dir', root.run_id]),
      arc(['work-dirs']),
      arc(['runs', 'work-dir', root.run_id, '--free']),
    ]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`Work dir of ${root.run_id} (gs://`);
    expect(shown.stdout).toContain(view.summary);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${root.run_id}\\t`, 'm'));
    expect(listed.stdout).toMatch(/work dirs?: .+ a month to keep$/m);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('add --yes to go ahead');
    expect(held(root.run_id).length).toBe(objects.length);
  }, 60_000);

  it('tells its owner, once, a few days before the bucket starts deleting it, while the run can still be resumed', async () => {
    const bodies: string[] = [];
    const sink = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    try {
      const hook = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook`;
      const saved = await request(`${stack.url}/api/me/preferences`, {
        method: 'PUT',
        json: { webhook_url: hook, statuses: ['completed'] },
      });
      expect(saved.status).toBe(200);
      // Today nothing is due; 28 days on, the 30-day lifecycle is 2 days away.
      expect((await stack.sweep()).passes).toEqual({ work_dir_notices: 0 });
      stack.advanceSweepClock(28 * 86_400_000);
      expect((await stack.sweep()).passes).toEqual({ work_dir_notices: 1 });
      await waitFor(async () => bodies.length > 0, { timeoutMs: 30_000, what: 'the notice at the webhook' });
      const { text, event } = JSON.parse(bodies[0]!) as { text: string; event: RunNoticeCloudEvent };
      expect(event).toMatchObject({
        type: 'com.arcreactor.run.notice.v1',
        id: `${root.run_id}/notice/work_dir_expiring`,
        data: { run_id: root.run_id, notice: 'work_dir_expiring', user_email: 'dev@example.com' },
      });
      const until = new Date(Date.parse(root.work_dir!.oldest_at!) + 30 * 86_400_000)
        .toISOString()
        .slice(0, 10);
      expect(event.data.message).toContain(`can be recovered with -resume until ${until}`);
      expect(text).toMatch(new RegExp(`^${root.run_id} can be resumed for a few more days only`));
      // Once: the next sweep tells no one again.
      expect((await stack.sweep()).passes).toEqual({ work_dir_notices: 0 });
      expect((await getRun(stack, root.run_id)).work_dir?.expiry_noticed_at).not.toBeNull();
    } finally {
      stack.advanceSweepClock(-28 * 86_400_000);
      await request(`${stack.url}/api/me/preferences`, { method: 'PUT', json: { webhook_url: null } });
      sink.close();
    }
  }, 90_000);

  it('is not freed while a run of its chain is active, nor without confirm', async () => {
    const unconfirmed = await request<{ error: { message: string } }>(
      `${stack.url}/api/runs/${root.run_id}/work-dir/free`,
      { method: 'POST', json: {} },
    );
    expect(unconfirmed.status).toBe(400);
    expect(unconfirmed.body.error.message).toContain('"confirm": true');

    const recovery = await request<Run>(`${stack.url}/api/runs/${root.run_id}/recover`, {
      method: 'POST',
      json: { override_params: { replay_fail_process: null } },
    });
    expect(recovery.status, JSON.stringify(recovery.body)).toBe(201);
    const refused = await request<{ error: { message: string } }>(
      `${stack.url}/api/runs/${root.run_id}/work-dir/free`,
      { method: 'POST', json: { confirm: true } },
    );
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain(`Run ${recovery.body.run_id}`);
    expect(held(root.run_id).length).toBeGreaterThan(0);
    const cancelled = await request(`${stack.url}/api/runs/${recovery.body.run_id}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    await waitForRun(stack, recovery.body.run_id, isFinal, 60_000);
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
  }, 120_000);

  it('is freed in batches, keeping the run’s inputs, logs and results; -resume is then refused, saying so', async () => {
    const bucket = stack.config.runsBucket;
    const kept = stack.gcs.objectsUnder(bucket, `runs/${root.run_id}/`).map((o) => o.name);
    expect(kept.some((name) => name.includes('/results/'))).toBe(true);
    const before = held(root.run_id).length;
    expect(before).toBeGreaterThan(BATCH);

    const calls: FreeWorkDirResult[] = [];
    for (let call = 0; call < 100; call++) {
      const response = await request<FreeWorkDirResult>(
        `${stack.url}/api/runs/${root.run_id}/work-dir/free`,
        {
          method: 'POST',
          json: { confirm: true },
        },
      );
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      calls.push(response.body);
      if (response.body.done) break;
    }
    expect(calls.length).toBe(Math.ceil(before / BATCH) + (before % BATCH === 0 ? 1 : 0));
    expect(calls.slice(0, -1).every((c) => !c.done && c.deleted_objects === BATCH)).toBe(true);
    expect(calls.reduce((sum, c) => sum + c.deleted_objects, 0)).toBe(before);
    expect(held(root.run_id)).toEqual([]);
    expect(stack.gcs.objectsUnder(bucket, `runs/${root.run_id}/`).map((o) => o.name)).toEqual(kept);

    const view = calls.at(-1)!.work_dir;
    expect(view.state).toMatchObject({ bytes: 0, freed_by: 'dev@example.com' });
    expect(view.monthly_usd).toBe(0);
    expect(view.summary).toContain('nothing is left to resume from');
    const events = await request<RunWithEvents>(`${stack.url}/api/runs/${root.run_id}?include=events`);
    const details = events.body.events.map((e) => e.detail ?? '');
    expect(details.some((d) => d.startsWith('dev@example.com started freeing the work dir'))).toBe(true);
    expect(details.some((d) => d.startsWith('Work dir freed (asked by dev@example.com)'))).toBe(true);

    // Freeing again is done at once; resuming is refused, naming who freed it; a fresh rerun is not.
    const again = await request<FreeWorkDirResult>(`${stack.url}/api/runs/${root.run_id}/work-dir/free`, {
      method: 'POST',
      json: { confirm: true },
    });
    expect(again.body).toMatchObject({ done: true, deleted_objects: 0 });
    const resumed = await request<{ error: { message: string } }>(
      `${stack.url}/api/runs/${root.run_id}/recover`,
      {
        method: 'POST',
        json: {},
      },
    );
    expect(resumed.status).toBe(409);
    expect(resumed.body.error.message).toMatch(
      /was freed at .* by dev@example\.com, so there is nothing to resume/,
    );
    const fresh = await request<Run>(`${stack.url}/api/runs/${root.run_id}/recover`, {
      method: 'POST',
      json: { reuse_work_dir: false, override_params: { replay_fail_process: null } },
    });
    expect(fresh.status, JSON.stringify(fresh.body)).toBe(201);
    await request(`${stack.url}/api/runs/${fresh.body.run_id}`, { method: 'DELETE' });
  }, 120_000);
});
