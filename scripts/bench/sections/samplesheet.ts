/**
 * Samplesheet validation throughput: a 10,000-row nf-core/rnaseq sheet validated as a launch
 * does (parse, cast, schema per row, uniqueness over the sheet), against parsing it alone with
 * the same CSV parser.
 */
import { parse } from 'csv-parse/sync';
import { getPipelineVersion } from '../../../functions/core/nextflow/pipelines/registry';
import { validateSamplesheet } from '../../../functions/core/nextflow/samplesheet';
import { median, ms } from '../harness';

export async function run(): Promise<Record<string, unknown>> {
  console.log('\n== samplesheet: validating 10,000 rows (nf-core/rnaseq 3.24.0)');
  const rows = 10_000;
  const lines = ['sample,fastq_1,fastq_2,strandedness'];
  for (let i = 0; i < rows; i++)
    lines.push(
      `S${i},gs://lab-fastq/run/S${i}_R1_001.fastq.gz,gs://lab-fastq/run/S${i}_R2_001.fastq.gz,auto`,
    );
  const csv = `${lines.join('\n')}\n`;
  const { release } = getPipelineVersion('nf-core/rnaseq', '3.24.0');
  validateSamplesheet(csv, release.inputSchema); // compile the schema once, as an instance would
  const time = (fn: () => unknown) => {
    const runs: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t = performance.now();
      fn();
      runs.push(performance.now() - t);
    }
    return median(runs);
  };
  const validate = time(() => {
    const result = validateSamplesheet(csv, release.inputSchema);
    if (result.error_count > 0) throw new Error(`the bench sheet is invalid: ${result.errors[0]?.message}`);
  });
  const parseOnly = time(() =>
    parse(csv, { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true }),
  );
  const rowsPerSecond = Math.round(rows / (validate / 1000));
  console.log(
    `validate ${ms(validate)} (${rowsPerSecond.toLocaleString('en')} rows/s) vs csv-parse alone ${ms(parseOnly)}: validation costs ${(validate / parseOnly).toFixed(1)}× parsing`,
  );
  return {
    rows,
    validate_ms: validate,
    parse_ms: parseOnly,
    rows_per_second: rowsPerSecond,
    ratio: validate / parseOnly,
  };
}
