import { describe, expect, it } from 'vitest';
import { getPipelineVersion } from '../../../functions/core/nextflow/pipelines/registry';
import {
  MAX_CELL_CHARS,
  MAX_COLUMNS,
  MAX_REPORTED_ERRORS,
  MAX_SAMPLESHEET_ROWS,
  validateSamplesheet,
} from '../../../functions/core/nextflow/samplesheet';
import { samplesheet } from '../../helpers/samplesheets';

const inputSchema = (version = '4.0.0') =>
  getPipelineVersion('nf-core/scrnaseq', version).release.inputSchema;
const HEADER = 'sample,fastq_1,fastq_2,expected_cells';
const row = (
  sample: string,
  cells: string | number = 5000,
  r1 = `gs://b/${sample}_R1.fastq.gz`,
  r2 = `gs://b/${sample}_R2.fastq.gz`,
) => `${sample},${r1},${r2},${cells}`;

describe.each(['2.7.1', '3.0.0', '4.0.0'])('samplesheet for nf-core/scrnaseq %s', (version) => {
  it('accepts a valid sheet and counts distinct samples across lanes', () => {
    const result = validateSamplesheet(samplesheet(3, 2), inputSchema(version));
    expect(result.errors).toEqual([]);
    expect(result.rows).toHaveLength(6);
    expect(result.sample_count).toBe(3);
    expect(result.samples).toEqual(['SAMPLE_1', 'SAMPLE_2', 'SAMPLE_3']);
    expect(result.rows[0]).toMatchObject({ expected_cells: 5000 });
  });

  it('names row 7 and the column for a bad FASTQ pattern', () => {
    const rows = Array.from({ length: 8 }, (_, i) => row(`S${i + 1}`));
    rows[6] = row('S7', 5000, 'gs://b/S7_R1.bam');
    const result = validateSamplesheet([HEADER, ...rows].join('\n'), inputSchema(version));
    expect(result.errors).toEqual([
      expect.objectContaining({
        row: 7,
        column: 'fastq_1',
        rule: 'pattern',
        message: expect.stringContaining('Row 7, column fastq_1: FastQ file for reads 1'),
      }),
    ]);
  });

  it('reports an expected_cells that is not an integer', () => {
    const result = validateSamplesheet(
      [HEADER, row('S1'), row('S2', '5k'), row('S3', '12.5')].join('\n'),
      inputSchema(version),
    );
    expect(result.errors.map((e) => [e.row, e.column, e.rule])).toEqual([
      [2, 'expected_cells', 'type'],
      [3, 'expected_cells', 'type'],
    ]);
    expect(result.errors[0]!.message).toContain('Expected cells must be an Integer');
  });
});

