import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreRateLimiter } from '../../functions/adapters/rate-limiters';
import { loadConfig } from '../../functions/config';
import type { Run } from '../../functions/core/runs/run-model';
import { createFirestore } from '../../functions/deps';
import { createRateLimiters } from '../../functions/deps/access';
import { asUser, request, startTestApi, type TestApi } from '../helpers/api-server';
import { firestoreEmulatorHost, uniqueProjectId } from '../helpers/env';
import { runBody } from '../helpers/samplesheets';

const ALICE = asUser('alice@example.com');
const BOB = asUser('bob@example.com');
const ADMIN = asUser('admin@example.com');
const ROLE_ADMIN = asUser('ops@example.com');

type OpenApi = {
  paths: Record<string, Record<string, { parameters?: { name: string; in: string; required?: boolean }[] }>>;
};

async function launch(api: TestApi, headers: Record<string, string>): Promise<Run> {
  const response = await request<Run>(`${api.url}/api/runs`, { method: 'POST', headers, json: runBody() });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

/** Status and body of one request; streams are cut off once their headers arrive. */
async function call(url: string, method: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await fetch(url, {
    method,
    headers: ['POST', 'PATCH'].includes(method)
      ? { ...headers, 'content-type': 'application/json' }
      : headers,
    body: ['POST', 'PATCH'].includes(method) ? '{}' : undefined,
    redirect: 'manual',
    signal: controller.signal,
  });
  const type = response.headers.get('content-type') ?? '';
  const body = type.includes('application/json') ? ((await response.json()) as unknown) : null;
  controller.abort();
  return { status: response.status, body };
}

describe('authorization', () => {
  let api: TestApi;
  let aliceRun: Run;

  beforeAll(async () => {
    api = await startTestApi({ env: { ADMIN_EMAILS: 'admin@example.com' } });
    aliceRun = await launch(api, ALICE);
    await launch(api, BOB);
    // An administrator by role, as set in users/{email}.role.
    await request(`${api.url}/api/runs`, { headers: ROLE_ADMIN });
    await api.firestore.collection('users').doc('ops@example.com').update({ role: 'admin' });
  });
  afterAll(async () => {
    await api?.close();
  });

  it("answers every run endpoint for someone else's run exactly as for a run that does not exist", async () => {
    const spec = (await request<OpenApi>(`${api.url}/api/openapi.json`)).body;
    const endpoints = Object.entries(spec.paths)
      .filter(([path]) => path.includes('/runs/{id}'))
      .flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
      );
    expect(endpoints.length).toBeGreaterThanOrEqual(11);
    const urlFor = (
      path: string,
      runId: string,
      parameters: { name: string; in: string; required?: boolean }[] = [],
    ) => {
      const query = parameters
        .filter((p) => p.in === 'query' && p.required)
        .map((p) => `${p.name}=${p.name === 'path' ? 'inputs/params.yaml' : '1'}`)
        .join('&');
      return `${api.url}${path.replace('{id}', runId).replace('{task_id}', '1')}${query ? `?${query}` : ''}`;
    };
    for (const { path, method, operation } of endpoints) {
      const what = `${method.toUpperCase()} ${path}`;
      const foreign = await call(
        urlFor(path, aliceRun.run_id, operation.parameters),
        method.toUpperCase(),
        BOB,
      );
      const missing = await call(
        urlFor(path, 'run-000000000000', operation.parameters),
        method.toUpperCase(),
        BOB,
      );
      expect(foreign.status, what).toBe(404);
      expect(JSON.stringify(foreign.body).replace(aliceRun.run_id, 'ID'), what).toBe(
        JSON.stringify(missing.body).replace('run-000000000000', 'ID'),
      );
      for (const admin of [ADMIN, ROLE_ADMIN]) {
        const allowed = await call(
          urlFor(path, aliceRun.run_id, operation.parameters),
          method.toUpperCase(),
          admin,
        );
        expect(JSON.stringify(allowed.body) ?? '', `${what} as an admin`).not.toContain('was not found');
      }
    }
    expect(api.logs.entries).toContainEqual(
      expect.objectContaining({
        message: 'audit',
        fields: expect.objectContaining({
          event: 'access_denied',
          user: 'bob@example.com',
          run_id: aliceRun.run_id,
          status: 404,
          request_id: expect.any(String),
        }),
      }),
    );
  });

  it("lists everyone's runs for admins with scope=all, and refuses it to others", async () => {
    const all = await request<{ runs: Run[] }>(`${api.url}/api/runs?scope=all&page_size=100`, {
      headers: ADMIN,
    });
    expect(all.status).toBe(200);
    expect(new Set(all.body.runs.map((r) => r.user_email))).toEqual(
      new Set(['alice@example.com', 'bob@example.com']),
    );
    const mine = await request<{ runs: Run[] }>(`${api.url}/api/runs?page_size=100`, { headers: ADMIN });
    expect(mine.body.runs).toEqual([]);
    const refused = await request<{ error: { code: string; message: string } }>(
      `${api.url}/api/runs?scope=all`,
      {
        headers: ALICE,
      },
    );
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain("Only administrators can list everyone's runs");
  });

  it('records who did what in the audit log: sign-in, create, cancel, recover, status changes', async () => {
    const run = await launch(api, ALICE);
    expect(
      (await request(`${api.url}/api/runs/${run.run_id}`, { method: 'DELETE', headers: ALICE })).status,
    ).toBe(200);
    const recovered = await request<Run>(`${api.url}/api/runs/${run.run_id}/recover`, {
      method: 'POST',
      headers: ADMIN,
      json: { reuse_work_dir: false },
    });
    expect(recovered.status).toBe(201);
    const audits = api.logs.entries.filter((e) => e.message === 'audit').map((e) => e.fields);
    expect(audits).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'sign_in', user: 'alice@example.com', via: 'dev' }),
        expect.objectContaining({ event: 'run_created', user: 'alice@example.com', run_id: run.run_id }),
        expect.objectContaining({ event: 'run_cancelled', user: 'alice@example.com', run_id: run.run_id }),
        expect.objectContaining({
          event: 'run_status_changed',
          run_id: run.run_id,
          from: 'pending',
          to: 'cancelled',
          source: 'api',
        }),
        expect.objectContaining({
          event: 'run_recovered',
          user: 'admin@example.com',
          owner: 'alice@example.com',
          run_id: recovered.body.run_id,
          parent_run_id: run.run_id,
        }),
      ]),
    );
    for (const entry of audits.filter((a) => a.event !== 'run_status_changed' && a.event !== 'sign_in')) {
      expect(entry.request_id, JSON.stringify(entry)).toEqual(expect.any(String));
    }
  });
});

