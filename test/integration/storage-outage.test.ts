/**
 * Cloud Storage unreachable (the local GCS server stopped): every route that reads the run's
 * objects answers 503 upstream_unavailable with Retry-After, in bounded time, and says nothing
 * of where storage lives or how the connection failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreRunStore } from '../../functions/adapters/firestore-run-store';
import { asUser, request, startTestApi, type TestApi } from '../helpers/api-server';
import { storedRunRecord } from '../helpers/runs';
import { runBody } from '../helpers/samplesheets';

let api: TestApi;
const ALICE = asUser('alice@example.com');
const RUN_ID = 'run-5t0ra9e0ut00';

beforeAll(async () => {
  api = await startTestApi();
  await new FirestoreRunStore(api.firestore).create(storedRunRecord({ run_id: RUN_ID, status: 'failed' }));
  for (const name of ['logs/nextflow.log', 'logs/trace.txt', 'results/multiqc/report.html'])
    await api.deps.objects.write(`runs/${RUN_ID}/${name}`, 'content\n', 'text/plain');
  await api.gcs.stop();
});
afterAll(async () => {
  await api?.close();
});

const INTERNALS =
  /127\.0\.0\.1|localhost|ECONNREFUSED|ECONNRESET|ETIMEDOUT|errno|socket|https?:\/\/|storage\.googleapis/i;

describe('Cloud Storage unreachable', () => {
  it.each([
    ['files', `/api/runs/${RUN_ID}/files`],
    ['download', `/api/runs/${RUN_ID}/download?path=results/multiqc/report.html`],
    ['logs', `/api/runs/${RUN_ID}/logs`],
    ['logs tail', `/api/runs/${RUN_ID}/logs?tail=10`],
    ['tasks', `/api/runs/${RUN_ID}/tasks`],
    ['logs download', `/api/runs/${RUN_ID}/logs/download`],
  ])('%s answers 503 upstream_unavailable with Retry-After and no internals', async (_name, path) => {
    const response = await request<{ error: { code: string; message: string } }>(`${api.url}${path}`, {
      headers: ALICE,
    });
    expect(response.status, JSON.stringify(response.body)).toBe(503);
    expect(response.body.error.code).toBe('upstream_unavailable');
    expect(response.body.error.message).toMatch(/Cloud Storage/);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(JSON.stringify(response.body)).not.toMatch(INTERNALS);
  });

  it.each([
    ['launch', '/api/runs'],
    ['preview', '/api/runs/preview'],
  ])('%s answers 503 without the storage address or the errno', async (_name, path) => {
    const response = await request<{ error?: { code: string; message: string }; problems?: unknown }>(
      `${api.url}${path}`,
      { method: 'POST', headers: ALICE, json: runBody() },
    );
    expect(response.status, JSON.stringify(response.body)).toBe(503);
    expect(response.body.error?.code).toBe('upstream_unavailable');
    expect(JSON.stringify(response.body)).not.toMatch(INTERNALS);
    // The operator still learns what happened: the cause is in the log, not the answer.
    expect(api.logs.entries).toContainEqual(
      expect.objectContaining({
        severity: 'ERROR',
        fields: expect.objectContaining({
          error: expect.stringMatching(/ECONNREFUSED|fetch failed|connect/),
        }),
      }),
    );
  });
});
