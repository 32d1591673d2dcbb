import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgSampleWarehouse } from '../../functions/adapters/pg-warehouse';
import { loadConfig } from '../../functions/config';
import { BenchlingService } from '../../functions/core/benchling/sample-warehouse';
import type { Run } from '../../functions/core/runs/run-model';
import { createSecrets, createWarehouse } from '../../functions/deps';
import { createDemoFastqs } from '../../scripts/local/warehouse';
import type { SeedRun } from '../../scripts/local/warehouse-seed';
import { asUser, request, startTestApi, type TestApi } from '../helpers/api-server';
import { runBody } from '../helpers/samplesheets';
import { type TestWarehouse, testWarehouse } from '../helpers/warehouse';

const ALICE = asUser('alice@example.com');
let api: TestApi;
let warehouse: TestWarehouse;
let pgWarehouse: PgSampleWarehouse;
const clock = { at: Date.now(), now: () => new Date(clock.at) };

interface RunsPage {
  runs: {
    id: string;
    name: string;
    run_date: string;
    sample_count: number;
    project: { id: string; name: string };
  }[];
  page: number;
  page_size: number;
  has_more: boolean;
  partial: boolean;
}

beforeAll(async () => {
  warehouse = await testWarehouse();
  // The production factories, with the warehouse kept in hand to count its queries.
  const config = loadConfig({ ...warehouse.env });
  pgWarehouse = createWarehouse(config, createSecrets(config))!;
  api = await startTestApi({
    env: warehouse.env,
    overrides: { benchling: new BenchlingService(pgWarehouse, clock) },
  });
});
afterAll(async () => {
  await api?.close();
  await warehouse?.drop();
});

const live = (runs: SeedRun[]) => runs.filter((r) => !r.archived);
const get = <T = RunsPage>(path: string) => request<T>(`${api.url}${path}`, { headers: ALICE });

describe('GET /api/benchling/metadata', () => {
  it('lists projects and instruments that are not archived, and answers from its cache for 5 minutes', async () => {
    const before = pgWarehouse.stats.queries;
    const first = await get<{
      projects: { name: string }[];
      instruments: { name: string }[];
      stale: boolean;
    }>('/api/benchling/metadata');
    expect(first.status).toBe(200);
    expect(first.body.projects.map((p) => p.name).sort()).toEqual(
      warehouse.seed.projects
        .filter((p) => !p.archived)
        .map((p) => p.name)
        .sort(),
    );
    expect(first.body.instruments.map((i) => i.name)).not.toContain('MiSeq-04 (retired)');
    expect(first.body.instruments).toHaveLength(3);
    expect(first.body.stale).toBe(false);
    const afterFirst = pgWarehouse.stats.queries;
    expect(afterFirst - before).toBe(2);

    clock.at += 4 * 60_000;
    expect((await get('/api/benchling/metadata')).body).toEqual(first.body);
    expect(pgWarehouse.stats.queries).toBe(afterFirst);

    clock.at += 2 * 60_000;
    expect((await get('/api/benchling/metadata')).status).toBe(200);
    expect(pgWarehouse.stats.queries).toBe(afterFirst + 2);
  });
});

