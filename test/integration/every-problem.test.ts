import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asUser, request, startTestApi, type TestApi } from '../helpers/api-server';
import { runBody } from '../helpers/samplesheets';

let api: TestApi;
const ALICE = asUser('alice@example.com');

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

const good = (s: number, r: number) => `gs://arc-demo-fastq/ngs/S${s}_L001_R${r}_001.fastq.gz`;

/** Four rows, four broken cells of four kinds: a local path, a bad number, a missing file, a bad name. */
const BROKEN = [
  'sample,fastq_1,fastq_2,expected_cells',
  `S1,reads/S1_R1.fastq.gz,${good(1, 2)},5000`,
  `S2,${good(2, 1)},${good(2, 2)},many`,
  `S3,${good(3, 1)},gs://arc-demo-fastq/ngs/NOT_THERE_R2.fastq.gz,5000`,
  `S 4,${good(4, 1)},${good(4, 2)},5000`,
  `S5,${good(5, 1)},${good(5, 1)},0`,
].join('\n');

type Problems = {
  valid?: boolean;
  message: string;
  problems?: { row?: number; column?: string; rule: string; message: string }[];
  warnings?: string[];
  error?: { message: string; details: { row?: number; column?: string; rule: string; message: string }[] };
};

describe('every problem at once', () => {
  it('preview names every broken cell together, the missing file among them, R1 = R2 and 0 cells too', async () => {
    const preview = await request<Problems>(`${api.url}/api/runs/preview`, {
      method: 'POST',
      headers: ALICE,
      json: runBody({ samplesheet_csv: BROKEN }),
    });
    expect(preview.status).toBe(200);
    expect(preview.body.valid).toBe(false);
    const cells = preview.body.problems!.map((p) => `${p.row}:${p.column ?? ''}:${p.rule}`);
    expect(cells).toEqual(
      expect.arrayContaining([
        '1:fastq_1:gs_path',
        '2:expected_cells:type',
        '3:fastq_2:file_exists',
        '4:sample:pattern',
        '5:fastq_2:distinct_reads',
        '5:expected_cells:positive',
      ]),
    );
    expect(preview.body.message).toMatch(/^The run request has 6 problem\(s\)/);
    const local = preview.body.problems!.find((p) => p.rule === 'gs_path')!;
    expect(local.message).toBe(
      'Row 1, column fastq_1: "reads/S1_R1.fastq.gz" must be a gs://, https:// or ftp:// address; the pipeline runs on Google Batch, which cannot read a path on your machine.',
    );
    // The schema's own errorMessage, where it has one.
    expect(preview.body.problems!.find((p) => p.rule === 'pattern')!.message).toMatch(
      /^Row 4, column sample: Sample name must be provided and cannot contain spaces/,
    );
  });

  it('refuses what cannot be right at its cell: the same file as both reads, and zero expected cells', async () => {
    const fixed = BROKEN.split('\n')
      .filter((line, i) => i === 0 || line.startsWith('S5'))
      .join('\n');
    const preview = await request<Problems>(`${api.url}/api/runs/preview`, {
      method: 'POST',
      headers: ALICE,
      json: runBody({ samplesheet_csv: fixed }),
    });
    expect(preview.body.valid).toBe(false);
    expect(preview.body.problems!.map((p) => `${p.row}:${p.column}:${p.rule}`)).toEqual([
      '1:fastq_2:distinct_reads',
      '1:expected_cells:positive',
    ]);
    expect(preview.body.problems![0]!.message).toBe(
      'Row 1, column fastq_2: it is the same file as fastq_1; read 2 must be the other read of the pair.',
    );
  });

  it('a valid sheet says its warnings where they are: a repeated row, a column the pipeline does not declare', async () => {
    const sheet = [
      'sample,fastq_1,fastq_2,expected_cells,batch',
      ...[1, 1].map(() => `S1,${good(1, 1)},${good(1, 2)},5000,b1`),
    ].join('\n');
    const preview = await request<Problems & { samplesheet_warnings?: Problems['problems'] }>(
      `${api.url}/api/runs/preview`,
      { method: 'POST', headers: ALICE, json: runBody({ samplesheet_csv: sheet }) },
    );
    expect(preview.body.valid, JSON.stringify(preview.body)).toBe(true);
    expect(preview.body.samplesheet_warnings).toEqual([
      {
        row: 0,
        column: 'batch',
        rule: 'warning',
        message: "Column batch is not in the pipeline's samplesheet schema.",
      },
      { row: 2, rule: 'warning', message: 'Row 2 repeats row 1 exactly.' },
    ]);
  });

  it('the launch refuses with the same four problems, and stores nothing', async () => {
    const launch = await request<Problems>(`${api.url}/api/runs`, {
      method: 'POST',
      headers: ALICE,
      json: runBody({ samplesheet_csv: BROKEN }),
    });
    expect(launch.status).toBe(400);
    expect(launch.body.error!.details.map((p) => p.rule)).toEqual(
      expect.arrayContaining(['gs_path', 'type', 'file_exists', 'pattern']),
    );
    const listed = await request<{ total: number }>(`${api.url}/api/runs`, { headers: ALICE });
    expect(listed.body.total).toBe(0);
  });
});
