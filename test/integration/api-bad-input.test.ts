import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { asUser, request, startTestApi, type TestApi } from '../helpers/api-server';
import { runBody, samplesheet } from '../helpers/samplesheets';

let api: TestApi;
const ALICE = asUser('alice@example.com');

interface ErrorBody {
  error: {
    code: string;
    message: string;
    details?: { field?: string; row?: number; column?: string; rule?: string; message: string }[];
  };
}

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

async function nothingWritten(): Promise<void> {
  const runs = await api.firestore.collection('runs').count().get();
  expect(runs.data().count).toBe(0);
  const [files] = await (await import('../../functions/deps'))
    .createStorage(api.config)
    .bucket(api.config.runsBucket)
    .getFiles({ prefix: 'runs/' });
  expect(files.map((f) => f.name)).toEqual([]);
}

async function post(json: unknown, headers: Record<string, string> = ALICE) {
  return request<ErrorBody>(`${api.url}/api/runs`, { method: 'POST', headers, json });
}

beforeEach(async () => {
  await nothingWritten();
});

describe('POST /api/runs refuses bad input and writes nothing', () => {
  it('malformed JSON: 400 in the API error shape, no stack trace', async () => {
    const response = await request<ErrorBody>(`${api.url}/api/runs`, {
      method: 'POST',
      headers: { ...ALICE, 'content-type': 'application/json' },
      body: '{"pipeline": "nf-core/scrnaseq", ',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(response.body.error.code).toBe('malformed_json');
    expect(response.body.error.message).toMatch(/not valid JSON|JSON/);
    // The framework answers before our handler runs; the hardening headers are there all the same.
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(JSON.stringify(response.body)).not.toMatch(/at .*\.js:\d+/);
    await nothingWritten();
  });

  it('a body that is not JSON: 415', async () => {
    const response = await request<ErrorBody>(`${api.url}/api/runs`, {
      method: 'POST',
      headers: { ...ALICE, 'content-type': 'text/plain' },
      body: 'pipeline=nf-core/scrnaseq',
    });
    expect(response.status).toBe(415);
    expect(response.body.error.message).toMatch(/Content-Type: application\/json/);
    await nothingWritten();
  });

  it.each([
    ['an array body', [1, 2], undefined],
    ['pipeline of the wrong type', runBody({ pipeline: 42 }), 'pipeline'],
    ['params that are not an object', runBody({ params: 'aligner=star' }), 'params'],
    ['source_ngs_runs not a list', runBody({ source_ngs_runs: 'NGS-1' }), 'source_ngs_runs'],
    ['an unknown top-level field', runBody({ sample_sheet: 'x' }), undefined],
  ])('wrong types: %s', async (_name, body, field) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalid_request');
    if (field) expect(response.body.error.details?.map((d) => d.field)).toContain(field);
    await nothingWritten();
  });

  it.each(['pipeline', 'samplesheet_csv'])('missing field: %s', async (field) => {
    const body = runBody();
    delete body[field];
    const response = await post(body);
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([expect.objectContaining({ field })]);
    await nothingWritten();
  });

  it('an unknown pipeline: the message lists the known ones', async () => {
    const response = await post(runBody({ pipeline: 'nf-core/nowhere' }));
    expect(response.status).toBe(400);
    expect(response.body.error.message).toBe(
      'Unknown pipeline "nf-core/nowhere". Known pipelines: nf-core/rnaseq, nf-core/sarek, nf-core/scrnaseq.',
    );
    expect(response.body.error.details).toEqual([expect.objectContaining({ field: 'pipeline' })]);
    await nothingWritten();
  });

  it('an unknown version: the message lists the known ones', async () => {
    const response = await post(runBody({ pipeline_version: '9.9.9' }));
    expect(response.status).toBe(400);
    expect(response.body.error.message).toMatch(
      /Unknown version "9.9.9" of nf-core\/scrnaseq\. Known versions: 2\.7\.1, 3\.0\.0, 4\.0\.0/,
    );
    expect(response.body.error.details).toEqual([expect.objectContaining({ field: 'pipeline_version' })]);
    await nothingWritten();
  });

  it('a samplesheet with a missing column', async () => {
    const response = await post(runBody({ samplesheet_csv: 'sample,fastq_1\nS1,gs://b/S1_R1.fastq.gz\n' }));
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([
      expect.objectContaining({ field: 'samplesheet_csv', row: 0, column: 'fastq_2', rule: 'required' }),
    ]);
    await nothingWritten();
  });

  it('a bad FASTQ pattern on row 7', async () => {
    const lines = samplesheet(8).trim().split('\n');
    lines[7] = lines[7]!.replace('_R2_001.fastq.gz', '_R2_001.bam');
    const response = await post(runBody({ samplesheet_csv: lines.join('\n') }));
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([
      expect.objectContaining({ field: 'samplesheet_csv', row: 7, column: 'fastq_2', rule: 'pattern' }),
    ]);
    expect(response.body.error.message).toMatch(/Row 7, column fastq_2/);
    await nothingWritten();
  });

  it('an expected_cells that is not an integer', async () => {
    const sheet = samplesheet(2).replace(/,5000\n$/, ',about 5000\n');
    const response = await post(runBody({ samplesheet_csv: sheet }));
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([
      expect.objectContaining({
        row: 2,
        column: 'expected_cells',
        rule: 'type',
        message: 'Row 2, column expected_cells: Expected cells must be an Integer',
      }),
    ]);
    await nothingWritten();
  });

  it('params that break the pipeline schema name the param and the rule', async () => {
    const response = await post(runBody({ params: { aligner: 'bwa', skip_fastqc: 'no' } }));
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'params.aligner', rule: 'enum' }),
        expect.objectContaining({ field: 'params.skip_fastqc', rule: 'type' }),
      ]),
    );
    await nothingWritten();
  });

  it('a samplesheet over 10 MB: 413 with the size and the limit', async () => {
    const row =
      'SAMPLE_X,gs://arc-demo-fastq/ngs/a_very_long_path_for_padding/S1_L001_R1_001.fastq.gz,gs://arc-demo-fastq/ngs/S1_L001_R2_001.fastq.gz,5000\n';
    const big = `sample,fastq_1,fastq_2,expected_cells\n${row.repeat(Math.ceil((10 * 1024 * 1024) / row.length) + 10)}`;
    const response = await post(runBody({ samplesheet_csv: big }));
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('payload_too_large');
    expect(response.body.error.message).toMatch(/^samplesheet_csv is 10\.0 MB; the limit is 10\.0 MB/);
    await nothingWritten();
  });

  it('a config over 100 KB: 413', async () => {
    const response = await post(runBody({ config_content: `// ${'x'.repeat(100 * 1024)}` }));
    expect(response.status).toBe(413);
    expect(response.body.error.message).toMatch(/^config_content is 101 KB; the limit is 100 KB/);
    await nothingWritten();
  });

  it('a whole body over the request limit: 413 before parsing fields', async () => {
    const response = await post({ pipeline: 'nf-core/scrnaseq', padding: 'x'.repeat(25 * 1024 * 1024) });
    expect(response.status).toBe(413);
    await nothingWritten();
  });

  it.each(['__proto__', 'constructor'])('a %s key anywhere in the body', async (key) => {
    const text = JSON.stringify(runBody()).replace('"params":{', `"params":{"${key}":{"polluted":true},`);
    const response = await request<ErrorBody>(`${api.url}/api/runs`, {
      method: 'POST',
      headers: { ...ALICE, 'content-type': 'application/json' },
      body: text,
    });
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([
      expect.objectContaining({ field: `params.${key}`, rule: 'forbidden_key' }),
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await nothingWritten();
  });

  it('no identity: 401 with a reason code', async () => {
    const response = await post(runBody(), {});
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe('missing_identity');
    await nothingWritten();
  });
});

describe('routing errors', () => {
  it('answers 404 in the API error shape for an unknown route', async () => {
    const response = await request<ErrorBody>(`${api.url}/api/nothing-here`, { headers: ALICE });
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe('not_found');
  });

  it('answers 405 with Allow for a wrong method', async () => {
    const response = await request<ErrorBody>(`${api.url}/api/runs`, { method: 'PUT', headers: ALICE });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, POST');
  });
});
