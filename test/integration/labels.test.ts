import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListRunsResponse, Run } from '../../functions/core/runs/run-model';
import { asUser, request, startTestApi, type TestApi } from '../helpers/api-server';
import { runBody } from '../helpers/samplesheets';

let api: TestApi;
const ALICE = asUser('alice@example.com');
const BOB = asUser('bob@example.com');

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

type ErrorBody = { error: { code: string; message: string; details: { field?: string; message: string }[] } };

async function launch(labels?: Record<string, string>, headers = ALICE) {
  return request<Run & ErrorBody>(`${api.url}/api/runs`, {
    method: 'POST',
    headers,
    json: runBody(labels ? { labels } : {}),
  });
}

const patch = (id: string, labels: Record<string, string | null>, headers = ALICE) =>
  request<Run & ErrorBody>(`${api.url}/api/runs/${id}`, { method: 'PATCH', headers, json: { labels } });

const list = (query: string) =>
  request<ListRunsResponse & ErrorBody>(`${api.url}/api/runs?${query}`, { headers: ALICE });

describe('run labels', () => {
  it('are set at launch, changed later, and filter the list', async () => {
    const genomics = await launch({ team: 'genomics', 'cost-center': 'cc-42' });
    expect(genomics.status, JSON.stringify(genomics.body)).toBe(201);
    expect(genomics.body.labels).toEqual({ team: 'genomics', 'cost-center': 'cc-42' });
    const other = await launch({ team: 'imaging' });
    const unlabelled = await launch();
    expect(unlabelled.body.labels).toEqual({});

    const found = await list('label=team=genomics');
    expect(found.status).toBe(200);
    expect(found.body.runs.map((r) => r.run_id)).toEqual([genomics.body.run_id]);
    expect(found.body.total).toBe(1);

    // A merge patch: a value sets, null removes, the rest stays.
    const changed = await patch(other.body.run_id, { team: 'genomics', project: 'pbmc-atlas' });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body.labels).toEqual({ team: 'genomics', project: 'pbmc-atlas' });
    const removed = await patch(genomics.body.run_id, { 'cost-center': null });
    expect(removed.body.labels).toEqual({ team: 'genomics' });
    const again = await list('label=team=genomics&page_size=10');
    expect(again.body.runs.map((r) => r.run_id).sort()).toEqual(
      [genomics.body.run_id, other.body.run_id].sort(),
    );
    expect((await list('label=cost-center=cc-42')).body.runs).toEqual([]);
    // The stored run reads back with the labels.
    const read = await request<Run>(`${api.url}/api/runs/${other.body.run_id}`, { headers: ALICE });
    expect(read.body.labels).toEqual({ team: 'genomics', project: 'pbmc-atlas' });
  });

  it('refuses labels Google Cloud would refuse, naming each one', async () => {
    const bad = await launch({ Team: 'x', app: 'mine', ok: 'UPPER' });
    expect(bad.status).toBe(400);
    const text = JSON.stringify(bad.body.error.details);
    expect(text).toMatch(/lowercase letters/);
    expect(text).toMatch(/set by the platform/);
    expect(bad.body.error.details.length).toBeGreaterThanOrEqual(3);

    const many = Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`k${i}`, 'v']));
    const tooMany = await launch(many);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toMatch(/at most 25 labels/);

    const run = await launch(Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`k${i}`, 'v'])));
    expect(run.status).toBe(201);
    const over = await patch(run.body.run_id, { extra: 'one-more' });
    expect(over.status).toBe(400);
    expect(over.body.error.message).toMatch(/at most 25 labels; this change would leave 26/);

    const filter = await list('label=not-a-pair');
    expect(filter.status).toBe(400);
    expect(filter.body.error.message).toMatch(/key=value/);
  });

  it("are changed only by the run's owner (another user gets 404)", async () => {
    const run = await launch({ team: 'genomics' });
    const bob = await patch(run.body.run_id, { team: 'stolen' }, BOB);
    expect(bob.status).toBe(404);
    const read = await request<Run>(`${api.url}/api/runs/${run.body.run_id}`, { headers: ALICE });
    expect(read.body.labels).toEqual({ team: 'genomics' });
  });
});
