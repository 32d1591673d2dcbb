import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgSampleWarehouse } from '../../functions/adapters/pg-warehouse';
import { loadConfig } from '../../functions/config';
import { BenchlingService } from '../../functions/core/benchling/sample-warehouse';
import { createSecrets, createWarehouse } from '../../functions/deps';
import { type DemoWarehouse, startDemoWarehouse } from '../../scripts/local/warehouse';
import { asUser, request, startTestApi } from '../helpers/api-server';
import { tempDir } from '../helpers/env';
import { type TestWarehouse, testWarehouse } from '../helpers/warehouse';

const ALICE = asUser('alice@example.com');
type ErrorBody = { error: { code: string; message: string } };

/** The API over `env`'s warehouse, with the warehouse and a movable clock kept in hand. */
async function apiOver(env: Record<string, string>) {
  const clock = { at: Date.now(), now: () => new Date(clock.at) };
  const config = loadConfig({ ...env });
  const warehouse = createWarehouse(config, createSecrets(config)) as PgSampleWarehouse;
  const api = await startTestApi({ env, overrides: { benchling: new BenchlingService(warehouse, clock) } });
  const get = <T>(path: string) => request<T>(`${api.url}${path}`, { headers: ALICE });
  return { api, clock, warehouse, get };
}

describe('the warehouse goes down (its server stopped mid-test)', () => {
  let server: DemoWarehouse;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let setup: Awaited<ReturnType<typeof apiOver>>;

  beforeAll(async () => {
    dir = await tempDir('arc-warehouse-down-');
    server = await startDemoWarehouse({ dataDir: dir.path });
    setup = await apiOver(server.env());
  });
  afterAll(async () => {
    await setup?.api.close();
    await server?.stop().catch(() => {});
    await dir?.remove();
  });

  it('serves cached projects and instruments (stale once older than 5 minutes), and 503 for runs and samples', async () => {
    const { get, clock, warehouse } = setup;
    const runName = server.seed.runs.find((r) => !r.archived)!.name;
    const fresh = await get<{ projects: unknown[]; fetched_at: string; stale: boolean }>(
      '/api/benchling/metadata',
    );
    expect(fresh.status).toBe(200);
    expect((await get('/api/benchling/runs')).status).toBe(200);

    await server.stop();

    const runs = await get<ErrorBody>('/api/benchling/runs');
    expect(runs.status).toBe(503);
    expect(runs.body.error.message).toMatch(/^Unable to access sample data/);
    expect(warehouse.stats.connectRetries).toBeGreaterThanOrEqual(3);
    const samples = await get<ErrorBody>(`/api/benchling/runs/${encodeURIComponent(runName)}/samples`);
    expect(samples.status).toBe(503);
    expect(samples.body.error.message).toMatch(/^Unable to access sample data/);
    const built = await request<ErrorBody>(`${setup.api.url}/api/samplesheets`, {
      method: 'POST',
      headers: ALICE,
      json: { pipeline: 'nf-core/scrnaseq', ngs_runs: [runName] },
    });
    expect(built.status).toBe(503);

    // Within 5 minutes the cache answers as if nothing happened.
    clock.at += 60_000;
    const cached = await get<{ stale: boolean; fetched_at: string }>('/api/benchling/metadata');
    expect(cached.body).toEqual(fresh.body);

    // Past 5 minutes the warehouse is asked, does not answer, and the last lookup is served stale.
    clock.at += 10 * 60_000;
    const stale = await get<{ projects: unknown[]; stale: boolean; fetched_at: string }>(
      '/api/benchling/metadata',
    );
    expect(stale.status).toBe(200);
    expect(stale.body).toMatchObject({ stale: true, fetched_at: fresh.body.fetched_at });
    expect(stale.body.projects).toEqual(fresh.body.projects);

    const ready = await get<{ status: string; checks: Record<string, { ok: boolean; error?: string }> }>(
      '/api/ready',
    );
    expect(ready.status).toBe(503);
    expect(ready.body.checks.warehouse!.ok).toBe(false);
    expect(JSON.stringify(ready.body)).not.toContain(server.reader.password);
    expect(JSON.stringify(setup.api.logs.entries)).not.toContain(server.reader.password);
    // Each refusal is logged naming the warehouse: the alert on it keys on that (infra/monitoring.tf).
    const failures = setup.api.logs.entries.filter((e) => e.message === 'request_failed');
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.map((e) => e.fields.dependency)).toEqual(failures.map(() => 'warehouse'));
  });

  it('answers 503 for projects and instruments when nothing was cached yet', async () => {
    const cold = await apiOver(server.env());
    try {
      const response = await cold.get<ErrorBody>('/api/benchling/metadata');
      expect(response.status).toBe(503);
      expect(response.body.error.message).toMatch(/^Unable to access sample data/);
    } finally {
      await cold.api.close();
    }
  });
});

