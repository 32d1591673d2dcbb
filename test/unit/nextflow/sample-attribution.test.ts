import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { getPipelineVersion, listPipelines } from '../../../functions/core/nextflow/pipelines/registry';
import {
  sampleIdColumn,
  sampleMatcher,
  tagOfName,
  taskTag,
} from '../../../functions/core/nextflow/sample-attribution';
import {
  rowsBySample,
  samplesheetOfSamples,
  validateSamplesheet,
} from '../../../functions/core/nextflow/samplesheet';
import { parseTrace } from '../../../functions/core/nextflow/trace';
import { countTraceTasks } from '../../../functions/core/runs/progress';
import type { JsonSchema } from '../../../functions/core/shared/json-schema';

const fixture = (path: string) => readFileSync(`test/fixtures/${path}`, 'utf8');
const schema = (path: string) => JSON.parse(fixture(path)) as JsonSchema;

describe('a task tag names its samples as whole words', () => {
  const match = sampleMatcher(['PBMC_1', 'PBMC_10', 'S1', 'S1_a', 'tumour', 'normal', 'a.b']);
  it.each([
    ['PBMC_1', ['PBMC_1']],
    ['PBMC_10', ['PBMC_10']],
    ['PBMC_1_T2', ['PBMC_1']],
    ['PBMC_1-L002', ['PBMC_1']],
    ['PBMC_100', []],
    ['xPBMC_1', []],
    ['S1_a_T1', ['S1_a']],
    ['S1_b', ['S1']],
    ['tumour_vs_normal', ['tumour', 'normal']],
    ['[PBMC_1, PBMC_10]', ['PBMC_1', 'PBMC_10']],
    ['a.b', ['a.b']],
    ['axb', []],
    ['genome.fa', []],
    [null, []],
  ])('%s → %j', (tag, samples) => {
    expect(match(tag)).toEqual(samples);
  });

  it('reads the tag from the name when the trace has no tag column', () => {
    expect(tagOfName('NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN (PBMC_1)')).toBe('PBMC_1');
    expect(tagOfName('NFCORE_SCRNASEQ:SCRNASEQ:MULTIQC')).toBeNull();
    expect(taskTag({ tag: null, name: 'FASTQC (PBMC_1_T2)' })).toBe('PBMC_1_T2');
    expect(taskTag({ tag: 'S1', name: 'FASTQC (something else)' })).toBe('S1');
  });

  it('matches nothing when the run has no samples', () => {
    expect(sampleMatcher([])('PBMC_1')).toEqual([]);
  });
});

describe('on a real trace (nf-core/chipseq, test/fixtures/nextflow)', () => {
  // The design's samples are {group}_R{replicate}; the trace also tags technical replicates
  // ({sample}_T1), lists of samples ([a, b]), and groups (SPT5_T0), which are whole-run steps.
  const samples = [
    'SPT5_INPUT_R1',
    'SPT5_INPUT_R2',
    'SPT5_T0_R1',
    'SPT5_T0_R2',
    'SPT5_T15_R1',
    'SPT5_T15_R2',
  ];
  const { tasks } = parseTrace(fixture('nextflow/chipseq_execution_trace.txt'));
  const counted = countTraceTasks(tasks, sampleMatcher(samples));

  it('gives each sample its own tasks, its technical replicates and the lists that name it', () => {
    const done = Object.fromEntries(
      Object.entries(counted.samples).map(([id, c]) => [id, c.completed + c.cached + c.failed + c.aborted]),
    );
    // Counted by hand with grep: SPT5_T0_R1 has 36 tasks tagged SPT5_T0_R1, 8 tagged
    // SPT5_T0_R1_T1 and 4 lists of four samples; an input has 26, 8 and 2 lists of two.
    expect(done).toEqual({
      SPT5_INPUT_R1: 36,
      SPT5_INPUT_R2: 36,
      SPT5_T0_R1: 48,
      SPT5_T0_R2: 48,
      SPT5_T15_R1: 48,
      SPT5_T15_R2: 48,
    });
  });

  it('leaves the steps that name no sample to the whole run, and loses no task', () => {
    const whole = counted.whole_run;
    // The genome, checksums, MultiQC, versions and the group-level steps (SPT5, SPT5_T0).
    expect(whole.completed + whole.cached + whole.failed + whole.aborted).toBe(25);
    const perSample = tasks.filter((t) => sampleMatcher(samples)(taskTag(t)).length > 0).length;
    expect(perSample + 25).toBe(tasks.length);
  });

  it("splits a shared task's CPU time between the samples it names", () => {
    const one = parseTrace(
      'task_id\tname\tstatus\tcpus\trealtime\n1\tCALL ([S1, S2])\tCOMPLETED\t2\t1h\n2\tQC (S1)\tCOMPLETED\t1\t30m\n',
    ).tasks;
    const c = countTraceTasks(one, sampleMatcher(['S1', 'S2']));
    expect(c.samples.S1!.cpu_ms).toBe(3_600_000 + 1_800_000);
    expect(c.samples.S2!.cpu_ms).toBe(3_600_000);
  });

  it('keeps the failure that ended a sample, and counts a retried one apart', () => {
    const rows = parseTrace(
      'task_id\thash\tname\tstatus\texit\terror_action\n1\tab/cdef12\tALIGN (S1)\tFAILED\t137\tRETRY\n2\tab/cdef34\tALIGN (S1)\tCOMPLETED\t0\t-\n3\tcd/ef5678\tALIGN (S2)\tFAILED\t1\tTERMINATE\n',
    ).tasks;
    const c = countTraceTasks(rows, sampleMatcher(['S1', 'S2']));
    expect(c.samples.S1).toMatchObject({ failed: 1, retried: 1, completed: 1 });
    expect(c.samples.S1!.failed_task).toBeUndefined();
    expect(c.samples.S2!.failed_task).toEqual({ name: 'ALIGN (S2)', exit: 1, task_id: 3, hash: 'cd/ef5678' });
  });
});