describe('GET /api/benchling/runs', () => {
  it('lists runs newest first without archived ones, a page at a time', async () => {
    const expected = live(warehouse.seed.runs).sort((a, b) => b.run_date.localeCompare(a.run_date));
    const first = await get('/api/benchling/runs?page_size=10');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ page: 1, page_size: 10, has_more: true, partial: false });
    expect(first.body.runs.map((r) => r.name)).toEqual(expected.slice(0, 10).map((r) => r.name));
    const last = await get('/api/benchling/runs?page_size=10&page=3');
    expect(last.body.runs.map((r) => r.name)).toEqual(expected.slice(20, 30).map((r) => r.name));
    expect(last.body.has_more).toBe(false);
    const all = await get('/api/benchling/runs?page_size=100');
    expect(all.body.runs).toHaveLength(expected.length);
    for (const run of all.body.runs) {
      const samples = warehouse.seed.samples.filter((s) => s.ngs_run === run.id && !s.archived);
      expect(run.sample_count).toBe(samples.length);
    }
  });

  it('filters by project (id or name), instrument and date range', async () => {
    const project = warehouse.seed.projects[0]!;
    const byId = await get(`/api/benchling/runs?page_size=100&project=${project.id}`);
    const byName = await get(`/api/benchling/runs?page_size=100&project=${encodeURIComponent(project.name)}`);
    const expected = live(warehouse.seed.runs).filter((r) => r.project === project.id);
    expect(expected.length).toBeGreaterThan(0);
    expect(byId.body.runs.map((r) => r.id).sort()).toEqual(expected.map((r) => r.id).sort());
    expect(byName.body.runs).toEqual(byId.body.runs);

    const instrument = warehouse.seed.instruments[0]!;
    const onInstrument = await get(`/api/benchling/runs?page_size=100&instrument=${instrument.id}`);
    expect(onInstrument.body.runs.map((r) => r.id).sort()).toEqual(
      live(warehouse.seed.runs)
        .filter((r) => r.instrument === instrument.id)
        .map((r) => r.id)
        .sort(),
    );

    const sorted = live(warehouse.seed.runs).sort((a, b) => a.run_date.localeCompare(b.run_date));
    const from = sorted[5]!.run_date;
    const to = sorted[12]!.run_date;
    const range = await get(`/api/benchling/runs?page_size=100&from=${from}&to=${to}`);
    expect(range.body.runs.length).toBeGreaterThanOrEqual(8);
    for (const run of range.body.runs) {
      expect(run.run_date >= from && run.run_date <= to).toBe(true);
    }
  });

  it('searches run, project and sample names as literal text', async () => {
    const run = live(warehouse.seed.runs)[4]!;
    const byRun = await get(
      `/api/benchling/runs?q=${encodeURIComponent(run.name.slice(7, 20).toLowerCase())}`,
    );
    expect(byRun.body.runs.map((r) => r.name)).toContain(run.name);

    const sample = warehouse.seed.samples.find((s) => !s.archived && s.ngs_run === run.id)!;
    const bySample = await get(`/api/benchling/runs?q=${encodeURIComponent(sample.name)}`);
    expect(bySample.body.runs.map((r) => r.name)).toContain(run.name);

    // With `_` as a LIKE wildcard, "LH0041_" would match every run on LH00412.
    for (const hostile of ['%', 'LH0041_', '\\', '\\%', "'; DROP TABLE ngs_run; --", "x%' OR 1=1 --"]) {
      const response = await get(`/api/benchling/runs?q=${encodeURIComponent(hostile)}`);
      expect(response.status, hostile).toBe(200);
      expect(response.body.runs, hostile).toEqual([]);
    }
    const admin = await warehouse.admin();
    try {
      const { rows } = await admin.query('SELECT count(*)::int AS n FROM ngs_run');
      expect(rows[0].n).toBe(warehouse.seed.runs.length);
    } finally {
      await admin.end();
    }
  });

  it('refuses bad filters with 400 naming them', async () => {
    const cases: [string, string][] = [
      [`q=${'a'.repeat(10_240)}`, 'q'],
      ['q=abc%00def', 'q'],
      ['from=2026-13-45', 'from'],
      ['from=last%20week', 'from'],
      ['from=2026-06-01&to=2026-01-01', 'from'],
      ['page_size=101', 'page_size'],
      ['page=0', 'page'],
      ['sort=name', 'sort'],
    ];
    for (const [query, field] of cases) {
      const response = await get<{ error: { code: string; message: string; details: { field: string }[] } }>(
        `/api/benchling/runs?${query}`,
      );
      expect(response.status, query).toBe(400);
      expect(response.body.error.code).toBe('invalid_request');
      expect(JSON.stringify(response.body.error.details), query).toContain(field);
    }
  });
});

describe('GET /api/benchling/runs/{name}/samples', () => {
  it('returns the samples with FASTQ paths and metadata, archived ones left out', async () => {
    const run = live(warehouse.seed.runs)[10]!;
    const response = await get<{
      run: { name: string };
      samples: { id: string; name: string; fastq_1: string; fastq_2: string; seq_center: string }[];
    }>(`/api/benchling/runs/${encodeURIComponent(run.name)}/samples`);
    expect(response.status).toBe(200);
    expect(response.body.run.name).toBe(run.name);
    const expected = warehouse.seed.samples.filter((s) => s.ngs_run === run.id && !s.archived);
    expect(response.body.samples.map((s) => s.id).sort()).toEqual(expected.map((s) => s.id).sort());
    const seeded = expected[0]!;
    expect(response.body.samples.find((s) => s.id === seeded.id)).toMatchObject({
      name: seeded.name,
      fastq_1: seeded.fastq_r1,
      fastq_2: seeded.fastq_r2,
      expected_cells: seeded.expected_cells,
      feature_type: seeded.feature_type,
      ngs_run: { id: run.id, name: run.name },
    });
    expect(response.body.samples[0]!.fastq_1).toMatch(/^gs:\/\/arc-demo-sequencing\/.+_R1_001\.fastq\.gz$/);
    const names = response.body.samples.map((s) => s.name);
    expect(names).toEqual([...names].sort());
  });

  it('answers 404 for an unknown or archived run, and 400 for a name with NUL', async () => {
    const archived = warehouse.seed.runs.find((r) => r.archived)!;
    for (const name of ['NO_SUCH_RUN', archived.name, "x' OR '1'='1"]) {
      const response = await get<{ error: { code: string; message: string } }>(
        `/api/benchling/runs/${encodeURIComponent(name)}/samples`,
      );
      expect(response.status, name).toBe(404);
      expect(response.body.error.message).toContain(name);
    }
    expect((await get('/api/benchling/runs/a%00b/samples')).status).toBe(400);
  });
});

