import { describe, expect, it } from 'vitest';
import type { PathKind } from '../../../functions/core/nextflow/params';
import type { SamplesheetRow } from '../../../functions/core/nextflow/samplesheet';
import {
  checkInputFiles,
  type InputFileState,
  type InputPaths,
} from '../../../functions/core/runs/input-files';
import { UpstreamError, ValidationError } from '../../../functions/core/shared/errors';

/** An object store that answers from a table and counts what it was asked. */
function files(states: Record<string, InputFileState>, fail = false, bytes: Record<string, number> = {}) {
  const asked: string[] = [];
  const kinds: PathKind[] = [];
  return {
    asked,
    kinds,
    async stat(bucket: string, name: string, kind: PathKind) {
      const uri = `gs://${bucket}/${name}`;
      asked.push(uri);
      kinds.push(kind);
      if (fail) throw new Error('connection reset');
      const state = states[uri] ?? 'missing';
      return { state, bytes: state === 'found' && kind !== 'directory' ? (bytes[uri] ?? 100) : null };
    },
  };
}

/** A samplesheet whose FASTQ columns must exist, as the scrnaseq and rnaseq schemas say. */
function sheet(
  rows: SamplesheetRow[],
  params: Partial<Pick<InputPaths, 'params' | 'paramFields'>> = {},
): InputPaths {
  return {
    rows,
    columns: [
      { name: 'fastq_1', kind: 'file' },
      { name: 'fastq_2', kind: 'file' },
    ],
    params: {},
    paramFields: [],
    ...params,
  };
}

const A1 = 'gs://lab-fastq/a_R1.fastq.gz';
const A2 = 'gs://lab-fastq/a_R2.fastq.gz';
const B2 = 'gs://other-lab/b_R2.fastq.gz';

describe('checkInputFiles', () => {
  it('checks each distinct object once, and passes when all are found', async () => {
    const store = files({ [A1]: 'found', [A2]: 'found' });
    const rows = [
      { sample: 'A', fastq_1: A1, fastq_2: A2 },
      { sample: 'A', fastq_1: A1, fastq_2: A2 },
    ];
    await expect(checkInputFiles(store, sheet(rows))).resolves.toEqual({ unchecked: [], inputBytes: 200 });
    expect(store.asked.sort()).toEqual([A1, A2]);
  });

  it("adds up the samplesheet's input bytes for the estimate, each object once and params apart", async () => {
    const fasta = 'gs://refs/GRCh38.fa';
    const store = files({ [A1]: 'found', [A2]: 'found', [fasta]: 'found' }, false, {
      [A1]: 3e9,
      [A2]: 4e9,
      [fasta]: 1e9,
    });
    const rows = [
      { sample: 'A', fastq_1: A1, fastq_2: A2 },
      { sample: 'A', fastq_1: A1, fastq_2: A2 },
    ];
    const checked = await checkInputFiles(
      store,
      sheet(rows, { params: { fasta }, paramFields: [{ name: 'fasta', kind: 'file' }] }),
    );
    expect(checked.inputBytes).toBe(7e9);
    // A sheet of https:// inputs has no size to add: no bytes rather than a wrong sum.
    const remote = await checkInputFiles(
      store,
      sheet([
        { sample: 'A', fastq_1: A1, fastq_2: A2 },
        { sample: 'B', fastq_1: 'https://example.org/a.fq.gz', fastq_2: 'https://example.org/b.fq.gz' },
      ]),
    );
    expect(remote.inputBytes).toBeNull();
  });

  it('names every missing or unreadable file by row and column, with the fix', async () => {
    const store = files({ [A1]: 'found', [A2]: 'missing', [B2]: 'forbidden' });
    const rows = [
      { sample: 'A', fastq_1: A1, fastq_2: A2 },
      { sample: 'B', fastq_1: A1, fastq_2: B2 },
    ];
    const error = await checkInputFiles(store, sheet(rows)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const problem = error as ValidationError;
    expect(problem.code).toBe('missing_input_files');
    expect(problem.details).toEqual([
      expect.objectContaining({ row: 1, column: 'fastq_2', rule: 'file_exists' }),
      expect.objectContaining({ row: 2, column: 'fastq_2', rule: 'file_readable' }),
    ]);
    expect(problem.message).toContain("grant the platform's service account read access");
  });

  it('cannot check a param outside Cloud Storage: warns instead (a samplesheet cell is warned about by row)', async () => {
    const store = files({});
    const { unchecked: warnings } = await checkInputFiles(
      store,
      sheet(
        [{ sample: 'A', fastq_1: 'https://example.org/a_R1.fastq.gz', fastq_2: 'ftp://x.org/a_R2.fastq.gz' }],
        {
          params: { fasta: 'https://example.org/GRCh38.fa' },
          paramFields: [{ name: 'fasta', kind: 'file' }],
        },
      ),
    );
    expect(store.asked).toEqual([]);
    // The sheet's own validation said it of each cell, by row and column; said once more here would repeat it.
    expect(warnings).toEqual([
      'input https://example.org/GRCh38.fa is not in Cloud Storage, so it was not checked before launch',
    ]);
  });

  it('answers 503, not "missing", when the store cannot be asked', async () => {
    await expect(
      checkInputFiles(files({}, true), sheet([{ sample: 'A', fastq_1: A1, fastq_2: A2 }])),
    ).rejects.toThrow(UpstreamError);
  });

  it('checks the params the pipeline schema says must exist, as the kind it names, and names the param', async () => {
    const fasta = 'gs://refs/GRCh38.fa';
    const index = 'gs://refs/star';
    const store = files({ [A1]: 'found', [A2]: 'found', [index]: 'found' });
    const error = await checkInputFiles(
      store,
      sheet([{ sample: 'A', fastq_1: A1, fastq_2: A2 }], {
        params: { fasta, star_index: index, outdir: 'gs://runs/out', multiqc_title: 'gs://not/a/path' },
        paramFields: [
          { name: 'fasta', kind: 'file' },
          { name: 'star_index', kind: 'path' },
          { name: 'gtf', kind: 'file' },
        ],
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details).toEqual([
      { field: 'params.fasta', rule: 'file_exists', message: `Param fasta: ${fasta} does not exist` },
    ]);
    expect(store.asked.sort()).toEqual([A1, A2, fasta, index]);
    expect(store.kinds.filter((k) => k === 'path')).toHaveLength(1);
  });

  it('asks for a folder when the schema says directory-path', async () => {
    const dir = 'gs://refs/salmon/';
    const store = files({});
    const error = await checkInputFiles(
      store,
      sheet([], {
        params: { salmon_index: dir },
        paramFields: [{ name: 'salmon_index', kind: 'directory' }],
      }),
    ).catch((e: unknown) => e);
    expect(store.kinds).toEqual(['directory']);
    expect((error as ValidationError).message).toContain(
      'Param salmon_index: gs://refs/salmon/ is not a folder with objects in it',
    );
  });
});