describe("the sample id column comes from the pipeline's samplesheet schema", () => {
  it.each([
    ['nf-core-pipelines/rnaseq/3.24.0', 'samplesheet.csv', 'sample'],
    ['nf-core-pipelines/sarek/3.10.0', 'fastq_pair.csv', 'sample'],
    ['nf-core-pipelines/ampliseq', 'samplesheet.tsv', 'sampleID'],
  ])("%s: %s's samples are its %s column", (dir, sheet, column) => {
    const inputSchema = schema(`${dir}/schema_input.json`);
    expect(sampleIdColumn(inputSchema)).toBe(column);
    // Local paths cannot run on Batch: the fixture's placeholders point at a bucket instead.
    const text = fixture(`${dir}/${sheet}`).replaceAll('/path/to/', 'gs://bucket/');
    const validated = validateSamplesheet(text, inputSchema);
    const expected = [...new Set(validated.cells.map((row) => String(row[column])))];
    expect(validated.samples).toEqual(expected);
    expect(validated.samples.length).toBeGreaterThan(1);
  });

  it.each(listPipelines().flatMap((p) => p.versions.map((v) => [p.name, v.version] as const)))(
    'shipped %s %s has a sample id column',
    (name, version) => {
      const column = sampleIdColumn(getPipelineVersion(name, version).release.inputSchema);
      expect(column).toBe('sample');
    },
  );

  it('reads nf-core spellings when no column is mapped to meta.id or meta.sample', () => {
    expect(sampleIdColumn({ items: { properties: { sampleID: {}, fastq: {} } } })).toBe('sampleID');
    expect(sampleIdColumn({ items: { type: 'string' } })).toBeNull();
  });
});

describe('a samplesheet by sample, and a samplesheet of some samples', () => {
  const csv = 'sample,fastq_1,lane\nA,gs://b/a1.fq,1\nB,gs://b/b.fq,1\nA,gs://b/a2.fq,2\nC,=cmd(),1\n';
  it("groups each sample's rows", () => {
    const rows = rowsBySample(csv, 'sample');
    expect([...rows.keys()]).toEqual(['A', 'B', 'C']);
    expect(rows.get('A')!.map((r) => r.lane)).toEqual(['1', '2']);
  });
  it('keeps the header and the chosen samples’ rows, in order', () => {
    expect(samplesheetOfSamples(csv, 'sample', new Set(['A', 'C']))).toBe(
      "sample,fastq_1,lane\nA,gs://b/a1.fq,1\nA,gs://b/a2.fq,2\nC,'=cmd(),1\n",
    );
  });
  it('reads a header-less list one sample a line', () => {
    expect([...rowsBySample('SRR1\nSRR2\n', null).keys()]).toEqual(['SRR1', 'SRR2']);
    expect(samplesheetOfSamples('SRR1\nSRR2\n', null, new Set(['SRR2']))).toBe('SRR2\n');
  });
});