describe('POST /api/samplesheets and launching from it', () => {
  const build = (json: unknown) =>
    request<{
      samplesheet_csv: string;
      validation: { valid: boolean; sample_count: number; row_count: number; errors: unknown[] };
      source_ngs_runs: string[];
      source_project: string | null;
      error?: { code: string; message: string };
    }>(`${api.url}/api/samplesheets`, { method: 'POST', headers: ALICE, json });

  it("builds nf-core/rnaseq's samplesheet from the same samples: its columns, strandedness auto, and a launch accepts it", async () => {
    const run = live(warehouse.seed.runs).find((r) =>
      warehouse.seed.samples.some((s) => s.ngs_run === r.id),
    )!;
    const built = await build({ pipeline: 'nf-core/rnaseq', ngs_runs: [run.name] });
    expect(built.status, JSON.stringify(built.body)).toBe(200);
    expect(built.body).toMatchObject({ pipeline: 'nf-core/rnaseq', pipeline_version: '3.24.0' });
    expect(built.body.validation).toMatchObject({ valid: true, errors: [] });
    const [header, ...rows] = built.body.samplesheet_csv.trim().split('\n');
    // rnaseq's seq_center refuses spaces, which the warehouse's locations have: the manifest leaves it out.
    expect(header).toBe('sample,fastq_1,fastq_2,strandedness');
    expect(rows.every((row) => row.split(',')[3] === 'auto')).toBe(true);

    await createDemoFastqs(api.gcs, warehouse.seed);
    const launched = await request<Run>(`${api.url}/api/runs`, {
      method: 'POST',
      headers: ALICE,
      json: {
        pipeline: 'nf-core/rnaseq',
        samplesheet_csv: built.body.samplesheet_csv,
        params: { genome: 'GRCh38' },
        source_ngs_runs: built.body.source_ngs_runs,
      },
    });
    expect(launched.status, JSON.stringify(launched.body)).toBe(201);
    expect(launched.body).toMatchObject({ pipeline: 'nf-core/rnaseq', pipeline_version: '3.24.0' });
  });

  it('builds a valid samplesheet for a run that run creation accepts, recording where it came from', async () => {
    const run = live(warehouse.seed.runs).find((r) =>
      warehouse.seed.samples.some((s) => s.ngs_run === r.id && s.expected_cells !== null),
    )!;
    const built = await build({
      pipeline: 'nf-core/scrnaseq',
      pipeline_version: '4.0.0',
      ngs_runs: [run.name],
    });
    expect(built.status, JSON.stringify(built.body)).toBe(200);
    expect(built.body.validation).toMatchObject({ valid: true, errors: [] });
    const lines = built.body.samplesheet_csv.trim().split('\n');
    expect(lines[0]).toBe('sample,fastq_1,fastq_2,expected_cells,seq_center,sample_type,feature_type');
    const samples = warehouse.seed.samples.filter((s) => s.ngs_run === run.id && !s.archived);
    expect(lines).toHaveLength(samples.length + 1);
    expect(built.body.source_ngs_runs).toEqual([run.name]);
    const project = warehouse.seed.projects.find((p) => p.id === run.project)!;
    expect(built.body.source_project).toBe(project.name);

    // The run's FASTQs exist (the demo seed's objects), so the launch goes through.
    await createDemoFastqs(api.gcs, warehouse.seed);
    const launched = await request<Run>(`${api.url}/api/runs`, {
      method: 'POST',
      headers: ALICE,
      json: runBody({
        samplesheet_csv: built.body.samplesheet_csv,
        source_ngs_runs: built.body.source_ngs_runs,
        source_project: built.body.source_project,
      }),
    });
    expect(launched.status, JSON.stringify(launched.body)).toBe(201);
    expect(launched.body).toMatchObject({
      source_ngs_runs: [run.name],
      source_project: project.name,
      sample_count: new Set(samples.map((s) => s.name)).size,
    });
  });

  it('builds from sample ids, one row per sequencing of a sample (a resequenced sample has two)', async () => {
    const counts = new Map<string, number>();
    for (const s of warehouse.seed.samples.filter((x) => !x.archived)) {
      const run = warehouse.seed.runs.find((r) => r.id === s.ngs_run)!;
      if (!run.archived) counts.set(s.name, (counts.get(s.name) ?? 0) + 1);
    }
    const twice = [...counts].find(([, n]) => n === 2)![0];
    const ids = warehouse.seed.samples
      .filter((s) => s.name === twice && !s.archived)
      .filter((s) => !warehouse.seed.runs.find((r) => r.id === s.ngs_run)!.archived)
      .map((s) => s.id);
    const other = warehouse.seed.samples.find((s) => !s.archived && s.name !== twice)!;
    const built = await build({ pipeline: 'nf-core/scrnaseq', sample_ids: [...ids, other.id] });
    expect(built.status, JSON.stringify(built.body)).toBe(200);
    expect(built.body.validation).toMatchObject({ sample_count: 2, row_count: 3 });
    const runIds = new Set(
      [...ids, other.id].map((id) => warehouse.seed.samples.find((s) => s.id === id)!.ngs_run),
    );
    expect(built.body.source_ngs_runs).toHaveLength(runIds.size);
  });

  it('refuses unknown samples, unknown runs, unknown versions and an empty selection with 400', async () => {
    const cases = [
      { pipeline: 'nf-core/scrnaseq', sample_ids: ['bfi_nosuch00'] },
      { pipeline: 'nf-core/scrnaseq', ngs_runs: ['NO_SUCH_RUN'] },
      { pipeline: 'nf-core/scrnaseq', pipeline_version: '9.9.9', ngs_runs: [warehouse.seed.runs[5]!.name] },
      { pipeline: 'nf-core/scrnaseq' },
      { pipeline: 'nf-core/scrnaseq', sample_ids: [] },
      { pipeline: 'nf-core/scrnaseq', sample_ids: 'bfi_x' },
    ];
    for (const body of cases) {
      const response = await build(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error?.message).toBeTruthy();
    }
  });
});

