/**
 * Samplesheets and params of nf-core pipelines other than scrnaseq, validated as nf-schema
 * does, with the pipelines' own files (test/fixtures/nf-core-pipelines, origins in SOURCES.md).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { paramsThatMustExist, validateParams } from '../../../functions/core/nextflow/params';
import {
  columnsThatMustExist,
  detectFormat,
  validateSamplesheet,
} from '../../../functions/core/nextflow/samplesheet';
import type { JsonSchema } from '../../../functions/core/shared/json-schema';

/**
 * nf-core's example sheets name local paths (/path/to/…); the platform takes gs:// only
 * (a local path is an error, see samplesheet.ts), so the examples are read as if in a bucket.
 */
const fixture = (path: string) =>
  readFileSync(`test/fixtures/nf-core-pipelines/${path}`, 'utf8').replace(
    /(^|,)\/path\/to\//gm,
    '$1gs://b/path/to/',
  );
const json = (path: string) => JSON.parse(fixture(path)) as JsonSchema;
const PLATFORM = { input: 'gs://b/runs/x/inputs/samplesheet.csv', outdir: 'gs://b/runs/x/results' };

const rnaseq = json('rnaseq/3.24.0/schema_input.json');
const sarek310 = json('sarek/3.10.0/schema_input.json');
const sarek344 = json('sarek/3.4.4/schema_input.json');
const rnaseqSheet = fixture('rnaseq/3.24.0/samplesheet.csv');

describe('schemas nf-schema accepts', () => {
  it.each([
    ['rnaseq 3.24.0', 'rnaseq/3.24.0'],
    ['rnaseq 3.14.0', 'rnaseq/3.14.0'],
    ['sarek 3.10.0 (uniqueEntries inside items)', 'sarek/3.10.0'],
    ['sarek 3.4.4 (nf-validation unique, dependentRequired)', 'sarek/3.4.4'],
  ])('%s: its params schema and samplesheet schema validate instead of crashing', (_name, dir) => {
    expect(() => validateParams(json(`${dir}/nextflow_schema.json`), {}, PLATFORM)).not.toThrow();
    const sheet = validateSamplesheet(fixture(`${dir}/samplesheet.csv`), json(`${dir}/schema_input.json`));
    expect(sheet.errors).toEqual([]);
    expect(sheet.rows.length).toBeGreaterThan(0);
  });

  it('ignores keywords it does not know (ampliseq\'s "min") and accepts a group with required but no type', () => {
    const schema: JsonSchema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: {
        main: { required: ['depth'], properties: { depth: { type: 'integer', min: 1, minimum: 1 } } },
      },
      allOf: [{ $ref: '#/$defs/main' }],
    };
    expect(validateParams(schema, { depth: 3 }, PLATFORM).errors).toEqual([]);
    expect(validateParams(schema, {}, PLATFORM).errors).toEqual([
      expect.objectContaining({ field: 'params.depth', rule: 'required' }),
    ]);
  });

  it('stays quiet about the params nf-schema ignores by default (nf_test_output, genomes)', () => {
    const { warnings } = validateParams(
      json('rnaseq/3.24.0/nextflow_schema.json'),
      { genomes: { GRCh38: { fasta: 'gs://b/x.fa' } }, nf_test_output: 'x', not_a_param: 1 },
      PLATFORM,
    );
    expect(warnings).toEqual([expect.stringContaining('Unrecognised param "not_a_param"')]);
  });

  it('guesses the param a typo meant, and says the intended one keeps its default', () => {
    const { warnings } = validateParams(
      json('rnaseq/3.24.0/nextflow_schema.json'),
      { alinger: 'star_salmon', genome: 'GRCh38' },
      PLATFORM,
      {},
      { allowUnknown: true },
    );
    expect(warnings).toEqual([
      'Unrecognised param "alinger": it is not in the pipeline schema and is passed to Nextflow as is. Did you mean "aligner"? Without it, aligner keeps its default.',
    ]);
    const far = validateParams(
      json('rnaseq/3.24.0/nextflow_schema.json'),
      { zzzzzzzz: 1, genome: 'GRCh38' },
      PLATFORM,
    );
    expect(far.warnings[0]).not.toContain('Did you mean');
  });
});