describe('validateSamplesheet', () => {
  it('requires a header row', () => {
    const result = validateSamplesheet(`${row('S1')}\n${row('S2')}`, inputSchema());
    expect(result.errors).toEqual([
      expect.objectContaining({
        row: 0,
        rule: 'header',
        message: expect.stringContaining('first line must be a header'),
      }),
    ]);
  });

  it('names a missing required column', () => {
    const result = validateSamplesheet('sample,fastq_1\nS1,gs://b/a.fastq.gz\n', inputSchema());
    expect(result.errors).toEqual([expect.objectContaining({ row: 0, column: 'fastq_2', rule: 'required' })]);
  });

  it('names an empty required cell', () => {
    const result = validateSamplesheet(`${HEADER}\nS1,gs://b/a.fastq.gz,,100\n`, inputSchema());
    expect(result.errors).toEqual([expect.objectContaining({ row: 1, column: 'fastq_2', rule: 'required' })]);
  });

  it('enforces enums', () => {
    const result = validateSamplesheet(
      `sample,fastq_1,fastq_2,feature_type\nS1,gs://b/a.fastq.gz,gs://b/b.fastq.gz,rna\n`,
      inputSchema(),
    );
    expect(result.errors).toEqual([
      expect.objectContaining({ row: 1, column: 'feature_type', rule: 'enum' }),
    ]);
  });

  it('rejects sample names with spaces using the schema message', () => {
    const result = validateSamplesheet(
      `${HEADER}\n"S 1",gs://b/a.fastq.gz,gs://b/b.fastq.gz,1\n`,
      inputSchema(),
    );
    expect(result.errors[0]).toMatchObject({
      row: 1,
      column: 'sample',
      message: expect.stringContaining('cannot contain spaces'),
    });
  });

  it('reports an empty file and a header without rows', () => {
    expect(validateSamplesheet('', inputSchema()).errors[0]!.message).toMatch(/empty/);
    expect(validateSamplesheet(`${HEADER}\n`, inputSchema()).errors[0]!.message).toMatch(/no samples/);
  });

  it('counts rows, not lines, when a quoted cell spans lines', () => {
    const csv = `${HEADER},seq_center\n${row('S1')},"Broad\nInstitute"\nS 2,gs://b/a.fastq.gz,gs://b/b.fastq.gz,1,x\n`;
    const result = validateSamplesheet(csv, inputSchema());
    expect(result.errors).toEqual([expect.objectContaining({ row: 2, column: 'sample' })]);
  });

  it('handles CRLF, a BOM, surrounding spaces and blank lines', () => {
    const csv = `\uFEFF${HEADER}\r\n ${row('S1')} \r\n\r\n${row('S2')}\r\n`;
    const result = validateSamplesheet(csv, inputSchema());
    expect(result.errors).toEqual([]);
    expect(result.sample_count).toBe(2);
  });

  it('refuses a row with more cells than the header instead of dropping data', () => {
    const result = validateSamplesheet(`${HEADER}\n${row('S1')},extra\n`, inputSchema());
    expect(result.errors).toEqual([expect.objectContaining({ row: 1, rule: 'columns' })]);
  });

  it('reports broken CSV quoting with its line', () => {
    const result = validateSamplesheet(
      `${HEADER}\nS1,"gs://b/a.fastq.gz,gs://b/b.fastq.gz,1\n`,
      inputSchema(),
    );
    expect(result.errors[0]).toMatchObject({
      rule: 'csv',
      message: expect.stringContaining('not valid CSV'),
    });
  });

  it('warns about unknown columns and exact duplicate rows', () => {
    const result = validateSamplesheet(
      `${HEADER},lab_notes\n${row('S1')},x\n${row('S1')},x\n`,
      inputSchema(),
    );
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([expect.stringContaining('lab_notes'), 'Row 2 repeats row 1 exactly.']);
  });

  it('refuses a duplicated header column', () => {
    const result = validateSamplesheet(
      `sample,sample,fastq_1,fastq_2\nS1,S1,gs://b/a.fastq.gz,gs://b/b.fastq.gz\n`,
      inputSchema(),
    );
    expect(result.errors).toEqual([expect.objectContaining({ column: 'sample', rule: 'header' })]);
  });

  it('ignores prototype-named columns instead of letting them reach an object prototype', () => {
    const result = validateSamplesheet(`${HEADER},__proto__,constructor\n${row('S1')},{},x\n`, inputSchema());
    expect(result.errors).toEqual([]);
    expect(Object.getPrototypeOf(result.rows[0])).toBe(Object.prototype);
  });

  it('lists at most MAX_REPORTED_ERRORS errors but counts them all', () => {
    const rows = Array.from({ length: MAX_REPORTED_ERRORS + 50 }, (_, i) => row(`S${i}`, 'x'));
    const result = validateSamplesheet([HEADER, ...rows].join('\n'), inputSchema());
    expect(result.errors).toHaveLength(MAX_REPORTED_ERRORS);
    expect(result.error_count).toBe(MAX_REPORTED_ERRORS + 50);
  });
});

