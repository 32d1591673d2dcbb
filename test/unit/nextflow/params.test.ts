import { describe, expect, it } from 'vitest';
import { defaultOf, paramDefinitions, validateParams } from '../../../functions/core/nextflow/params';
import { getPipelineVersion } from '../../../functions/core/nextflow/pipelines/registry';
import type { JsonSchema } from '../../../functions/core/shared/json-schema';

const PLATFORM = {
  input: 'gs://runs/runs/run-aaaaaaaaaaaa/inputs/samplesheet.csv',
  outdir: 'gs://runs/runs/run-aaaaaaaaaaaa/results',
};
const schemaOf = (version: string) => getPipelineVersion('nf-core/scrnaseq', version).release.nextflowSchema;
/** A reference: without one the pipeline cannot start, and the launch is refused. */
const REF = { genome: 'GRCh38' };

describe.each(['2.7.1', '3.0.0', '4.0.0'])('params of nf-core/scrnaseq %s', (version) => {
  const schema = schemaOf(version);

  it('accepts the defaults and a reference, with the platform input and outdir', () => {
    const result = validateParams(schema, REF, PLATFORM);
    expect(result.errors).toEqual([]);
    expect(result.params).toMatchObject({ ...PLATFORM, protocol: 'auto', publish_dir_mode: 'copy' });
  });

  it('names the param and the rule of an enum violation', () => {
    const result = validateParams(schema, { ...REF, aligner: 'bowtie' }, PLATFORM);
    expect(result.errors).toEqual([
      expect.objectContaining({
        field: 'params.aligner',
        rule: 'enum',
        message: expect.stringMatching(/^aligner: must be one of: .*star/),
      }),
    ]);
  });

  it('names the param and the rule of a type violation', () => {
    const result = validateParams(schema, { ...REF, skip_fastqc: 'yes', star_feature: 3 }, PLATFORM);
    expect(result.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          field: 'params.skip_fastqc',
          rule: 'type',
          message: 'skip_fastqc: must be boolean',
        }),
        expect.objectContaining({
          field: 'params.star_feature',
          rule: 'type',
          message: 'star_feature: must be string',
        }),
      ]),
    );
  });

  it('enforces patterns (email)', () => {
    const result = validateParams(schema, { ...REF, email: 'not an email' }, PLATFORM);
    expect(result.errors).toEqual([expect.objectContaining({ field: 'params.email', rule: 'pattern' })]);
  });

  it('keeps user values over defaults', () => {
    const result = validateParams(schema, { ...REF, aligner: 'star', protocol: '10XV3' }, PLATFORM);
    expect(result.errors).toEqual([]);
    expect(result.params).toMatchObject({ aligner: 'star', protocol: '10XV3' });
  });

  it('warns about unknown params and still passes them on, as nf-schema does', () => {
    const result = validateParams(
      schema,
      { ...REF, replay_fail_process: 'STAR_ALIGN', '--typo': 1 },
      PLATFORM,
    );
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([
      expect.stringContaining('Unrecognised param "replay_fail_process"'),
      expect.stringContaining('Unrecognised param "--typo"'),
    ]);
    expect(result.params.replay_fail_process).toBe('STAR_ALIGN');
  });

  it('replaces a user input or outdir with the platform paths, with a warning', () => {
    const result = validateParams(schema, { input: 'local.csv', outdir: './results' }, PLATFORM);
    expect(result.params.input).toBe(PLATFORM.input);
    expect(result.params.outdir).toBe(PLATFORM.outdir);
    expect(result.warnings).toHaveLength(2);
  });

  it("refuses nf-schema's help switches, which would make the run print help and exit", () => {
    const result = validateParams(
      schema,
      { ...REF, help: true, show_hidden: 'yes', help_full: false },
      PLATFORM,
    );
    expect(result.errors).toEqual([
      expect.objectContaining({ field: 'params.help', rule: 'not_for_launch' }),
      expect.objectContaining({ field: 'params.show_hidden', rule: 'not_for_launch' }),
    ]);
    expect(result.errors[0]!.message).toContain('remove it');
  });

  it('refuses, at the genome field, a genome its iGenomes config does not define, saying what was meant', () => {
    const { release } = getPipelineVersion('nf-core/scrnaseq', version);
    expect(release.igenomes).toContain('GRCh38');
    const known = { genomes: release.igenomes };
    const typo = validateParams(schema, { genome: 'GRCm39' }, PLATFORM, known);
    expect(typo.errors).toEqual([
      {
        field: 'params.genome',
        rule: 'known_genome',
        message: expect.stringMatching(
          /^genome "GRCm39" is not .*iGenomes.*did you mean "GRCm38"\? The pipeline would stop at start: .*leave genome empty and give your own fasta and gtf\.$/,
        ),
      },
    ]);
    // The case is wrong: the key it meant is named.
    expect(validateParams(schema, { genome: 'grch38' }, PLATFORM, known).errors[0]!.message).toContain(
      'did you mean "GRCh38"?',
    );
    // Nothing near: no guess, but still what to do.
    const far = validateParams(schema, { genome: 'Xenopus_laevis_v10' }, PLATFORM, known);
    expect(far.errors[0]!.message).not.toContain('did you mean');
    expect(far.errors[0]!.message).toContain('give your own fasta and gtf');
    // A fasta does not save it: nf-core looks the genome up first.
    expect(
      validateParams(schema, { genome: 'GRCm39', fasta: 'gs://b/genome.fa' }, PLATFORM, known).errors,
    ).toHaveLength(1);
    // Known keys, or the iGenomes config switched off: nothing to say.
    for (const params of [
      { genome: 'GRCh38' },
      { genome: 'mm10' },
      { genome: 'custom', igenomes_ignore: true },
    ])
      expect(validateParams(schema, params, PLATFORM, known).errors).toEqual([]);
    // Without a list (a pipeline that ships none) the genome is not judged.
    expect(validateParams(schema, { genome: 'GRCh39' }, PLATFORM).errors).toEqual([]);
  });

  it('refuses a launch with no reference at all, and takes a genome, a fasta or a prebuilt index as one', () => {
    const none = validateParams(schema, {}, PLATFORM);
    expect(none.errors).toEqual([
      {
        field: 'params.genome',
        rule: 'reference_required',
        message: expect.stringMatching(
          /^no reference is given: set genome .* or give your own fasta and gtf/,
        ),
      },
    ]);
    for (const reference of [
      { genome: 'GRCh38' },
      { fasta: 'gs://b/genome.fa', gtf: 'gs://b/genes.gtf' },
      { star_index: 'gs://b/star/' },
    ])
      expect(validateParams(schema, reference, PLATFORM).errors).toEqual([]);
  });

  it('refuses an unknown param that looks like a typo of a known one, unless asked to launch it as written', () => {
    const typo = validateParams(schema, { ...REF, algner: 'star' }, PLATFORM);
    expect(typo.errors).toEqual([
      {
        field: 'params.algner',
        rule: 'unknown_param',
        message: expect.stringMatching(
          /^Unrecognised param "algner".*Did you mean "aligner"\? Without it, aligner keeps its default\. Fix the name, or launch with "allow_unknown_params": true/,
        ),
      },
    ]);
    const allowed = validateParams(schema, { ...REF, algner: 'star' }, PLATFORM, {}, { allowUnknown: true });
    expect(allowed.errors).toEqual([]);
    expect(allowed.paramWarnings).toEqual([
      { param: 'algner', message: expect.stringContaining('Did you mean "aligner"?') },
    ]);
    // Only the names this request gives are judged (a recovery's overrides): old ones were accepted.
    const old = validateParams(
      schema,
      { ...REF, algner: 'star', skip_fastqc: true },
      PLATFORM,
      {},
      { newNames: ['skip_fastqc'] },
    );
    expect(old.errors).toEqual([]);
  });

  it('knows every param of every group', () => {
    const names = paramDefinitions(schema).map((d) => d.name);
    expect(names).toEqual(
      expect.arrayContaining(['input', 'outdir', 'aligner', 'protocol', 'genome', 'skip_fastqc']),
    );
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('JSON Schema dialects', () => {
  it('reads draft-07 definitions (2.7.1) and 2020-12 $defs (4.0.0)', () => {
    expect(schemaOf('2.7.1').definitions).toBeDefined();
    expect(schemaOf('4.0.0').$defs).toBeDefined();
    expect(validateParams(schemaOf('2.7.1'), { ...REF, aligner: 'alevin' }, PLATFORM).errors).toEqual([]);
    expect(validateParams(schemaOf('4.0.0'), { ...REF, aligner: 'alevin' }, PLATFORM).errors).toHaveLength(1);
    expect(validateParams(schemaOf('4.0.0'), { ...REF, aligner: 'simpleaf' }, PLATFORM).errors).toEqual([]);
  });
});

describe('defaults a schema gives inside branches', () => {
  it("satisfies required with a default written inside anyOf, as the pipeline's config sets it", () => {
    const schema: JsonSchema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      required: ['min_reads'],
      properties: {
        min_reads: {
          anyOf: [
            { type: 'integer', default: 1000 },
            { type: 'string', enum: ['auto'] },
          ],
        },
      },
    };
    const platform = { input: 'gs://b/in.csv', outdir: 'gs://b/out' };
    const result = validateParams(schema, {}, platform);
    expect(result.errors).toEqual([]);
    expect(result.params.min_reads).toBe(1000);
    expect(defaultOf({ oneOf: [{ type: 'string' }, { allOf: [{ default: 'x' }] }] } as JsonSchema)).toBe('x');
    expect(defaultOf({ type: 'string' } as JsonSchema)).toBeUndefined();
  });
});