describe('header-less sheets: one id a line', () => {
  // The shape nf-core/fetchngs 1.12.0 declares (issue 35): nf-validation 1.x's object with one
  // property named "", the accession pattern of fetchngs's isSraId(). Written here from that
  // description: the file itself was not in the stored sources.
  const fetchngs: JsonSchema = {
    $schema: 'http://json-schema.org/draft-07/schema',
    type: 'array',
    items: {
      type: 'object',
      properties: {
        '': {
          type: 'string',
          pattern: '^(((SR|ER|DR)[APRSX])|(SAM(N|EA|D))|(PRJ(NA|EB|DB))|(GS[EM]))(\\d+)$',
          errorMessage: 'Please provide a valid SRA, ENA, DDBJ or GEO identifier',
        },
      },
    },
  };

  it('reads nf-validation\'s "" property as a list of ids, and refuses a bad id by its row', () => {
    const good = validateSamplesheet('SRR9984183\nERR1160846\nGSE214215\n', fetchngs);
    expect(good.errors).toEqual([]);
    expect(good.samples).toEqual(['SRR9984183', 'ERR1160846', 'GSE214215']);
    const bad = validateSamplesheet('SRR9984183\nnot-an-id\n', fetchngs);
    expect(bad.errors).toEqual([
      expect.objectContaining({ row: 2, message: expect.stringMatching(/^Row 2: /) }),
    ]);
    // A header line is no id: fetchngs would stop at it ("Mixture of ids"), so it is refused here.
    expect(validateSamplesheet('id\nSRR9984183\n', fetchngs).errors).toEqual([
      expect.objectContaining({ row: 1 }),
    ]);
  });

  it("reads nf-schema's plain items the same way", () => {
    const plain: JsonSchema = { type: 'array', items: { type: 'string', pattern: '^SRR\\d+$' } };
    expect(validateSamplesheet('SRR1\nSRR2\n', plain).errors).toEqual([]);
  });

  it('says plainly what a header must name, even for a schema with no required column', () => {
    const schema: JsonSchema = {
      type: 'array',
      items: { type: 'object', properties: { sample: { type: 'string' }, fastq_1: { type: 'string' } } },
    };
    expect(validateSamplesheet('a,b\n1,2\n', schema).errors[0]!.message).toBe(
      'The first line must be a header naming the columns (allowed: sample, fastq_1). Found: a,b.',
    );
  });
});

