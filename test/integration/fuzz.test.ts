import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKernelDeps, createStorage } from '../../functions/deps';
import { createPrepareRunHandler, createReconcileRunHandler } from '../../functions/http/workflow-steps';
import { asUser, request, startTestApi, type TestApi } from '../helpers/api-server';
import { runBody } from '../helpers/samplesheets';
import { type TestWarehouse, testWarehouse } from '../helpers/warehouse';

const BODIES = 10_000;
const SEED = 20261123;
const ALICE = asUser('alice@example.com');

let api: TestApi;
let steps: Server[] = [];
let completedRunId: string;
let warehouse: TestWarehouse;

async function serve(name: string, handler: Parameters<typeof functions.http>[1]): Promise<string> {
  functions.http(name, handler);
  const server = getTestServer(name);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  steps.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Body {
  text: string;
  contentType: string;
}

const json = (value: unknown): Body => ({
  text: JSON.stringify(value) ?? 'null',
  contentType: 'application/json',
});
const FIELDS = [
  'pipeline',
  'pipeline_version',
  'samplesheet_csv',
  'config_content',
  'params',
  'source_ngs_runs',
  'source_project',
  'reuse_work_dir',
  'notes',
  'override_params',
  'override_config',
  'run_id',
  'phase',
  'job',
  'error',
] as const;
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];

/** What a hostile or broken client sends. */
const bodies: fc.Arbitrary<Body> = fc.oneof(
  // Any JSON value at all.
  { weight: 20, arbitrary: fc.jsonValue({ maxDepth: 6 }).map(json) },
  // The right field names with values of any type.
  {
    weight: 30,
    arbitrary: fc
      .record(
        Object.fromEntries(FIELDS.map((f) => [f, fc.jsonValue({ maxDepth: 3 })])) as Record<
          string,
          fc.Arbitrary<unknown>
        >,
        {
          requiredKeys: [],
        },
      )
      .map(json),
  },
  // Nearly valid requests with one field broken.
  {
    weight: 15,
    arbitrary: fc
      .tuple(fc.constantFrom(...FIELDS), fc.jsonValue({ maxDepth: 3 }))
      .map(([field, value]) => json({ ...runBody(), reuse_work_dir: true, [field]: value })),
  },
  // Prototype keys, at the top or nested.
  {
    weight: 10,
    arbitrary: fc
      .tuple(fc.constantFrom(...PROTOTYPE_KEYS), fc.jsonValue({ maxDepth: 2 }), fc.boolean())
      .map(([key, value, nested]) => {
        const inner = `{"${key}": ${JSON.stringify(value) ?? 'null'}, "is_admin": true}`;
        return {
          text: nested ? `{"params": ${inner}, "override_params": ${inner}}` : inner,
          contentType: 'application/json',
        };
      }),
  },
  // Deep nesting.
  {
    weight: 5,
    arbitrary: fc.tuple(fc.integer({ min: 20, max: 20_000 }), fc.boolean()).map(([depth, arrays]) => ({
      text: arrays
        ? `${'['.repeat(depth)}${']'.repeat(depth)}`
        : `${'{"params":'.repeat(depth)}{}${'}'.repeat(depth)}`,
      contentType: 'application/json',
    })),
  },
  // Long strings (the huge ones are added once each, below).
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...FIELDS),
        fc.integer({ min: 1_000, max: 300_000 }),
        fc.constantFrom('x', '\u0000', 'é', '"'),
      )
      .map(([field, length, char]) => json({ ...runBody(), unexpected: true, [field]: char.repeat(length) })),
  },
  // Not JSON, or not declared as JSON.
  {
    weight: 10,
    arbitrary: fc.string({ maxLength: 200 }).map((text) => ({ text, contentType: 'application/json' })),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.jsonValue({ maxDepth: 2 }),
        fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', ''),
      )
      .map(([value, contentType]) => ({ text: JSON.stringify(value) ?? '', contentType })),
  },
);

