import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListRunsResponse, Run } from '../../functions/core/runs/run-model';
import { asUser, request, startTestApi, type TestApi } from '../helpers/api-server';
import { runBody } from '../helpers/samplesheets';

let api: TestApi;
const ALICE = asUser('alice@example.com');
const created: Run[] = [];
const TOTAL = 65;

beforeAll(async () => {
  api = await startTestApi();
  for (let i = 0; i < TOTAL; i++) {
    const version = ['2.7.1', '3.0.0', '4.0.0'][i % 3];
    const params = { aligner: version === '2.7.1' ? 'alevin' : 'star', genome: 'GRCh38' };
    const response = await request<Run>(`${api.url}/api/runs`, {
      method: 'POST',
      headers: ALICE,
      json: runBody({ pipeline_version: version, params }),
    });
    expect(response.status).toBe(201);
    created.push(response.body);
  }
  for (const run of created.slice(0, 10)) {
    await request(`${api.url}/api/runs/${run.run_id}`, { method: 'DELETE', headers: ALICE });
  }
  await request(`${api.url}/api/runs`, {
    method: 'POST',
    headers: asUser('bob@example.com'),
    json: runBody(),
  });
});
afterAll(async () => {
  await api?.close();
});

const newestFirst = () =>
  [...created]
    .sort((a, b) =>
      a.created_at === b.created_at ? (a.run_id < b.run_id ? 1 : -1) : a.created_at < b.created_at ? 1 : -1,
    )
    .map((r) => r.run_id);

async function page(query: string) {
  const response = await request<ListRunsResponse>(`${api.url}/api/runs?${query}`, { headers: ALICE });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
}

describe('GET /api/runs', () => {
  it('pages through every run newest first, without overlap or gaps', async () => {
    const ids: string[] = [];
    for (let n = 1; n <= 4; n++) {
      const body = await page(`page=${n}&page_size=20`);
      expect(body.total).toBe(TOTAL);
      expect(body.page).toBe(n);
      expect(body.runs).toHaveLength(n < 4 ? 20 : 5);
      ids.push(...body.runs.map((r) => r.run_id));
    }
    expect(new Set(ids).size).toBe(TOTAL);
    expect(ids).toEqual(newestFirst());
    expect((await page('page=5&page_size=20')).runs).toEqual([]);
  });

  it('follows next_page_token to the same sequence, stable under new inserts', async () => {
    const ids: string[] = [];
    let token: string | null = null;
    let extra: Run | null = null;
    do {
      const body: ListRunsResponse = await page(`page_size=17${token ? `&page_token=${token}` : ''}`);
      ids.push(...body.runs.map((r) => r.run_id));
      token = body.next_page_token;
      // A run created mid-traversal lands before the cursor: later pages must not shift.
      extra ??= (
        await request<Run>(`${api.url}/api/runs`, { method: 'POST', headers: ALICE, json: runBody() })
      ).body;
    } while (token);
    expect((await page('page_size=1')).runs[0]!.run_id).toBe(extra.run_id);
    await api.firestore.collection('runs').doc(extra.run_id).delete();
    expect(ids).toEqual(newestFirst());
  });

  it('filters by status', async () => {
    const cancelled = await page('status=cancelled&page_size=100');
    expect(cancelled.total).toBe(10);
    expect(cancelled.runs.every((r) => r.status === 'cancelled')).toBe(true);
    const pending = await page('status=pending&page_size=100');
    expect(pending.total).toBe(TOTAL - 10);
  });

  it('filters by pipeline and combines filters', async () => {
    expect((await page('pipeline=nf-core/scrnaseq&page_size=1')).total).toBe(TOTAL);
    expect((await page('pipeline=nf-core/rnaseq')).total).toBe(0);
    const both = await page('pipeline=nf-core/scrnaseq&status=cancelled&page_size=3');
    expect(both.total).toBe(10);
    expect(both.runs).toHaveLength(3);
  });

  it('only lists the caller’s runs', async () => {
    const body = await page('page_size=100');
    expect(body.runs.every((r) => r.user_email === 'alice@example.com')).toBe(true);
  });

  it.each([
    ['page_size=0', 'page_size'],
    ['page_size=101', 'page_size'],
    ['page=abc', 'page'],
    ['status=exploded', 'status'],
    ['page_token=not-a-token', 'page_token'],
    ['colour=blue', undefined],
  ])('rejects %s with 400', async (query, field) => {
    const response = await request<{ error: { code: string; details: { field?: string }[] } }>(
      `${api.url}/api/runs?${query}`,
      { headers: ALICE },
    );
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalid_request');
    if (field) expect(response.body.error.details.map((d) => d.field)).toContain(field);
  });

  it('refuses a page_token issued for other filters', async () => {
    const first = await page('page_size=5');
    const response = await request<{ error: { message: string } }>(
      `${api.url}/api/runs?status=cancelled&page_token=${first.next_page_token}`,
      { headers: ALICE },
    );
    expect(response.status).toBe(400);
    expect(response.body.error.message).toMatch(/other filters/);
  });
});