describe('pre-launch input check', () => {
  it('rejects a run whose FASTQs do not exist, naming each by row and column, and writes nothing', async () => {
    const sheet = [
      'sample,fastq_1,fastq_2',
      'SAMPLE_1,gs://arc-demo-fastq/ngs/S1_L001_R1_001.fastq.gz,gs://arc-demo-fastq/ngs/S1_L001_R2_001.fastq.gz',
      'SAMPLE_2,gs://arc-demo-fastq/ngs/S2_L001_R1_001.fastq.gz,gs://arc-demo-fastq/ngs/GONE_R2_001.fastq.gz',
      'SAMPLE_3,gs://no-such-bucket-arc/S3_R1.fastq.gz,gs://arc-demo-fastq/ngs/S3_L001_R2_001.fastq.gz',
    ].join('\n');
    const listed = async () => (await get<{ total: number }>('/api/runs')).body.total;
    const before = await listed();
    const response = await request<{
      error: { code: string; message: string; details: { row: number; column: string; message: string }[] };
    }>(`${api.url}/api/runs`, { method: 'POST', headers: ALICE, json: runBody({ samplesheet_csv: sheet }) });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('missing_input_files');
    expect(response.body.error.details.map((d) => [d.row, d.column])).toEqual([
      [2, 'fastq_2'],
      [3, 'fastq_1'],
    ]);
    expect(response.body.error.details[0]!.message).toContain('gs://arc-demo-fastq/ngs/GONE_R2_001.fastq.gz');
    expect(await listed()).toBe(before);
  });
});

describe('readiness and the warehouse role', () => {
  it('/api/ready checks the warehouse', async () => {
    const ready = await get<{ checks: Record<string, { ok: boolean }> }>('/api/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.warehouse).toEqual({ ok: true });
  });

  it('the functions log in with a role that can only read', async () => {
    const client = new pg.Client({
      host: warehouse.env.WAREHOUSE_HOST,
      port: Number(warehouse.env.WAREHOUSE_PORT),
      database: warehouse.database,
      user: warehouse.env.WAREHOUSE_USER,
      password: warehouse.env.SECRET_WAREHOUSE_PASSWORD,
    });
    await client.connect();
    try {
      await expect(client.query('DELETE FROM ngs_sample')).rejects.toMatchObject({ code: '25006' });
    } finally {
      await client.end();
    }
  });
});
