import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyProgress, type Run } from '../../functions/core/runs/run-model';
import { waitFor } from '../../scripts/lib/net';
import { asUser, request, startTestApi, type TestApi } from '../helpers/api-server';
import { runBody, samplesheet } from '../helpers/samplesheets';

let api: TestApi;
const ALICE = asUser('alice@example.com');
const BOB = asUser('bob@example.com');

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

async function create(headers = ALICE, overrides: Record<string, unknown> = {}): Promise<Run> {
  const response = await request<Run>(`${api.url}/api/runs`, {
    method: 'POST',
    headers,
    json: runBody(overrides),
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

describe('POST /api/runs', () => {
  it('stores a pending run with defaults applied and the samplesheet in the bucket', async () => {
    const sheet = samplesheet(3, 2);
    const response = await request<Run>(`${api.url}/api/runs`, {
      method: 'POST',
      headers: ALICE,
      json: runBody({ samplesheet_csv: sheet, source_ngs_runs: ['NGS-2026-0142'], source_project: 'Atlas' }),
    });
    expect(response.status).toBe(201);
    const run = response.body;
    expect(response.headers.get('location')).toBe(`/api/runs/${run.run_id}`);
    expect(run).toMatchObject({
      status: 'pending',
      pipeline: 'nf-core/scrnaseq',
      pipeline_version: '4.0.0',
      user_email: 'alice@example.com',
      sample_count: 3,
      samples: ['SAMPLE_1', 'SAMPLE_2', 'SAMPLE_3'],
      source_ngs_runs: ['NGS-2026-0142'],
      source_project: 'Atlas',
      gcs_path: `gs://arc-test-runs/runs/${run.run_id}`,
      attempt: 1,
      is_recovery: false,
      parent_run_id: null,
      root_run_id: run.run_id,
      submitted_at: null,
    });
    expect(run.run_id).toMatch(/^run-[a-z0-9]{12}$/);
    expect(run.params).toMatchObject({
      aligner: 'star',
      genome: 'GRCh38',
      publish_dir_mode: 'copy',
      input: `gs://arc-test-runs/runs/${run.run_id}/inputs/samplesheet.csv`,
      outdir: `gs://arc-test-runs/runs/${run.run_id}/results`,
    });
    const stored = await api.deps.objects.read(`runs/${run.run_id}/request/samplesheet.csv`);
    expect(stored.toString()).toBe(sheet);
    const doc = await api.firestore.collection('runs').doc(run.run_id).get();
    // Stored: additive counters only. Shown: with running, total_known and where they come from.
    // label_pairs: the labels in the form the list's label filter queries; recovery_run_ids:
    // its recoveries, which GET /api/runs/{id} shows as `recoveries`. The failed task's exit
    // code is read from the error when the run is shown, not stored.
    const { failed_task_exit_code: shownOnly, ...record } = run as typeof run & {
      failed_task_exit_code: null;
    };
    expect(shownOnly).toBeNull();
    expect(doc.data()).toEqual({
      ...record,
      progress: emptyProgress(),
      label_pairs: [],
      search_terms: expect.arrayContaining(['sa', 'sample_1']),
      recovery_run_ids: [],
    });
    expect(run).not.toHaveProperty('recovery_run_ids');
    expect(run.progress).toEqual({ ...emptyProgress(), running: 0, total_known: 0, source: 'live' });
  });

  it('takes a YAML samplesheet (samplesheet_format) and stores the CSV the pipeline reads', async () => {
    const [header, ...lines] = samplesheet(2).trim().split('\n');
    const columns = header!.split(',');
    const yaml = lines
      .map((line) =>
        line
          .split(',')
          .map((cell, i) => `${i === 0 ? '- ' : '  '}${columns[i]}: "${cell}"`)
          .join('\n'),
      )
      .join('\n');
    const run = await create(ALICE, { samplesheet_csv: yaml, samplesheet_format: 'yaml' });
    expect(run.sample_count).toBe(2);
    const stored = (await api.deps.objects.read(`runs/${run.run_id}/request/samplesheet.csv`)).toString();
    expect(stored).toBe(samplesheet(2));
  });

  it('defaults to the pipeline default version', async () => {
    const run = await create(ALICE, { pipeline_version: undefined });
    expect(run.pipeline_version).toBe('4.0.0');
  });

  it('returns param warnings for unknown params', async () => {
    const run = await create(ALICE, { params: { aligner: 'star', genome: 'GRCh38', my_flag: true } });
    expect(run.param_warnings).toEqual([expect.stringContaining('Unrecognised param "my_flag"')]);
    expect(run.params.my_flag).toBe(true);
  });

  it('launches with https:// and ftp:// reads, as nf-core sheets name them, warning that nothing checked them', async () => {
    const remote = [
      'sample,fastq_1,fastq_2,expected_cells',
      'SAMPLE_1,https://raw.githubusercontent.com/nf-core/test-datasets/scrnaseq/testdata/S10_L001_R1_001.fastq.gz,ftp://ftp.sra.ebi.ac.uk/vol1/fastq/SRR100/030/SRR10070130/SRR10070130_2.fastq.gz,5000',
    ].join('\n');
    const run = await create(ALICE, { samplesheet_csv: remote });
    expect(run.status).toBe('pending');
    expect(run.param_warnings).toEqual([
      expect.stringMatching(
        /^Row 1, column fastq_1: https:\/\/raw\.githubusercontent\.com\/.* is fetched by Nextflow when a task needs it/,
      ),
      expect.stringMatching(
        /^Row 1, column fastq_2: ftp:\/\/ftp\.sra\.ebi\.ac\.uk\/.* is fetched by Nextflow/,
      ),
    ]);
    // Kept as given, for Nextflow to fetch on the task's VM.
    const stored = (await api.deps.objects.read(`runs/${run.run_id}/request/samplesheet.csv`)).toString();
    expect(stored).toContain('https://raw.githubusercontent.com/');
  });

  it('creates the user on first sight and refreshes last_login_at', async () => {
    await request(`${api.url}/api/runs`, { headers: asUser('carol@example.com') });
    const first = (await api.firestore.collection('users').doc('carol@example.com').get()).data();
    expect(first).toMatchObject({
      email: 'carol@example.com',
      display_name: 'carol',
      stats: { total_runs: 0 },
    });
    // The next sign-in must come at a later millisecond for last_login_at to move.
    await waitFor(() => Date.now() > Date.parse(first?.last_login_at), {
      timeoutMs: 1_000,
      what: 'the clock to tick',
    });
    await request(`${api.url}/api/runs`, { headers: asUser('carol@example.com') });
    const second = (await api.firestore.collection('users').doc('carol@example.com').get()).data();
    expect(second?.created_at).toBe(first?.created_at);
    expect(second?.last_login_at > first?.last_login_at).toBe(true);
  });
});

describe('GET /api/runs/{id}', () => {
  it('returns the run, with its status history on request', async () => {
    const run = await create();
    const plain = await request<Run>(`${api.url}/api/runs/${run.run_id}`, { headers: ALICE });
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual({ ...run, recoveries: [] });
    const withEvents = await request<Run & { events: unknown[] }>(
      `${api.url}/api/runs/${run.run_id}?include=events`,
      { headers: ALICE },
    );
    expect(withEvents.body.events).toEqual([
      {
        source: 'api',
        from: null,
        to: 'pending',
        at: run.created_at,
        detail: 'Created by alice@example.com',
        applied: true,
      },
    ]);
  });

  it('answers 404 for an unknown or malformed id', async () => {
    expect((await request(`${api.url}/api/runs/run-zzzzzzzzzzzz`, { headers: ALICE })).status).toBe(404);
    const malformed = await request<{ error: { code: string } }>(`${api.url}/api/runs/..%2F..%2Fetc`, {
      headers: ALICE,
    });
    expect(malformed.status).toBe(404);
    expect(malformed.body.error.code).toBe('not_found');
  });
});

describe('DELETE /api/runs/{id}', () => {
  it('cancels a pending run, and a second cancel returns it unchanged', async () => {
    const run = await create();
    const first = await request<Run>(`${api.url}/api/runs/${run.run_id}`, {
      method: 'DELETE',
      headers: ALICE,
    });
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('cancelled');
    expect(first.body.cancelled_at).toEqual(expect.any(String));
    const second = await request<Run>(`${api.url}/api/runs/${run.run_id}`, {
      method: 'DELETE',
      headers: ALICE,
    });
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    const history = await api.deps.runs.history(run.run_id);
    expect(history.map((h) => [h.source, h.from, h.to])).toEqual([
      ['api', null, 'pending'],
      ['api', 'pending', 'cancelled'],
    ]);
  });

  it('refuses to cancel a completed run with 409 naming its status', async () => {
    const run = await create();
    await api.deps.runs.apply(run.run_id, {
      to: 'completed',
      at: new Date().toISOString(),
      source: 'workflow',
      exit_code: 0,
    });
    const response = await request<{ error: { code: string; message: string } }>(
      `${api.url}/api/runs/${run.run_id}`,
      {
        method: 'DELETE',
        headers: ALICE,
      },
    );
    expect(response.status).toBe(409);
    expect(response.body.error).toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('already completed'),
    });
  });
});

describe('cross-user isolation', () => {
  it("hides alice's run from bob: get, cancel and list", async () => {
    const run = await create(ALICE);
    const get = await request(`${api.url}/api/runs/${run.run_id}`, { headers: BOB });
    expect(get.status).toBe(404);
    const cancel = await request(`${api.url}/api/runs/${run.run_id}`, { method: 'DELETE', headers: BOB });
    expect(cancel.status).toBe(404);
    expect((await api.deps.runs.get(run.run_id))?.status).toBe('pending');
    const list = await request<{ runs: Run[] }>(`${api.url}/api/runs?page_size=100`, { headers: BOB });
    expect(list.body.runs.map((r) => r.run_id)).not.toContain(run.run_id);
  });

  it('answers the same 404 for a run that does not exist and for a run of another user', async () => {
    const run = await create(ALICE);
    const foreign = await request<{ error: unknown }>(`${api.url}/api/runs/${run.run_id}`, { headers: BOB });
    const missing = await request<{ error: { message: string } }>(`${api.url}/api/runs/run-000000000000`, {
      headers: BOB,
    });
    expect(foreign.status).toBe(missing.status);
    expect(foreign.body).toEqual({
      error: { code: 'not_found', message: `Run ${run.run_id} was not found.` },
    });
  });
});
