/**
 * The `haystack` function over HTTP (/api/v1): the real app under the Functions Framework,
 * the Firestore emulator and the local GCS server with the real clients.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreHaystackRunStore } from '../../functions/adapters/firestore-haystack-run-store';
import { loadConfig } from '../../functions/config';
import { DATASET_DEFINITIONS, DATASETS } from '../../functions/core/haystack/vocabulary';
import { haystackPaths } from '../../functions/core/shared/bucket-layout';
import { createFirestore } from '../../functions/deps';
import { createHaystackDeps } from '../../functions/deps/haystack';
import { createHaystackHandler } from '../../functions/http/haystack-app';
import { memoryLogger } from '../../functions/logging';
import { LocalGcsServer } from '../../scripts/local/gcs-server';
import { serveBatch } from '../../scripts/local/grpc/batch-service';
import { serveWorkflows } from '../../scripts/local/grpc/workflows-service';
import { LocalBatch } from '../../scripts/local/local-batch';
import { LocalWorkflows } from '../../scripts/local/local-workflows';
import { localSigner } from '../../scripts/local/signer';
import { asUser, request } from '../helpers/api-server';
import { firestoreEmulatorHost, pubsubEmulatorHost, tempDir, uniqueProjectId } from '../helpers/env';

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
let url: string;
let server: Server;
let gcs: LocalGcsServer;
let dir: Awaited<ReturnType<typeof tempDir>>;
let store: FirestoreHaystackRunStore;
let batch: LocalBatch;
let workflows: LocalWorkflows;
const stoppers: (() => Promise<void>)[] = [];
const logs = memoryLogger();
const config = loadConfig({
  GOOGLE_CLOUD_PROJECT: uniqueProjectId('arc-hs'),
  FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
  PUBSUB_EMULATOR_HOST: pubsubEmulatorHost(),
  RUNS_BUCKET: 'arc-hs-runs',
  AUTH_MODE: 'dev',
  USER_TOUCH_INTERVAL_SECONDS: '0',
  RATE_LIMIT_LAUNCHES_PER_MINUTE: '0',
  RATE_LIMIT_READS_PER_MINUTE: '0',
});

type Body = Record<string, unknown> & {
  error?: { code: string; message: string; details?: { field?: string }[] };
};

beforeAll(async () => {
  dir = await tempDir('arc-hs-gcs-');
  gcs = new LocalGcsServer({ dataDir: dir.path });
  const gcsUrl = await gcs.start();
  const signer = localSigner('arc-hs');
  gcs.trustSigner(signer.credentials.client_email, signer.publicKey);
  // The Batch and Workflows twins: an execution starts per run and is held at its first step.
  batch = new LocalBatch({
    command: [process.execPath, '-e', ''],
    env: {},
    publish: () => {},
    logDir: `${dir.path}/batch`,
  });
  const batchService = await serveBatch(batch);
  workflows = new LocalWorkflows({
    definitionPath: 'workflows/run-pipeline.workflows.yaml',
    jobs: batch,
    holdAll: true,
  });
  const workflowsService = await serveWorkflows(workflows);
  stoppers.push(
    async () => {
      for (const execution of workflows.list()) workflows.cancel(execution.name);
    },
    () => batch.shutdown(),
    () => batchService.stop(),
    () => workflowsService.stop(),
  );
  const withStorage = loadConfig({
    BATCH_EMULATOR_HOST: batchService.host,
    WORKFLOWS_EMULATOR_HOST: workflowsService.host,
    GOOGLE_CLOUD_PROJECT: config.project,
    FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
    PUBSUB_EMULATOR_HOST: pubsubEmulatorHost(),
    STORAGE_EMULATOR_HOST: gcsUrl,
    RUNS_BUCKET: 'arc-hs-runs',
    AUTH_MODE: 'dev',
    USER_TOUCH_INTERVAL_SECONDS: '0',
    RATE_LIMIT_LAUNCHES_PER_MINUTE: '0',
    RATE_LIMIT_READS_PER_MINUTE: '0',
    STORAGE_SIGNER_CREDENTIALS: JSON.stringify(signer.credentials),
  });
  await gcs.createBucket(withStorage.runsBucket);
  functions.http('haystack-test', createHaystackHandler(createHaystackDeps(withStorage, { logger: logs })));
  server = getTestServer('haystack-test');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  store = new FirestoreHaystackRunStore(createFirestore(withStorage));
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  for (const stop of stoppers) await stop();
  await gcs?.stop();
  await dir?.remove();
});

const post = (path: string, json: unknown, user = ALICE) =>
  request<Body>(`${url}${path}`, { method: 'POST', headers: asUser(user), json });
const get = (path: string, user = ALICE) => request<Body>(`${url}${path}`, { headers: asUser(user) });
const QUESTION = 'How would lung fibroblasts respond to IFN-gamma?';

describe('POST /api/v1/runs', () => {
  it.each([
    ['a short query', { query: 'IFN?' }, 'query'],
    ['no query', {}, 'query'],
    ['zero iterations', { query: QUESTION, max_iterations: 0 }, 'max_iterations'],
    ['eleven iterations', { query: QUESTION, max_iterations: 11 }, 'max_iterations'],
    ['a threshold of 11', { query: QUESTION, score_threshold: 11 }, 'score_threshold'],
    ['a fractional threshold', { query: QUESTION, score_threshold: 6.5 }, 'score_threshold'],
    ['an unknown strategy', { query: QUESTION, control_strategy: 'both' }, 'control_strategy'],
    ['an unknown dataset', { query: QUESTION, dataset: 'hca' }, 'dataset'],
    ['an unknown field', { query: QUESTION, gpu: 'a100' }, ''],
  ])('refuses %s with 400 naming the field, storing nothing', async (_name, body, field) => {
    const before = (await get('/api/v1/runs', 'eve@example.com')).body.total;
    const response = await post('/api/v1/runs', body, 'eve@example.com');
    expect(response.status).toBe(400);
    expect(response.body.error?.code).toBe('invalid_request');
    if (field) expect(response.body.error?.details?.map((d) => d.field)).toContain(field);
    expect((await get('/api/v1/runs', 'eve@example.com')).body.total).toBe(before);
  });

  it('creates a pending run with the spec’s defaults, synthetic and stand-in labelled, listed for its owner only', async () => {
    const created = await post('/api/v1/runs', { query: QUESTION });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: 'pending',
      query: QUESTION,
      control_strategy: 'synthetic_control',
      max_iterations: 5,
      score_threshold: 7,
      current_iteration: 0,
      grounding_scores: [],
      dataset_kind: 'synthetic',
      model: 'stack-standin',
    });
    expect(created.body.run_id).toMatch(/^hs-[a-z0-9]{12}$/);
    // Its execution started: the platform's run-pipeline workflow, with HAYSTACK's two steps.
    const execution = workflows.list().find((e) => JSON.parse(e.argument).run_id === created.body.run_id);
    expect(JSON.parse(execution!.argument)).toMatchObject({
      // The same two step functions as every kind's: they look the run's kind up.
      prepare_url: expect.stringMatching(/\/prepareRun$/),
      reconcile_url: expect.stringMatching(/\/reconcileRun$/),
    });
    const mine = await get('/api/v1/runs');
    expect((mine.body.runs as { run_id: string }[]).map((r) => r.run_id)).toContain(created.body.run_id);
    const bobs = await get('/api/v1/runs', BOB);
    expect((bobs.body.runs as { run_id: string }[]).map((r) => r.run_id)).not.toContain(created.body.run_id);
    expect(logs.entries).toContainEqual(
      expect.objectContaining({
        message: 'audit',
        fields: expect.objectContaining({ event: 'run_created', kind: 'haystack' }),
      }),
    );
  });
});

describe('a run', () => {
  it('is 404 to another user on every route, and audited as denied', async () => {
    const { body } = await post('/api/v1/runs', { query: QUESTION });
    const id = body.run_id as string;
    for (const response of [
      await get(`/api/v1/runs/${id}`, BOB),
      await get(`/api/v1/runs/${id}/result`, BOB),
      await post(`/api/v1/runs/${id}/cancel`, {}, BOB),
    ]) {
      expect(response.status).toBe(404);
      expect(response.body.error?.message).toBe(`HAYSTACK run ${id} was not found.`);
    }
    expect((await get(`/api/v1/runs/${id}`)).body.status).toBe('pending');
    expect(
      logs.entries.filter(
        (e) => e.message === 'audit' && e.fields.event === 'access_denied' && e.fields.run_id === id,
      ),
    ).toHaveLength(3);
    expect((await get('/api/v1/runs/run-abcdefghijkl')).status).toBe(404);
  });

  it('is cancelled idempotently, and has no result until it completes (409 with its status)', async () => {
    const { body } = await post('/api/v1/runs', { query: QUESTION, control_strategy: 'query_as_control' });
    const id = body.run_id as string;
    const early = await get(`/api/v1/runs/${id}/result`);
    expect(early.status).toBe(409);
    expect(early.body.error).toMatchObject({ code: 'conflict', details: { status: 'pending' } });
    const first = await post(`/api/v1/runs/${id}/cancel`, {});
    const second = await request<Body>(`${url}/api/v1/runs/${id}/cancel`, {
      method: 'POST',
      headers: asUser(ALICE),
    });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'cancelled', termination_reason: 'cancelled' });
    expect(second.body.cancelled_at).toBe(first.body.cancelled_at);
  });

  it('answers signed URLs of its three outputs once completed, and they download', async () => {
    const { body } = await post('/api/v1/runs', { query: QUESTION });
    const id = body.run_id as string;
    const paths = haystackPaths(id);
    await gcs.putObject('arc-hs-runs', paths.report, '<!doctype html><title>report</title>', 'text/html');
    await gcs.putObject('arc-hs-runs', paths.log, '{}', 'application/json');
    await gcs.putObject('arc-hs-runs', paths.predictions, Buffer.from('HDF'), 'application/x-hdf5');
    await store.update(id, () => ({ final_score: 8, termination_reason: 'threshold_reached' }));
    await store.apply(id, { to: 'completed', at: new Date().toISOString(), source: 'agent' });
    const result = await get(`/api/v1/runs/${id}/result`);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      final_score: 8,
      termination_reason: 'threshold_reached',
      dataset_kind: 'synthetic',
    });
    const report = await fetch(result.body.report_url as string);
    expect(report.status).toBe(200);
    // The report opens in the browser; the data files download under their names.
    expect(report.headers.get('content-type')).toMatch(/^text\/html/);
    expect(report.headers.get('content-disposition')).toBe('inline');
    expect(await report.text()).toContain('<title>report</title>');
    const log = await fetch(result.body.log_url as string);
    expect(log.status).toBe(200);
    expect(log.headers.get('content-disposition')).toBe(`attachment; filename="${id}_log.json"`);
  });
});

describe('before a launch', () => {
  it('checks whether a synthetic control is possible', async () => {
    const check = await post('/api/v1/runs/validate-control-strategy', { query: QUESTION });
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({
      recommendation: 'synthetic_control',
      conditions: ['PBS'],
      warning: null,
      interpreter: 'rules',
    });
    expect(check.body.control_cells_found).toBeGreaterThanOrEqual(10);
    // How it was read, and what the question names that a run would not use.
    const compared = await post('/api/v1/runs/validate-control-strategy', {
      query: 'How do CD14 monocytes respond to IFN-γ compared to IL-4, and to IL-6?',
    });
    expect(compared.status).toBe(200);
    expect(compared.body).toMatchObject({
      understood_as:
        'CD14-positive monocyte (CL:0001054) under IFN-gamma, compared with IL-4, prompted from parse_pbmc',
      perturbation: 'IFN-gamma',
      comparison: 'IL-4',
      not_used: [{ term: 'IL-6', reason: expect.stringContaining('one comparison per question') }],
    });
    const vague = await post('/api/v1/runs/validate-control-strategy', {
      query: 'What does IFN-gamma do to cells?',
    });
    expect(vague.status).toBe(400);
    expect(vague.body.error?.message).toContain('Could not tell which cell type');
  });

  it('lists exactly the vocabulary: datasets, perturbations and cell types', async () => {
    const datasets = await get('/api/v1/metadata/datasets');
    expect((datasets.body.datasets as { name: string }[]).map((d) => d.name)).toEqual([...DATASETS]);
    const perturbations = await get('/api/v1/metadata/perturbations?dataset=parse_pbmc');
    const names = (perturbations.body.perturbations as { name: string }[]).map((p) => p.name);
    expect(names).toEqual(DATASET_DEFINITIONS.parse_pbmc.conditions);
    expect(names).toHaveLength(91);
    const cellTypes = await get('/api/v1/metadata/cell-types?dataset=openproblems');
    expect((cellTypes.body.cell_types as { label: string }[]).map((c) => c.label)).toEqual(
      DATASET_DEFINITIONS.openproblems.cell_types.map((c) => c.label),
    );
    expect((await get('/api/v1/metadata/cell-types?dataset=hca')).status).toBe(400);
  });

  it('answers health at /api/v1/health and /api/v1/health/ready, and its own OpenAPI document', async () => {
    expect((await request(`${url}/api/v1/health`)).status).toBe(200);
    const ready = await request<Body>(`${url}/api/v1/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready' });
    const openapi = await request<{ paths: Record<string, unknown>; info: { title: string } }>(
      `${url}/api/v1/openapi.json`,
    );
    expect(openapi.body.info.title).toBe('Arc Reactor HAYSTACK API');
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/runs',
        '/api/v1/runs/{id}',
        '/api/v1/runs/{id}/result',
        '/api/v1/runs/validate-control-strategy',
      ]),
    );
  });
});
