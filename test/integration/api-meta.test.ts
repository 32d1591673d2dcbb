import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateRunRequest } from '../../functions/core/runs/run-model';
import { freePort } from '../../scripts/lib/net';
import { asUser, request, startTestApi, type TestApi } from '../helpers/api-server';

const ready = (url: string) =>
  request<{ status: string; checks: Record<string, { ok: boolean; error?: string }> }>(`${url}/api/ready`);

const holes: Server[] = [];
/** A peer that accepts TCP and never says a word (a frozen host, a black-holed route). */
async function blackHole(): Promise<{ host: string }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => void sockets.push(socket));
  server.on('close', () => {
    for (const socket of sockets) socket.destroy();
  });
  holes.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}
afterAll(() => {
  for (const hole of holes) hole.close();
});

let api: TestApi;
const ALICE = asUser('alice@example.com');

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

describe('pipelines', () => {
  it('lists nf-core/rnaseq, nf-core/sarek and nf-core/scrnaseq with their versions and defaults', async () => {
    const response = await request<{
      pipelines: { name: string; versions: string[]; default_version: string }[];
    }>(`${api.url}/api/pipelines`, { headers: ALICE });
    expect(response.status).toBe(200);
    expect(response.body.pipelines).toEqual([
      expect.objectContaining({ name: 'nf-core/rnaseq', versions: ['3.24.0'], default_version: '3.24.0' }),
      expect.objectContaining({ name: 'nf-core/sarek', versions: ['3.10.0'], default_version: '3.10.0' }),
      expect.objectContaining({
        name: 'nf-core/scrnaseq',
        versions: ['2.7.1', '3.0.0', '4.0.0'],
        default_version: '4.0.0',
      }),
    ]);
  });

  it.each(['nf-core/scrnaseq', 'nf-core%2Fscrnaseq', 'NF-CORE%2FSCRNASEQ'])(
    'finds the pipeline by %s',
    async (name) => {
      const response = await request<{
        name: string;
        releases: { version: string; json_schema_dialect: string; samplesheet: { required: string[] } }[];
      }>(`${api.url}/api/pipelines/${name}`, { headers: ALICE });
      expect(response.status).toBe(200);
      expect(response.body.name).toBe('nf-core/scrnaseq');
      expect(response.body.releases.map((r) => r.json_schema_dialect)).toEqual([
        'http://json-schema.org/draft-07/schema',
        'https://json-schema.org/draft/2020-12/schema',
        'https://json-schema.org/draft/2020-12/schema',
      ]);
      expect(response.body.releases[2]!.samplesheet.required).toEqual(['sample', 'fastq_1', 'fastq_2']);
    },
  );

  it('serves the shipped nextflow_schema.json of a version, default 4.0.0', async () => {
    const latest = await request<{ version: string; nextflow_schema: { $defs: object } }>(
      `${api.url}/api/pipelines/nf-core/scrnaseq/schema`,
      { headers: ALICE },
    );
    expect(latest.status).toBe(200);
    expect(latest.body.version).toBe('4.0.0');
    expect(Object.keys(latest.body.nextflow_schema.$defs)).toContain('simpleaf_options');
    const old = await request<{ version: string; nextflow_schema: { definitions: object } }>(
      `${api.url}/api/pipelines/nf-core%2Fscrnaseq/schema?version=2.7.1`,
      { headers: ALICE },
    );
    expect(old.body.version).toBe('2.7.1');
    expect(Object.keys(old.body.nextflow_schema.definitions)).toContain('alevin_options');
  });

  it('answers 404 listing what exists for an unknown pipeline or version', async () => {
    const pipeline = await request<{ error: { message: string } }>(
      `${api.url}/api/pipelines/nf-core/nowhere`,
      {
        headers: ALICE,
      },
    );
    expect(pipeline.status).toBe(404);
    expect(pipeline.body.error.message).toContain(
      'Known pipelines: nf-core/rnaseq, nf-core/sarek, nf-core/scrnaseq',
    );
    const version = await request<{ error: { message: string } }>(
      `${api.url}/api/pipelines/nf-core/scrnaseq/schema?version=1.0.0`,
      { headers: ALICE },
    );
    expect(version.status).toBe(404);
    expect(version.body.error.message).toContain('Known versions: 2.7.1, 3.0.0, 4.0.0');
  });
});

describe('health and readiness', () => {
  it('health answers without identity', async () => {
    const response = await request(`${api.url}/api/health`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok', version: expect.any(String) });
  });

  it('ready checks Firestore, storage and Batch, and reports an assistant without a key as disabled, not failing', async () => {
    const response = await request(`${api.url}/api/ready`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      status: 'ready',
      checks: {
        firestore: { ok: true },
        storage: { ok: true },
        batch: { ok: true },
        assistant: { ok: true, note: 'disabled: no Anthropic API key is configured' },
      },
    });
  });

  it.each([
    [
      'refuses connections',
      async () => `127.0.0.1:${await freePort()}`,
      /Batch jobs\.list failed|not answering/,
    ],
    [
      'accepts connections and never answers',
      async () => (await blackHole()).host,
      /did not answer within 3 s/,
    ],
  ])('ready answers 503 within its deadline when Batch %s, naming no address', async (_how, host, reason) => {
    const hostPort = await host();
    const broken = await startTestApi({ env: { BATCH_EMULATOR_HOST: hostPort } });
    try {
      const response = await ready(broken.url);
      expect(response.status).toBe(503);
      expect(response.body.checks).toMatchObject({ firestore: { ok: true }, storage: { ok: true } });
      expect(response.body.checks.batch).toEqual({ ok: false, error: expect.stringMatching(reason) });
      expect(JSON.stringify(response.body)).not.toContain(hostPort);
    } finally {
      await broken.close();
    }
  });

  it('ready answers 503 naming the check that failed', async () => {
    const broken = await startTestApi({
      env: { RUNS_BUCKET: 'bucket-that-was-never-created' },
      createBucket: false,
    });
    try {
      const response = await ready(broken.url);
      expect(response.status).toBe(503);
      expect(response.body.status).toBe('unavailable');
      expect(response.body.checks.firestore).toEqual({ ok: true });
      expect(response.body.checks.storage).toEqual({
        ok: false,
        error: 'bucket bucket-that-was-never-created does not exist',
      });
    } finally {
      await broken.close();
    }
  });
});

describe('OpenAPI', () => {
  it('describes every route, with request schemas generated from the validating zod schemas', async () => {
    const response = await request<{
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>
      >;
    }>(`${api.url}/api/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe('3.1.0');
    expect(Object.keys(response.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/runs',
        '/api/runs/{id}',
        '/api/pipelines/{name}',
        '/api/pipelines/{name}/schema',
        '/api/health',
        '/api/ready',
      ]),
    );
    expect(Object.keys(response.body.paths['/api/runs']!)).toEqual(['get', 'post']);
    const { $schema: _dialect, ...expected } = (await import('zod')).z.toJSONSchema(CreateRunRequest, {
      io: 'input',
      unrepresentable: 'any',
    });
    expect(response.body.paths['/api/runs']!.post!.requestBody!.content['application/json']!.schema).toEqual(
      expected,
    );
  });
});
