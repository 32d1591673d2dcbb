import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreRunStore } from '../../functions/adapters/firestore-run-store';
import { computeMetrics } from '../../functions/core/nextflow/metrics';
import type { CostEstimate } from '../../functions/core/runs/cost-estimate';
import { createStorage } from '../../functions/deps';
import { asUser, request, startTestApi, type TestApi } from '../helpers/api-server';
import { storedRunRecord } from '../helpers/runs';
import { runBody, samplesheet } from '../helpers/samplesheets';

let api: TestApi;
const ALICE = asUser('alice@example.com');

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

interface Preview {
  valid: boolean;
  message?: string;
  problems?: { field?: string; row?: number; column?: string; message: string }[];
  params?: Record<string, unknown>;
  params_yaml?: string;
  nextflow_config?: string;
  sample_count?: number;
  warnings?: string[];
  estimate?: CostEstimate;
}

const preview = (json: unknown) =>
  request<Preview>(`${api.url}/api/runs/preview`, { method: 'POST', headers: ALICE, json });

async function storedState() {
  const runs = await api.firestore.collection('runs').count().get();
  const [objects] = await createStorage(api.config)
    .bucket(api.config.runsBucket)
    .getFiles({ prefix: 'runs/' });
  return { runs: runs.data().count, objects: objects.length };
}