describe('inputs Nextflow fetches itself', () => {
  const raw = (path: string) => readFileSync(`test/fixtures/nf-core-pipelines/${path}`, 'utf8');

  it("takes ampliseq's own TSV of ENA ftp:// reads, warning by cell that they are not checked before launch", () => {
    const sheet = validateSamplesheet(
      raw('ampliseq/samplesheet.tsv'),
      JSON.parse(raw('ampliseq/schema_input.json')) as JsonSchema,
    );
    expect(sheet.errors).toEqual([]);
    expect(sheet.rows).toHaveLength(3);
    const remote = sheet.located_warnings.filter((w) => /fetched by Nextflow/.test(w.message));
    expect(remote.map((w) => `${w.row}:${w.column}`)).toEqual([
      '1:forwardReads',
      '1:reverseReads',
      '2:forwardReads',
      '2:reverseReads',
      '3:forwardReads',
      '3:reverseReads',
    ]);
    expect(remote[0]!.message).toBe(
      'Row 1, column forwardReads: ftp://ftp.sra.ebi.ac.uk/vol1/fastq/SRR100/030/SRR10070130/SRR10070130_1.fastq.gz is fetched by Nextflow when a task needs it; it is not checked before launch, so a wrong address fails the run then.',
    );
  });

  it("takes sarek's own https:// pair sheet (raw.githubusercontent.com) the same way", () => {
    const sheet = validateSamplesheet(raw('sarek/3.10.0/fastq_pair.csv'), sarek310);
    expect(sheet.errors).toEqual([]);
    expect(sheet.located_warnings.filter((w) => /fetched by Nextflow/.test(w.message))).toHaveLength(4);
  });

  it('still refuses a path on your machine, and s3:// saying why', () => {
    const csv = (fastq: string) =>
      ['patient,sample,lane,fastq_1,fastq_2', `P1,S1,L1,${fastq},gs://b/s_2.fastq.gz`].join('\n');
    expect(validateSamplesheet(csv('/data/s_1.fastq.gz'), sarek310).errors).toEqual([
      expect.objectContaining({
        row: 1,
        column: 'fastq_1',
        rule: 'gs_path',
        message: expect.stringMatching(/must be a gs:\/\/, https:\/\/ or ftp:\/\/ address/),
      }),
    ]);
    expect(validateSamplesheet(csv('s3://bucket/s_1.fastq.gz'), sarek310).errors).toEqual([
      expect.objectContaining({ rule: 'gs_path', message: expect.stringMatching(/Amazon S3/) }),
    ]);
    // An address inside the network the task's VM runs in is no input (the metadata server).
    for (const inside of [
      'http://169.254.169.254/computeMetadata/v1/s_1.fastq.gz',
      'http://[::a9fe:a9fe]/s_1.fastq.gz',
      'https://10.0.0.7/s_1.fastq.gz',
      'http://metadata.google.internal/s_1.fastq.gz',
    ])
      expect(validateSamplesheet(csv(inside), sarek310).errors, inside).toEqual([
        expect.objectContaining({
          rule: 'public_address',
          message: expect.stringMatching(/public internet/),
        }),
      ]);
    // A URL with no path is no file.
    expect(validateSamplesheet(csv('https://example.org'), sarek310).errors).toHaveLength(1);
  });
});

describe('samplesheet rules over the whole sheet', () => {
  const sarekRow = (lane: string, fastq = 'gs://b/s_1.fastq.gz') =>
    `P1,S1,${lane},${fastq},gs://b/s_2.fastq.gz`;

  it('enforces uniqueEntries (sarek 3.10.0: lane, patient and sample), naming the row and the entries', () => {
    const csv = ['patient,sample,lane,fastq_1,fastq_2', sarekRow('L1'), sarekRow('L2'), sarekRow('L1')].join(
      '\n',
    );
    expect(validateSamplesheet(csv, sarek310).errors).toEqual([
      expect.objectContaining({
        row: 3,
        rule: 'uniqueEntries',
        message: 'Row 3: Detected duplicate entries: [lane:L1, patient:P1, sample:S1] (the same as row 1).',
      }),
    ]);
  });

  it('reads uniqueEntries inside allOf (through a $ref) as nf-schema does, and skips rows with none of its columns', () => {
    const schema: JsonSchema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'array',
      $defs: { unique: { uniqueEntries: ['sample', 'lane'] } },
      allOf: [{ $ref: '#/$defs/unique' }],
      items: {
        type: 'object',
        properties: { sample: { type: 'string' }, lane: { type: 'string' }, note: { type: 'string' } },
      },
    };
    const sheet = (...rows: string[]) =>
      validateSamplesheet(['sample,lane,note', ...rows].join('\n'), schema);
    expect(sheet('S1,L1,a', 'S1,L2,b', 'S1,L1,c').errors).toEqual([
      expect.objectContaining({
        row: 3,
        rule: 'uniqueEntries',
        message: 'Row 3: Detected duplicate entries: [sample:S1, lane:L1] (the same as row 1).',
      }),
    ]);
    // Empty cells are no entries: two rows with neither column are not duplicates of each other…
    expect(sheet(',,a', ',,b').errors).toEqual([]);
    // …and a row compares on the columns it has, as nf-schema's tuples of present keys do.
    expect(sheet('S1,,a', 'S1,,b').errors).toEqual([
      expect.objectContaining({ row: 2, rule: 'uniqueEntries' }),
    ]);
    expect(sheet('S1,,a', 'S1,L1,b').errors).toEqual([]);
  });

  it("enforces nf-validation's unique and dependentRequired (sarek 3.4.4)", () => {
    const csv = [
      'patient,sample,lane,fastq_1,fastq_2',
      sarekRow('L1'),
      sarekRow('L1'),
      'P1,S2,L1,,gs://b/s_2.fastq.gz',
    ].join('\n');
    const { errors } = validateSamplesheet(csv, sarek344);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ row: 2, column: 'lane', rule: 'unique' }),
        expect.objectContaining({ row: 3, column: 'lane', rule: 'dependentRequired' }),
      ]),
    );
  });

  it('accepts a row whose extra trailing cells are empty (a spreadsheet export)', () => {
    const withCommas = rnaseqSheet
      .trim()
      .split('\n')
      .map((line) => `${line},,`)
      .join('\n');
    expect(validateSamplesheet(withCommas, rnaseq).errors).toEqual([]);
  });

  it("reports a missing required column and the rows' other problems together", () => {
    const csv = 'sample,fastq_1\nS1,gs://b/S1_R1.fastq.gz\nS 2,gs://b/S2_R1.bam\n';
    const { errors } = validateSamplesheet(csv, rnaseq);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ row: 0, column: 'strandedness', rule: 'required' }),
        expect.objectContaining({ row: 2, column: 'sample' }),
        expect.objectContaining({ row: 2, column: 'fastq_1' }),
      ]),
    );
    expect(errors.filter((e) => e.column === 'strandedness')).toHaveLength(1);
  });
});