describe('rate limits', () => {
  const project = uniqueProjectId('arc-limits');
  let first: TestApi;
  let second: TestApi;
  beforeAll(async () => {
    const env = {
      GOOGLE_CLOUD_PROJECT: project,
      RATE_LIMIT_LAUNCHES_PER_MINUTE: '3',
      RATE_LIMIT_READS_PER_MINUTE: '5',
    };
    [first, second] = await Promise.all([startTestApi({ env }), startTestApi({ env })]);
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
  });

  it('holds the launch limit across instances, with Retry-After, and counts each user apart', async () => {
    const statuses: number[] = [];
    for (const api of [first, second, first, second, first]) {
      statuses.push(
        (await request(`${api.url}/api/runs`, { method: 'POST', headers: ALICE, json: runBody() })).status,
      );
    }
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    const refused = await request<{ error: { code: string; message: string } }>(`${second.url}/api/runs`, {
      method: 'POST',
      headers: ALICE,
      json: runBody(),
    });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.body.error).toEqual({
      code: 'rate_limited',
      message: `Too many pipeline launches and recoveries: the limit is 3 in any 60 s per user. Try again in ${retryAfter} s.`,
      details: { retry_after_seconds: retryAfter },
    });
    // Invalid launches count too: the limit is on attempts.
    expect((await request(`${first.url}/api/runs`, { method: 'POST', headers: BOB, json: {} })).status).toBe(
      400,
    );
    expect(
      (await request(`${first.url}/api/runs`, { method: 'POST', headers: BOB, json: runBody() })).status,
    ).toBe(201);
  });

  it('limits reads per instance', async () => {
    const carol = asUser('carol@example.com');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await request(`${first.url}/api/pipelines`, { headers: carol })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const limited = await request(`${first.url}/api/pipelines`, { headers: carol });
    expect(limited.headers.get('ratelimit-limit')).toBe('5');
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    // The other instance keeps its own count; health checks are not limited.
    expect((await request(`${second.url}/api/pipelines`, { headers: carol })).status).toBe(200);
    expect((await request(`${first.url}/api/health`)).status).toBe(200);
  });

  it('lets exactly the limit through when requests race, and opens again as each slot leaves the minute', async () => {
    const db = createFirestore(first.config);
    let now = Date.UTC(2026, 10, 23, 12, 0, 30);
    const limiter = new FirestoreRateLimiter(db, 'race', 5, () => now);
    const decisions = await Promise.all(
      Array.from({ length: 20 }, () => limiter.consume('dave@example.com')),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    // All five were allowed at 12:00:30: a slot frees at 12:01:30, whatever the clock minute.
    expect(decisions.find((d) => !d.allowed)?.resetSeconds).toBe(60);
    now += 59_999;
    expect((await limiter.consume('dave@example.com')).allowed).toBe(false);
    now += 1;
    expect((await limiter.consume('dave@example.com')).allowed).toBe(true);
    const stored = await db.collection('rate_limits').where('key', '==', 'dave@example.com').get();
    expect(stored.docs).toHaveLength(1);
    expect(stored.docs[0]!.get('times')).toHaveLength(1);
    expect(stored.docs[0]!.get('expires_at')).toBeDefined();
  });

  it('counts HAYSTACK launches apart from pipeline launches, each against its own limit', async () => {
    const limits = createRateLimiters(
      loadConfig({
        GOOGLE_CLOUD_PROJECT: project,
        FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
        RATE_LIMIT_LAUNCHES_PER_MINUTE: '2',
        RATE_LIMIT_HAYSTACK_LAUNCHES_PER_MINUTE: '1',
      }),
      createFirestore(first.config),
    );
    const user = 'frank@example.com';
    expect((await limits.launch.consume(user)).allowed).toBe(true);
    expect((await limits.launch.consume(user)).allowed).toBe(true);
    expect((await limits.launch.consume(user)).allowed).toBe(false);
    expect(await limits.haystack_launch.consume(user)).toMatchObject({ allowed: true, limit: 1 });
    expect((await limits.haystack_launch.consume(user)).allowed).toBe(false);
  });

  it('never admits more than the limit in any 60 s, for a client that keeps retrying across minute boundaries', async () => {
    const db = createFirestore(first.config);
    let now = Date.UTC(2026, 10, 23, 12, 0, 57);
    const limiter = new FirestoreRateLimiter(db, 'burst', 5, () => now);
    const allowed: number[] = [];
    // A request every 2.5 s for 3 minutes, with a burst of ten at each clock minute's edge.
    const end = now + 180_000;
    while (now < end) {
      const burst = now % 60_000 >= 58_000 || now % 60_000 < 2_000 ? 10 : 1;
      for (let i = 0; i < burst; i++)
        if ((await limiter.consume('erin@example.com')).allowed) allowed.push(now);
      now += 2_500;
    }
    expect(maxInAnyWindow(allowed, 60_000)).toBe(5);
    expect(allowed.length).toBeGreaterThanOrEqual(15);
  });
});