describe('POST /api/runs/preview', () => {
  it('answers what a launch would submit (params with defaults, the rendered config) and stores nothing', async () => {
    const before = await storedState();
    const response = await preview(
      runBody({
        params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3' },
        config_content: "process { withName: 'STAR_ALIGN' { memory = 64.GB } }",
      }),
    );
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ valid: true, sample_count: 2 });
    expect(response.body.params).toMatchObject({
      aligner: 'star',
      genome: 'GRCh38',
      protocol: '10XV3',
      input: `gs://${api.config.runsBucket}/runs/{run_id}/inputs/samplesheet.csv`,
    });
    expect(response.body.params_yaml).toContain('aligner: star');
    expect(response.body.nextflow_config).toContain("executor      = 'google-batch'");
    expect(response.body.nextflow_config).toContain("withName: 'STAR_ALIGN' { memory = 64.GB }");
    expect(await storedState()).toEqual(before);
  });

  it('names each problem by param, or by samplesheet row and column, as a launch would refuse it', async () => {
    const response = await preview(
      runBody({
        params: { aligner: 'nope', email: 'not an email' },
        samplesheet_csv: 'sample,fastq_1,fastq_2\nS1,gs://arc-demo-fastq/S1_R1.fastq.gz,not-a-fastq.txt\n',
      }),
    );
    expect(response.status).toBe(200);
    expect(response.body.valid).toBe(false);
    const problems = response.body.problems ?? [];
    expect(problems.map((p) => p.field)).toEqual(
      expect.arrayContaining(['params.aligner', 'params.email', 'samplesheet_csv']),
    );
    // Every problem at once: the bad fastq_2 and, in the same answer, the fastq_1 that does not exist.
    expect(problems.find((p) => p.column === 'fastq_2')).toMatchObject({ row: 1, rule: 'pattern' });
    expect(problems.find((p) => p.column === 'fastq_1')).toMatchObject({ row: 1, rule: 'file_exists' });

    const launch = await request<{ error: { details: unknown } }>(`${api.url}/api/runs`, {
      method: 'POST',
      headers: ALICE,
      json: runBody({ params: { aligner: 'nope', email: 'not an email' } }),
    });
    expect(launch.status).toBe(400);
  });

  it('reports FASTQs that do not exist by row and column once everything else is valid', async () => {
    const missing = samplesheet(2, 1, 'arc-nowhere-bucket');
    const response = await preview(runBody({ samplesheet_csv: missing }));
    expect(response.body.valid).toBe(false);
    expect(response.body.problems).toContainEqual(
      expect.objectContaining({ field: 'samplesheet_csv', row: 1, column: 'fastq_1', rule: 'file_exists' }),
    );
  });

  it("checks the params the schema says must exist (nf-schema's exists): a missing file by param, a folder by prefix", async () => {
    await api.gcs.putObject(
      'arc-demo-refs',
      'star/GRCh38/SA',
      Buffer.from('index'),
      'application/octet-stream',
    );
    const response = await preview(
      runBody({
        params: {
          aligner: 'star',
          genome: 'GRCh38',
          protocol: '10XV3',
          fasta: 'gs://arc-demo-refs/GRCh38.fa',
          star_index: 'gs://arc-demo-refs/star/GRCh38',
          gtf: 'gs://arc-nowhere-bucket/genes.gtf',
          kallisto_index: 'gs://arc-nowhere-bucket/kallisto',
        },
      }),
    );
    expect(response.body.valid).toBe(false);
    expect(response.body.problems).toEqual([
      expect.objectContaining({
        field: 'params.fasta',
        rule: 'file_exists',
        message: 'Param fasta: gs://arc-demo-refs/GRCh38.fa does not exist',
      }),
      expect.objectContaining({ field: 'params.gtf', rule: 'file_exists' }),
      expect.objectContaining({
        field: 'params.kallisto_index',
        message:
          'Param kallisto_index: gs://arc-nowhere-bucket/kallisto does not exist as an object or a folder',
      }),
    ]);

    await api.gcs.putObject('arc-demo-refs', 'GRCh38.fa', Buffer.from('>chr1\nACGT\n'), 'text/plain');
    await api.gcs.putObject('arc-demo-refs', 'genes.gtf', Buffer.from('chr1\t.\tgene\n'), 'text/plain');
    const fixed = await preview(
      runBody({
        params: {
          aligner: 'star',
          genome: 'GRCh38',
          protocol: '10XV3',
          fasta: 'gs://arc-demo-refs/GRCh38.fa',
          star_index: 'gs://arc-demo-refs/star/GRCh38/',
          gtf: 'gs://arc-demo-refs/genes.gtf',
        },
      }),
    );
    expect(fixed.body).toMatchObject({ valid: true });
  });

  it('refuses a cell of a million characters by row and column, without echoing it', async () => {
    const huge = `gs://arc-demo-fastq/${'x'.repeat(1_000_000)}_R1.fastq.gz`;
    const csv = `sample,fastq_1,fastq_2\nS1,${huge},gs://arc-demo-fastq/S1_R2.fastq.gz\n`;
    const response = await preview(runBody({ samplesheet_csv: csv }));
    expect(response.status).toBe(200);
    expect(response.body.valid).toBe(false);
    expect(response.body.problems).toContainEqual(
      expect.objectContaining({ field: 'samplesheet_csv', row: 1, column: 'fastq_1', rule: 'maxLength' }),
    );
    expect(JSON.stringify(response.body).length).toBeLessThan(20_000);
  });

  it('refuses a samplesheet over 10 MB with 413, like a launch', async () => {
    const response = await preview(
      runBody({ samplesheet_csv: `sample,fastq_1\n${'x'.repeat(10 * 1024 * 1024)}` }),
    );
    expect(response.status).toBe(413);
  });

  it("estimates the cost from the pipeline's prior, then from the lab's completed runs, scaled to the samplesheet; a launch keeps it", async () => {
    const first = await preview(runBody());
    expect(first.body.estimate).toMatchObject({ source: 'prior', runs: 0, scaled_by: 'samples', samples: 2 });
    expect(first.body.estimate!.basis).toMatch(
      /^A prior, not this lab's history \(0 completed runs of nf-core\/scrnaseq/,
    );

    // Three completed runs of 2, 4 and 8 samples at 5, 6 and 7 CPU-hours a sample (6× that in GiB-hours).
    const store = new FirestoreRunStore(api.firestore);
    for (const [samples, rate] of [
      [2, 5],
      [4, 6],
      [8, 7],
    ] as const) {
      const metrics = computeMetrics([], api.config.prices, '1');
      await store.create(
        storedRunRecord({
          user_email: `lab${samples}@example.com`,
          status: 'completed',
          sample_count: samples,
          metrics: { ...metrics, cpu_hours: samples * rate, memory_gib_hours: samples * rate * 6 },
        }),
      );
    }
    const small = await preview(runBody());
    const large = await preview(runBody({ samplesheet_csv: samplesheet(8) }));
    expect(small.body.estimate).toMatchObject({ source: 'history', runs: 3, scaled_by: 'samples' });
    expect(small.body.estimate!.cpu_hours).toEqual({ low: 10.4, median: 12, high: 13.6 });
    expect(large.body.estimate!.cpu_hours).toEqual({ low: 41.6, median: 48, high: 54.4 });
    // Dollars are rounded to cents, so four times the small one within a few cents.
    expect(large.body.estimate!.cost_usd!.median).toBeCloseTo(4 * small.body.estimate!.cost_usd!.median, 1);
    expect(small.body.estimate!.basis).toContain(
      'From 3 completed runs of nf-core/scrnaseq 4.0.0 in this deployment, 2–8 samples each',
    );

    const launched = await request<{ run_id: string }>(`${api.url}/api/runs`, {
      method: 'POST',
      headers: ALICE,
      json: runBody(),
    });
    expect(launched.status).toBe(201);
    const run = await request<{ cost_estimate: unknown; input_bytes: number | null }>(
      `${api.url}/api/runs/${launched.body.run_id}`,
      { headers: ALICE },
    );
    expect(run.body.cost_estimate).toEqual(small.body.estimate);
    // The FASTQs the test API created: each object once.
    expect(run.body.input_bytes).toBeGreaterThan(0);
  });
});