describe('samplesheet formats', () => {
  const rows = rnaseqSheet
    .trim()
    .split('\n')
    .map((line) => line.split(','));
  const [header, ...body] = rows as [string[], ...string[][]];
  const objects = body.map((cells) =>
    Object.fromEntries(header.flatMap((h, i) => (cells[i] ? [[h, cells[i]]] : []))),
  );

  it.each([
    ['TSV', rows.map((r) => r.join('\t')).join('\n'), 'tsv'],
    ['YAML', stringify(objects), 'yaml'],
    ['JSON', JSON.stringify(objects, null, 2), 'json'],
  ])('reads a %s samplesheet (detected) like the CSV', (_name, text, format) => {
    expect(detectFormat(text)).toBe(format);
    const sheet = validateSamplesheet(text, rnaseq);
    expect(sheet.errors).toEqual([]);
    expect(sheet.rows).toEqual(validateSamplesheet(rnaseqSheet, rnaseq).rows);
  });

  it('reads a header-less list (nf-core/fetchngs: one id a line), each value checked', () => {
    const ids: JsonSchema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'array',
      items: { type: 'string', pattern: '^(SRR|ERR|DRR)\\d+$' },
    };
    const good = validateSamplesheet('SRR9984183\nERR1160846\n', ids, 'csv');
    expect(good.errors).toEqual([]);
    expect(good.samples).toEqual(['SRR9984183', 'ERR1160846']);
    const bad = validateSamplesheet('SRR9984183\nnot an id\n', ids, 'csv');
    expect(bad.errors).toEqual([expect.objectContaining({ row: 2, rule: 'pattern' })]);
  });
});

describe("nf-schema's exists", () => {
  it('finds every rnaseq 3.24.0 column and param that must exist, with the kind of path, not the ones the platform sets', () => {
    expect(columnsThatMustExist(rnaseq)).toEqual([
      { name: 'fastq_1', kind: 'file' },
      { name: 'fastq_2', kind: 'file' },
      { name: 'genome_bam', kind: 'file' },
      { name: 'transcriptome_bam', kind: 'file' },
    ]);
    const params = paramsThatMustExist(json('rnaseq/3.24.0/nextflow_schema.json'));
    expect(params).toContainEqual({ name: 'fasta', kind: 'file' });
    expect(params).toContainEqual({ name: 'star_index', kind: 'path' });
    expect(params.map((p) => p.name)).not.toContain('input');
    expect(params).toHaveLength(20);
  });
});
