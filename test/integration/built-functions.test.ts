/**
 * The code that deploys: dist/functions/* (minified bundles) under the real Functions
 * Framework. Every other test runs the sources, where class names survive; these prove the
 * HTTP statuses and audit lines do not depend on them.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FirestoreRunStore } from '../../functions/adapters/firestore-run-store';
import { loadConfig } from '../../functions/config';
import { createFirestore } from '../../functions/deps';
import {
  AUDIENCE,
  iapHeaders,
  iapToken,
  type SigningKey,
  signingKey,
  startJwks,
} from '../../scripts/lib/iap-keys';
import { freePort } from '../../scripts/lib/net';
import { LocalGcsServer } from '../../scripts/local/gcs-server';
import { request } from '../helpers/api-server';
import { type BuiltFunction, startBuiltFunction } from '../helpers/built-function';
import { firestoreEmulatorHost, pubsubEmulatorHost, tempDir, uniqueProjectId } from '../helpers/env';
import { storedRunRecord } from '../helpers/runs';

type ErrorBody = { error: { code: string; message: string } };

const projectId = uniqueProjectId('arc-built');
let key: SigningKey;
let jwks: Awaited<ReturnType<typeof startJwks>>;
let gcs: LocalGcsServer;
let gcsDir: Awaited<ReturnType<typeof tempDir>>;
let api: BuiltFunction;
let prepare: BuiltFunction;
const db = createFirestore(
  loadConfig({ GOOGLE_CLOUD_PROJECT: projectId, FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost() }),
);

beforeAll(async () => {
  key = await signingKey('key-built');
  jwks = await startJwks([key]);
  gcsDir = await tempDir('arc-built-gcs-');
  gcs = new LocalGcsServer({ dataDir: gcsDir.path });
  const gcsUrl = await gcs.start();
  const env = {
    GOOGLE_CLOUD_PROJECT: projectId,
    FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
    PUBSUB_EMULATOR_HOST: pubsubEmulatorHost(),
    STORAGE_EMULATOR_HOST: gcsUrl,
    RUNS_BUCKET: 'arc-built-runs',
    AUTH_MODE: 'iap',
    IAP_AUDIENCE: AUDIENCE,
    IAP_JWKS_URL: jwks.url,
    RATE_LIMIT_READS_PER_MINUTE: '4',
    // A warehouse nothing listens on: the Benchling routes must answer 503.
    WAREHOUSE_HOST: '127.0.0.1',
    WAREHOUSE_PORT: String(await freePort()),
    WAREHOUSE_SSL: 'disable',
    SECRET_WAREHOUSE_PASSWORD: 'unused',
    // No Batch twin and no Google credentials: Batch cannot be reached (and no metadata server is asked).
    METADATA_SERVER_DETECTION: 'none',
    // The page, deployed inside the api function's source as Terraform sets it.
    WEB_DIR: 'web',
  };
  [api, prepare] = await Promise.all([startBuiltFunction('api', env), startBuiltFunction('prepareRun', env)]);
  await new FirestoreRunStore(db).create(
    storedRunRecord({ run_id: 'run-b0117000000c', status: 'completed' }, 'arc-built-runs'),
  );
});

afterAll(async () => {
  await Promise.all([api?.stop(), prepare?.stop()]);
  await jwks?.close();
  await gcs?.stop();
  await gcsDir?.remove();
  await db.terminate();
});

describe('the built api bundle', () => {
  it('answers 401 without an IAP assertion, and audits the refusal', async () => {
    const response = await request<ErrorBody>(`${api.url}/api/runs`);
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe('missing_token');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    await api.waitForLogLine({ message: 'audit', event: 'access_denied', status: 401 });
  });

  it('answers 404 for an unknown route and for a run that does not exist', async () => {
    const headers = iapHeaders(await iapToken(key, { email: 'bob@example.com' }));
    const nowhere = await request<ErrorBody>(`${api.url}/api/nowhere`, { headers });
    expect(nowhere.status).toBe(404);
    expect(nowhere.body.error.code).toBe('not_found');
    const missing = await request<ErrorBody>(`${api.url}/api/runs/run-000000000000`, { headers });
    expect(missing.status).toBe(404);
  });

  it("answers 404 for another user's run and audits it as denied", async () => {
    const headers = iapHeaders(await iapToken(key, { email: 'mallory@example.com' }));
    const response = await request<ErrorBody>(`${api.url}/api/runs/run-b0117000000c`, { headers });
    expect(response.status).toBe(404);
    await api.waitForLogLine({
      message: 'audit',
      event: 'access_denied',
      user: 'mallory@example.com',
      run_id: 'run-b0117000000c',
    });
  });

  it('answers 400 for an invalid body and 409 for recovering a completed run', async () => {
    const headers = iapHeaders(await iapToken(key, { email: 'alice@example.com' }));
    const invalid = await request<ErrorBody>(`${api.url}/api/runs`, { method: 'POST', headers, json: {} });
    expect(invalid.status).toBe(400);
    const recover = await request<ErrorBody>(`${api.url}/api/runs/run-b0117000000c/recover`, {
      method: 'POST',
      headers,
      json: {},
    });
    expect(recover.status, JSON.stringify(recover.body)).toBe(409);
    expect(recover.body.error.code).toBe('conflict');
  });

  it('answers 503 when the warehouse is down', async () => {
    const headers = iapHeaders(await iapToken(key, { email: 'dana@example.com' }));
    const response = await request<ErrorBody>(`${api.url}/api/benchling/runs`, { headers });
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('upstream_unavailable');
  });

  it('answers /api/ready with 503 naming Batch when there are no Google credentials, and keeps serving', async () => {
    const ready = await request<{ status: string; checks: Record<string, { ok: boolean; error?: string }> }>(
      `${api.url}/api/ready`,
    );
    expect(ready.status, JSON.stringify(ready.body)).toBe(503);
    expect(ready.body.checks.batch).toMatchObject({ ok: false });
    expect(ready.body.checks.firestore).toEqual({ ok: true });
    expect((await request(`${api.url}/api/health`)).status).toBe(200);
    expect(api.output()).not.toMatch(/Internal Server Error|UnhandledPromiseRejection/);
  });

  it('answers 429 with Retry-After past the read limit', async () => {
    const headers = iapHeaders(await iapToken(key, { email: 'erin@example.com' }));
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 6; i++) {
      const response = await request(`${api.url}/api/pipelines`, { headers });
      statuses.push(response.status);
      retryAfter ??= response.headers.get('retry-after');
    }
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });
});

describe('the page the built api bundle serves (one origin behind one IAP)', () => {
  it('answers index.html for / and for deep links, never cached, with a CSP that lets it reach Firestore only', async () => {
    for (const path of ['/', '/runs/run-b0117000000c', '/haystack', '/index.html']) {
      const page = await fetch(`${api.url}${path}`);
      expect(page.status, path).toBe(200);
      expect(page.headers.get('content-type'), path).toBe('text/html; charset=utf-8');
      expect(page.headers.get('cache-control'), path).toBe('no-store');
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain(`connect-src 'self' http://${firestoreEmulatorHost()}`);
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(await page.text()).toContain('<div id="app">');
    }
  });

  it('serves the hashed assets index.html names for a year, and nothing else', async () => {
    const html = await (await fetch(`${api.url}/`)).text();
    const script = /src="\/(app-[A-Z0-9]{8}\.js)"/.exec(html)?.[1];
    const stylesheet = /href="\/(app-[A-Z0-9]{8}\.css)"/.exec(html)?.[1];
    expect(script, 'index.html names a hashed script').toBeDefined();
    expect(stylesheet, 'index.html names a hashed stylesheet').toBeDefined();
    for (const [file, type] of [
      [script, 'javascript'],
      [stylesheet, 'text/css'],
    ]) {
      const asset = await fetch(`${api.url}/${file}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toContain(type);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }
    // A file the build did not make, a path out of the page's folder, a dotfile: 404, no page.
    for (const path of ['/app.js', '/nope-ABCDEFGH.js', '/..%2fpackage.json', '/%2e%2e/index.js', '/.env']) {
      const missing = await fetch(`${api.url}${path}`);
      expect(missing.status, path).toBe(404);
      expect(await missing.text(), path).not.toContain('<div id="app">');
    }
    const posted = await fetch(`${api.url}/`, { method: 'POST', body: 'x' });
    expect(posted.status).toBe(405);
    expect(posted.headers.get('allow')).toBe('GET, HEAD');
  });

  it('leaves /api to the API: JSON, its own headers, sign-in required', async () => {
    const health = await fetch(`${api.url}/api/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toContain('application/json');
    expect(health.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect((await fetch(`${api.url}/api/nothing-here`)).status).toBe(404);
    expect((await fetch(`${api.url}/api/runs`)).status).toBe(401);
  });
});

describe('what each bundle carries', () => {
  const packagesOf = (name: string) =>
    JSON.parse(readFileSync(`${inject('functionsDir')}/${name}.packages.json`, 'utf8')) as {
      bundled: string[];
      external: string[];
    };

  it.each(['onBatchJobEvent', 'onRunArtifact', 'prepareRun', 'reconcileRun', 'sweepStaleRuns'])(
    '%s carries no warehouse driver, no Anthropic SDK and no client it does not use',
    (name) => {
      const { bundled, external } = packagesOf(name);
      expect(bundled.filter((p) => p.startsWith('pg'))).toEqual([]);
      expect(external).not.toContain('pg-native');
      const unused = [
        '@google-cloud/logging',
        '@google-cloud/secret-manager',
        'jose',
        '@anthropic-ai/sdk',
        // HAYSTACK's statistics: only its agent job computes them.
        '@stdlib/math-base-special-gammaln',
      ];
      // CloudEvent functions answer no HTTP of their own: no Express, no security headers.
      if (name.startsWith('on')) unused.push('express', 'helmet', 'cors');
      for (const pkg of unused) expect([...bundled, ...external]).not.toContain(pkg);
    },
  );

  it('the api carries the warehouse driver and the Anthropic SDK it uses', () => {
    expect(packagesOf('api').bundled).toEqual(expect.arrayContaining(['pg', '@anthropic-ai/sdk']));
  });
});

describe('the built prepareRun bundle', () => {
  it('answers 409 for a run that is no longer pending and 404 for an unknown run, logging the error by name', async () => {
    const conflict = await request<ErrorBody>(`${prepare.url}/`, {
      method: 'POST',
      json: { run_id: 'run-b0117000000c' },
    });
    expect(conflict.status).toBe(409);
    const missing = await request<ErrorBody>(`${prepare.url}/`, {
      method: 'POST',
      json: { run_id: 'run-000000000000' },
    });
    expect(missing.status).toBe(404);
    // Names survive minification, so the logs say what failed.
    await prepare.waitForOutput('ConflictError');
  });
});