/** The most timestamps any window [t, t + width) holds. */
function maxInAnyWindow(times: number[], width: number): number {
  let most = 0;
  for (const start of times)
    most = Math.max(most, times.filter((t) => t >= start && t < start + width).length);
  return most;
}

describe('response hardening', () => {
  let api: TestApi;
  let corsApi: TestApi;
  beforeAll(async () => {
    [api, corsApi] = await Promise.all([
      startTestApi(),
      startTestApi({ env: { CORS_ALLOWED_ORIGINS: 'https://lims.example.org' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([api?.close(), corsApi?.close()]);
  });

  it('sends security headers on every answer, errors included', async () => {
    for (const path of ['/api/health', '/api/runs', '/api/runs/run-000000000000', '/api/nowhere']) {
      const response = await fetch(`${api.url}${path}`, { headers: ALICE });
      expect(response.headers.get('content-security-policy'), path).toBe(
        "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
      );
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('sends no CORS headers unless origins are configured, and then only to them', async () => {
    const plain = await fetch(`${api.url}/api/runs`, {
      headers: { ...ALICE, origin: 'https://evil.example' },
    });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${api.url}/api/runs`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();

    const allowed = await fetch(`${corsApi.url}/api/runs`, {
      headers: { ...ALICE, origin: 'https://lims.example.org' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://lims.example.org');
    const allowedPreflight = await fetch(`${corsApi.url}/api/runs`, {
      method: 'OPTIONS',
      headers: { origin: 'https://lims.example.org', 'access-control-request-method': 'POST' },
    });
    expect(allowedPreflight.status).toBe(204);
    expect(allowedPreflight.headers.get('access-control-allow-methods')).toBe('GET,POST,PUT,PATCH,DELETE');
    const other = await fetch(`${corsApi.url}/api/runs`, {
      headers: { ...ALICE, origin: 'https://evil.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses samplesheet cells a spreadsheet would run as formulas, naming row and column', async () => {
    const sheet =
      'sample,fastq_1,fastq_2\nS1,gs://b/S1_R1.fastq.gz,gs://b/S1_R2.fastq.gz\n=2+5,gs://b/S2_R1.fastq.gz,gs://b/S2_R2.fastq.gz\n';
    const response = await request<{
      error: { details: { row: number; column: string; message: string }[] };
    }>(`${api.url}/api/runs`, { method: 'POST', headers: ALICE, json: runBody({ samplesheet_csv: sheet }) });
    expect(response.status).toBe(400);
    expect(response.body.error.details).toContainEqual(
      expect.objectContaining({ row: 2, column: 'sample', message: expect.stringContaining('formula') }),
    );
  });
});
