import { describe, expect, it } from 'vitest';
import { checkInputFiles, type InputFileState } from '../../../functions/core/runs/input-files';
import { UpstreamError, ValidationError } from '../../../functions/core/shared/errors';

/** An object store that answers from a table and counts what it was asked. */
function files(states: Record<string, InputFileState>, fail = false) {
  const asked: string[] = [];
  return {
    asked,
    async state(bucket: string, name: string): Promise<InputFileState> {
      asked.push(`gs://${bucket}/${name}`);
      if (fail) throw new Error('connection reset');
      return states[`gs://${bucket}/${name}`] ?? 'missing';
    },
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
    await expect(checkInputFiles(store, rows)).resolves.toEqual([]);
    expect(store.asked.sort()).toEqual([A1, A2]);
  });

  it('names every missing or unreadable file by row and column, with the fix', async () => {
    const store = files({ [A1]: 'found', [A2]: 'missing', [B2]: 'forbidden' });
    const rows = [
      { sample: 'A', fastq_1: A1, fastq_2: A2 },
      { sample: 'B', fastq_1: A1, fastq_2: B2 },
    ];
    const error = await checkInputFiles(store, rows).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const problem = error as ValidationError;
    expect(problem.code).toBe('missing_input_files');
    expect(problem.details).toEqual([
      expect.objectContaining({ row: 1, column: 'fastq_2', rule: 'file_exists' }),
      expect.objectContaining({ row: 2, column: 'fastq_2', rule: 'file_readable' }),
    ]);
    expect(problem.message).toContain("grant the platform's service account read access");
  });

  it('cannot check files outside Cloud Storage: warns instead', async () => {
    const store = files({});
    const warnings = await checkInputFiles(store, [
      { sample: 'A', fastq_1: 'https://example.org/a_R1.fastq.gz', fastq_2: 's3://x/a_R2.fastq.gz' },
    ]);
    expect(store.asked).toEqual([]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('was not checked');
  });

  it('answers 503, not "missing", when the store cannot be asked', async () => {
    await expect(
      checkInputFiles(files({}, true), [{ sample: 'A', fastq_1: A1, fastq_2: A2 }]),
    ).rejects.toThrow(UpstreamError);
  });
});