describe('the warehouse is slow (pg_sleep over the statement timeout)', () => {
  let warehouse: TestWarehouse;
  let setup: Awaited<ReturnType<typeof apiOver>>;

  beforeAll(async () => {
    warehouse = await testWarehouse();
    const admin = await warehouse.admin();
    try {
      // Each run row now takes 50 ms. With sorts and sequential scans discouraged the planner
      // walks the run_date index, as it would on a large warehouse, so rows stream as found.
      await admin.query(`
        ALTER TABLE ngs_run RENAME TO ngs_run_data;
        CREATE VIEW ngs_run AS SELECT * FROM ngs_run_data WHERE pg_sleep(0.05) IS NOT NULL;
        GRANT SELECT ON ngs_run TO arc_reader;
        ALTER TABLE ngs_sample RENAME TO ngs_sample_data;
        -- Reading one run's FASTQ paths takes 200 ms a sample; counting samples does not read
        -- them (the function claims to be STABLE so the view stays inlinable).
        CREATE FUNCTION slow_text(value text) RETURNS text LANGUAGE plpgsql STABLE
          AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN value; END $$;
        CREATE VIEW ngs_sample AS SELECT id, "name$", "archived$", "archive_purpose$", "created_at$",
            "modified_at$", "schema_id$", "url$", ngs_run,
            CASE WHEN ngs_run = '${warehouse.seed.runs[25]!.id}' THEN slow_text(fastq_r1) ELSE fastq_r1 END
              AS fastq_r1,
            fastq_r2, expected_cells, sample_type, feature_type, tissue
          FROM ngs_sample_data;
        GRANT SELECT ON ngs_sample TO arc_reader;
        ALTER DATABASE ${warehouse.database} SET enable_sort = off;
        ALTER DATABASE ${warehouse.database} SET enable_seqscan = off;
      `);
    } finally {
      await admin.end();
    }
    setup = await apiOver({ ...warehouse.env, WAREHOUSE_STATEMENT_TIMEOUT_MS: '1000' });
  });
  afterAll(async () => {
    await setup?.api.close();
    await warehouse?.drop();
  });

  it('returns the runs that arrived before the timeout, flagged partial, with a hint to narrow the filters', async () => {
    const response = await setup.get<{
      runs: { name: string }[];
      partial: boolean;
      has_more: boolean;
      warning: string;
    }>('/api/benchling/runs?page_size=25');
    expect(response.status).toBe(200);
    expect(response.body.partial).toBe(true);
    expect(response.body.warning).toMatch(/Narrow the filters/);
    const newest = warehouse.seed.runs
      .filter((r) => !r.archived)
      .sort((a, b) => b.run_date.localeCompare(a.run_date))
      .map((r) => r.name);
    expect(response.body.runs.length).toBeGreaterThan(0);
    expect(response.body.runs.length).toBeLessThan(25);
    expect(response.body.runs.map((r) => r.name)).toEqual(newest.slice(0, response.body.runs.length));
  });

  it('does not build a samplesheet from a partial list of samples', async () => {
    const slowRun = warehouse.seed.runs[25]!;
    const samples = await setup.get<{ samples: unknown[]; partial: boolean; warning: string }>(
      `/api/benchling/runs/${encodeURIComponent(slowRun.name)}/samples`,
    );
    expect(samples.status, JSON.stringify(samples.body)).toBe(200);
    expect(samples.body.partial).toBe(true);
    expect(samples.body.warning).toMatch(/Narrow the filters/);

    const built = await request<ErrorBody>(`${setup.api.url}/api/samplesheets`, {
      method: 'POST',
      headers: ALICE,
      json: { pipeline: 'nf-core/scrnaseq', ngs_runs: [slowRun.name] },
    });
    expect(built.status).toBe(503);
    expect(built.body.error.message).toMatch(/no samplesheet was built/);
  });
});

describe('the warehouse freezes (every server process SIGSTOPped: accepts TCP, never answers)', () => {
  let server: DemoWarehouse;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let setup: Awaited<ReturnType<typeof apiOver>>;
  const limits = { WAREHOUSE_STATEMENT_TIMEOUT_MS: '1000', WAREHOUSE_ACQUIRE_TIMEOUT_MS: '1500' };

  beforeAll(async () => {
    dir = await tempDir('arc-warehouse-frozen-');
    server = await startDemoWarehouse({ dataDir: dir.path });
    setup = await apiOver({ ...server.env(), ...limits });
  });
  afterAll(async () => {
    server?.thaw();
    await setup?.api.close();
    await server?.stop().catch(() => {});
    await dir?.remove();
  });

  it('answers lists partial, lookups and readiness 503, a new connection "Unable to access sample data", and recovers on thaw', async () => {
    const { get } = setup;
    const runName = server.seed.runs.find((r) => !r.archived)!.name;
    expect((await get('/api/benchling/runs')).status).toBe(200);

    server.freeze();
    try {
      // A pooled connection takes the query; the client's own deadline ends it with what arrived.
      const runs = await get<{ runs: unknown[]; partial: boolean; warning: string }>('/api/benchling/runs');
      expect(runs.status, JSON.stringify(runs.body)).toBe(200);
      expect(runs.body).toMatchObject({ runs: [], partial: true });
      expect(runs.body.warning).toMatch(/took too long.*Narrow the filters/);

      const samples = await get<ErrorBody>(`/api/benchling/runs/${encodeURIComponent(runName)}/samples`);
      // The connection that timed out was dropped; the next one cannot be had in time.
      expect(samples.status).toBe(503);
      expect(samples.body.error.message).toMatch(/^Unable to access sample data/);

      const ready = await get<{ status: string; checks: Record<string, { ok: boolean; error?: string }> }>(
        '/api/ready',
      );
      expect(ready.status).toBe(503);
      expect(ready.body.checks.firestore).toEqual({ ok: true });
      expect(ready.body.checks.warehouse).toMatchObject({ ok: false });
      expect(JSON.stringify(ready.body)).not.toMatch(/127\.0\.0\.1|ECONN|5432|password/);

      // An instance with no connection yet cannot get one: the acquire deadline answers.
      const cold = await apiOver({ ...server.env(), ...limits });
      try {
        const response = await cold.get<ErrorBody>('/api/benchling/runs');
        expect(response.status).toBe(503);
        expect(response.body.error.message).toMatch(/^Unable to access sample data/);
        expect(response.headers.get('retry-after')).not.toBeNull();
      } finally {
        await cold.api.close();
      }
    } finally {
      server.thaw();
    }
    const back = await get<{ partial: boolean }>('/api/benchling/runs');
    expect(back.status).toBe(200);
    expect(back.body.partial).toBe(false);
  });
});
