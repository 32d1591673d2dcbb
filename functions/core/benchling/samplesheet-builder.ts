import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { type ColumnSource, getPipelineVersion } from '../nextflow/pipelines/registry';
import { neutraliseFormula, validateSamplesheet } from '../nextflow/samplesheet';
import { ValidationError } from '../shared/errors';
import { type BenchlingService, type NgsSample, WarehouseName } from './sample-warehouse';

export const BuildSamplesheetRequest = z
  .strictObject({
    pipeline: z.string().min(1).max(200),
    pipeline_version: z.string().min(1).max(50).optional().describe('defaults to the default version'),
    sample_ids: z.array(WarehouseName).max(5000).optional().describe('warehouse ids of the samples'),
    ngs_runs: z.array(WarehouseName).max(50).optional().describe('NGS run names: every sample of each'),
  })
  .refine((r) => (r.sample_ids?.length ?? 0) + (r.ngs_runs?.length ?? 0) > 0, {
    message: 'select samples: give sample_ids, ngs_runs, or both',
    path: ['sample_ids'],
  });
export type BuildSamplesheetRequest = z.infer<typeof BuildSamplesheetRequest>;

const Problem = z.object({
  field: z.string().optional(),
  row: z.number().int().optional(),
  column: z.string().optional(),
  rule: z.string().optional(),
  message: z.string(),
});

export const BuildSamplesheetResponse = z.object({
  pipeline: z.string(),
  pipeline_version: z.string(),
  samplesheet_csv: z.string(),
  validation: z.object({
    valid: z.boolean(),
    errors: z.array(Problem),
    error_count: z.number().int(),
    warnings: z.array(z.string()),
    sample_count: z.number().int(),
    row_count: z.number().int(),
  }),
  source_ngs_runs: z.array(z.string()).describe('pass these to POST /api/runs'),
  source_project: z.string().nullable().describe('the project every sample belongs to; null if several'),
  warnings: z.array(z.string()),
});
export type BuiltSamplesheet = z.infer<typeof BuildSamplesheetResponse>;

/** The value a column gets for a sample, as the pipeline's manifest says (samplesheet_from_benchling). */
function columnValue(source: ColumnSource, sample: NgsSample): string | number | boolean | null {
  if ('value' in source) return source.value;
  return source.field === 'name' ? sample.name : sample[source.field];
}

/**
 * The nf-core samplesheet for the selected samples, in the columns of the chosen version's
 * schema_input.json (required columns always, empty where Benchling has nothing for them;
 * optional ones only when some sample has a value), one row per
 * sample and sequencing run (a sample sequenced twice gets two rows, as lanes do), validated
 * by the same validator run creation uses.
 */
export async function buildSamplesheet(
  benchling: BenchlingService,
  request: BuildSamplesheetRequest,
): Promise<z.infer<typeof BuildSamplesheetResponse>> {
  let found: ReturnType<typeof getPipelineVersion>;
  try {
    found = getPipelineVersion(request.pipeline, request.pipeline_version);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new ValidationError(message, [{ field: 'pipeline_version', rule: 'known', message }]);
  }
  const { pipeline, release } = found;
  const samples = await benchling.selectSamples(request);
  samples.sort((a, b) => a.name.localeCompare(b.name) || a.ngs_run.name.localeCompare(b.ngs_run.name));

  const items = (release.inputSchema.items ?? {}) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  const required = new Set(items.required ?? []);
  const sources = pipeline.samplesheetFromBenchling;
  // A required column Benchling cannot fill (sarek's patient) is still there, empty, so the
  // samplesheet step marks each of its cells for the person to fill in.
  const columns = Object.keys(items.properties ?? {}).filter(
    (column) =>
      required.has(column) ||
      (sources[column] !== undefined && samples.some((s) => columnValue(sources[column]!, s) !== null)),
  );
  const records = samples.map((sample) =>
    columns.map((column) =>
      sources[column] === undefined
        ? ''
        : neutraliseFormula(String(columnValue(sources[column]!, sample) ?? '')),
    ),
  );
  const csv = stringify([columns, ...records], { record_delimiter: 'unix' });
  const validation = validateSamplesheet(csv, release.inputSchema);

  const runs = [...new Set(samples.map((s) => s.ngs_run.name))];
  const projects = [...new Set(samples.map((s) => s.project?.name ?? null))];
  const warnings: string[] = [];
  if (projects.length > 1) {
    warnings.push(
      `The samples come from ${projects.length} projects (${projects.map((p) => p ?? 'none').join(', ')}); the run will not be filed under one.`,
    );
  }
  const noReads = samples.filter((s) => !s.fastq_1 || !s.fastq_2).map((s) => s.name);
  if (noReads.length > 0) {
    warnings.push(
      `${noReads.length} sample(s) have no FASTQ path for both reads in the warehouse: ${noReads.slice(0, 5).join(', ')}${noReads.length > 5 ? ', …' : ''}.`,
    );
  }
  return {
    pipeline: pipeline.name,
    pipeline_version: release.version,
    samplesheet_csv: csv,
    validation: {
      valid: validation.error_count === 0,
      errors: validation.errors,
      error_count: validation.error_count,
      warnings: validation.warnings,
      sample_count: validation.sample_count,
      row_count: records.length,
    },
    source_ngs_runs: runs,
    source_project: projects.length === 1 ? projects[0]! : null,
    warnings,
  };
}