beforeAll(async () => {
  // Sign-in is cached for the length of the test: the bodies, not Firestore, are under test.
  warehouse = await testWarehouse();
  api = await startTestApi({ env: { USER_TOUCH_INTERVAL_SECONDS: '3600', ...warehouse.env } });
  const created = await request<{ run_id: string }>(`${api.url}/api/runs`, {
    method: 'POST',
    headers: ALICE,
    json: runBody(),
  });
  completedRunId = created.body.run_id;
  // A finished run: any recovery request for it is refused, whatever else it says.
  await api.firestore.collection('runs').doc(completedRunId).update({ status: 'completed' });
});
afterAll(async () => {
  for (const server of steps) {
    server.closeAllConnections();
    server.close();
  }
  steps = [];
  await api?.close();
  await warehouse?.drop();
});

async function snapshot() {
  const [runs, users, objects] = await Promise.all([
    api.firestore.collection('runs').count().get(),
    api.firestore.collection('users').count().get(),
    createStorage(api.config)
      .bucket(api.config.runsBucket)
      .getFiles()
      .then(([files]) => files),
  ]);
  return { runs: runs.data().count, users: users.data().count, objects: objects.length };
}

describe(`${BODIES.toLocaleString('en')} generated bodies at every POST endpoint`, () => {
  it('answers each with a 4xx, writes nothing, and keeps serving', async () => {
    const logger = api.logs;
    const execution = createKernelDeps(api.config, { logger });
    const targets = [
      { name: 'POST /api/runs', url: `${api.url}/api/runs`, headers: ALICE },
      {
        name: 'POST /api/runs/{id}/recover',
        url: `${api.url}/api/runs/${completedRunId}/recover`,
        headers: ALICE,
      },
      { name: 'POST /api/samplesheets', url: `${api.url}/api/samplesheets`, headers: ALICE },
      {
        name: 'prepareRun',
        url: await serve('fuzzPrepareRun', createPrepareRunHandler(execution)),
        headers: {},
      },
      {
        name: 'reconcileRun',
        url: await serve('fuzzReconcileRun', createReconcileRunHandler(execution)),
        headers: {},
      },
    ];
    const samples = [
      ...fc.sample(bodies, { numRuns: BODIES, seed: SEED }),
      // Ids that would be paths in Firestore.
      json({ run_id: 'runs/run-aaaaaaaaaaaa', phase: 'final' }),
      json({ run_id: '__x__', phase: 'error' }),
      // Beyond every limit: a 12 MB samplesheet, a 26 MB body, 26 MB of garbage.
      json({ ...runBody(), samplesheet_csv: 'x'.repeat(12_000_000) }),
      json({ ...runBody(), params: { blob: 'x'.repeat(26_000_000) } }),
      { text: '{'.repeat(26_000_000), contentType: 'application/json' },
    ];
    const before = await snapshot();
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (const target of targets) {
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < samples.length) {
            const index = next++;
            const body = samples[index]!;
            const headers: Record<string, string> = { ...target.headers };
            if (body.contentType) headers['content-type'] = body.contentType;
            const response = await fetch(target.url, { method: 'POST', headers, body: body.text });
            await response.arrayBuffer();
            statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
            if (response.status < 400 || response.status >= 500) {
              failures.push(`${target.name} #${index} → ${response.status}: ${body.text.slice(0, 300)}`);
            }
          }
        }),
      );
    }
    expect(failures.slice(0, 20), `seed ${SEED}; statuses ${JSON.stringify([...statuses])}`).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(samples.length * targets.length);
    expect(await snapshot()).toEqual(before);
    expect((await request(`${api.url}/api/health`)).status).toBe(200);
    const valid = await request(`${api.url}/api/runs`, { method: 'POST', headers: ALICE, json: runBody() });
    expect(valid.status).toBe(201);
    expect(logger.entries.filter((e) => e.severity === 'ERROR')).toEqual([]);
  }, 600_000);
});