describe('bounds', () => {
  it('refuses a cell of a million characters, naming its row and column, and still checks the other rows', () => {
    const huge = `gs://b/${'x'.repeat(1_000_000)}_R1.fastq.gz`;
    const result = validateSamplesheet(
      [
        HEADER,
        row('S1'),
        row('S2', 5000, huge),
        row('S3 bad', 5000, 'gs://b/S3_R1.fastq.gz', 'gs://b/S3_R2.fastq.gz'),
      ].join('\n'),
      inputSchema(),
    );
    expect(result.errors).toEqual([
      expect.objectContaining({
        row: 2,
        column: 'fastq_1',
        rule: 'maxLength',
        message: `Row 2, column fastq_1: the cell has 1,000,019 characters; at most ${MAX_CELL_CHARS.toLocaleString('en-US')} are accepted.`,
      }),
      expect.objectContaining({ row: 3, column: 'sample' }),
    ]);
    // The problem is described, never echoed back.
    expect(JSON.stringify(result.errors).length).toBeLessThan(2_000);
  });

  it('accepts a cell of exactly the maximum length', () => {
    const path = `gs://b/${'x'.repeat(MAX_CELL_CHARS - 'gs://b/_R1.fastq.gz'.length)}_R1.fastq.gz`;
    expect(path).toHaveLength(MAX_CELL_CHARS);
    const result = validateSamplesheet([HEADER, row('S1', 5000, path)].join('\n'), inputSchema());
    expect(result.errors).toEqual([]);
  });

  it('refuses more rows than the limit with one clear error', () => {
    const rows = Array.from({ length: MAX_SAMPLESHEET_ROWS + 1 }, (_, i) => row(`S${i}`));
    const result = validateSamplesheet([HEADER, ...rows].join('\n'), inputSchema());
    expect(result.errors).toEqual([
      expect.objectContaining({
        rule: 'rows',
        message: expect.stringContaining('20,001 rows; at most 20,000'),
      }),
    ]);
    expect(result.rows).toEqual([]);
  });

  it('refuses a header of more columns than the limit, and a header cell over the length limit', () => {
    const wide = [HEADER, ...Array.from({ length: MAX_COLUMNS }, (_, i) => `extra_${i}`)].join(',');
    expect(validateSamplesheet(`${wide}\n${row('S1')}`, inputSchema()).errors).toEqual([
      expect.objectContaining({ row: 0, rule: 'columns' }),
    ]);
    const longHeader = `${HEADER},${'c'.repeat(MAX_CELL_CHARS + 1)}`;
    expect(validateSamplesheet(`${longHeader}\n${row('S1')}`, inputSchema()).errors).toEqual([
      expect.objectContaining({ row: 0, column: '#5', rule: 'maxLength' }),
    ]);
  });
});

describe('CSV injection', () => {
  it.each(['=HYPERLINK("http://x")', '+1+1', '-2+3', '@SUM(A1)'])(
    'rejects a sample named %s, naming row and column',
    (name) => {
      const result = validateSamplesheet(
        `${HEADER}\n${row('S1')}\n"${name.replace(/"/g, '""')}",gs://b/a.fastq.gz,gs://b/b.fastq.gz,1\n`,
        inputSchema(),
      );
      expect(result.errors).toEqual([expect.objectContaining({ row: 2, column: 'sample', rule: 'formula' })]);
    },
  );

  it('accepts a negative integer where the column is numeric', () => {
    const result = validateSamplesheet(`${HEADER}\n${row('S1', '-1')}\n`, inputSchema());
    expect(result.errors.filter((e) => e.rule === 'formula')).toEqual([]);
  });

  it('rejects a formula in a header column', () => {
    const result = validateSamplesheet(`${HEADER},=cmd\n${row('S1')},x\n`, inputSchema());
    expect(result.errors).toEqual([expect.objectContaining({ row: 0, column: '=cmd', rule: 'formula' })]);
  });
});

describe('renderSamplesheet', () => {
  it('writes every cell back with uniform quoting and no blank lines', async () => {
    const { renderSamplesheet } = await import('../../../functions/core/nextflow/samplesheet');
    const csv = `\uFEFF${HEADER},seq_center\r\n ${row('S1')} ,"Broad, Cambridge"\r\n\r\n${row('S2')},x\r\n`;
    expect(renderSamplesheet(csv)).toBe(
      `${HEADER},seq_center\n${row('S1')},"Broad, Cambridge"\n${row('S2')},x\n`,
    );
  });

  it('neutralises any cell a spreadsheet would run as a formula, whatever wrote it', async () => {
    const { renderSamplesheet } = await import('../../../functions/core/nextflow/samplesheet');
    expect(renderSamplesheet('sample,note\nS1,=1+2\nS2,@SUM(A1)\nS3,-2+3\nS4,+x\nS5,a=b\n')).toBe(
      "sample,note\nS1,'=1+2\nS2,'@SUM(A1)\nS3,'-2+3\nS4,'+x\nS5,a=b\n",
    );
  });
});
