/**
 * The pipelines the platform can launch, read from their folders (README.md beside this file):
 * each a manifest plus, a version, the pipeline's own schemas. `npm run build` and `npm start`
 * check every folder and stop naming the file at fault; a function reads the catalog on first
 * use, so an instance that never needs a pipeline never parses one (issue 22, cold starts).
 */
import { z } from 'zod';
import { NotFoundError } from '../../shared/errors';
import type { JsonSchema } from '../../shared/json-schema';
import { CATALOG, type CatalogEntry } from './catalog';

/** Where a samplesheet column's value comes from when it is built from Benchling samples. */
const ColumnSource = z.union([
  z.strictObject({
    field: z.enum([
      'name',
      'fastq_1',
      'fastq_2',
      'expected_cells',
      'seq_center',
      'sample_type',
      'feature_type',
    ]),
  }),
  z.strictObject({ value: z.union([z.string(), z.number(), z.boolean()]) }),
]);
export type ColumnSource = z.infer<typeof ColumnSource>;

const HourRange = z.tuple([z.number().nonnegative(), z.number().nonnegative()]);
const Hours = z.strictObject({ cpu_hours: HourRange, memory_gib_hours: HourRange });

/**
 * What a run of the pipeline costs before the lab has history of its own: CPU-hours and memory
 * GiB-hours (low, high) per sample and once per run, with where the figures come from.
 */
export const CostPrior = z.strictObject({
  per_sample: Hours,
  once: Hours,
  basis: z.string().min(1),
});
export type CostPrior = z.infer<typeof CostPrior>;

const Manifest = z.strictObject({
  name: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'must be owner/name, e.g. nf-core/rnaseq'),
  title: z.string().min(1),
  description: z.string(),
  repository: z.url(),
  default_version: z.string().min(1),
  versions: z.array(z.string().min(1)).min(1),
  /** Each version's manifest.nextflowVersion, verbatim (e.g. "!>=24.04.2"), where it is known. */
  nextflow_versions: z.record(z.string(), z.string().min(1)).default({}),
  samplesheet_from_benchling: z.record(z.string(), ColumnSource).default({}),
  cost_prior: CostPrior.nullable().default(null),
});

export interface PipelineVersion {
  version: string;
  /** The pipeline's own nextflow_schema.json, verbatim. */
  nextflowSchema: JsonSchema;
  /** The samplesheet schema the `input` param points at (assets/schema_input.json). */
  inputSchema: JsonSchema;
  /** scrnaseq's assets/protocols.json (aligner protocol names); null for pipelines without one. */
  protocols: JsonSchema | null;
  /** The genome keys the pipeline's conf/igenomes.config defines (igenomes.json); null if not known. */
  igenomes: readonly string[] | null;
  /** The Nextflow this version needs (manifest.nextflowVersion, e.g. "!>=24.04.2"); null if not recorded. */
  nextflowVersion: string | null;
}

const IgenomesFile = z.object({ genomes: z.array(z.string().min(1)).min(1) });

export interface Pipeline {
  name: string;
  title: string;
  description: string;
  repository: string;
  defaultVersion: string;
  versions: PipelineVersion[];
  /** Samplesheet column → where its value comes from, for samplesheets built from Benchling. */
  samplesheetFromBenchling: Record<string, ColumnSource>;
  /** The cost of a run before the lab has completed ones of its own; null when none is recorded. */
  costPrior: CostPrior | null;
}

/** The samplesheet schema's path in the repository, from the `input` param's `schema` (nf-schema's pointer). */
export function inputSchemaPointer(schema: JsonSchema): string {
  const groups = (schema.$defs ?? schema.definitions ?? {}) as Record<
    string,
    { properties?: Record<string, { schema?: unknown }> }
  >;
  const input =
    (schema.properties as Record<string, { schema?: unknown }> | undefined)?.input ??
    Object.values(groups).find((g) => g.properties?.input)?.properties?.input;
  return typeof input?.schema === 'string' ? input.schema : 'assets/schema_input.json';
}

/** The samplesheet schema's file name in a version's folder. */
function inputSchemaFile(schema: JsonSchema): string {
  const pointer = inputSchemaPointer(schema);
  return pointer.slice(pointer.lastIndexOf('/') + 1);
}

/** Builds the registry from catalog entries; throws naming the file at fault. */
export function loadPipelines(catalog: CatalogEntry[]): Pipeline[] {
  return catalog.map((entry) => {
    const parsed = Manifest.safeParse(entry.manifest);
    if (!parsed.success) {
      throw new Error(
        `${entry.folder}/pipeline.json: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'manifest'} ${i.message}`).join('; ')}`,
      );
    }
    const manifest = parsed.data;
    if (!manifest.versions.includes(manifest.default_version))
      throw new Error(
        `${entry.folder}/pipeline.json: default_version ${manifest.default_version} is not in versions.`,
      );
    for (const version of Object.keys(manifest.nextflow_versions)) {
      if (!manifest.versions.includes(version))
        throw new Error(
          `${entry.folder}/pipeline.json: nextflow_versions names ${version}, which is not in versions.`,
        );
    }
    const versions = manifest.versions.map((version): PipelineVersion => {
      const files = entry.versions.find((v) => v.version === version)?.files;
      const nextflowSchema = files?.['nextflow_schema.json'] as JsonSchema | undefined;
      if (!nextflowSchema) throw new Error(`${entry.folder}/${version}/nextflow_schema.json is missing.`);
      const inputFile = inputSchemaFile(nextflowSchema);
      const inputSchema = files?.[inputFile] as JsonSchema | undefined;
      if (!inputSchema)
        throw new Error(
          `${entry.folder}/${version}/${inputFile} is missing: the input param's schema points at it.`,
        );
      const igenomesFile = files?.['igenomes.json'];
      let igenomes: string[] | null = null;
      if (igenomesFile !== undefined) {
        const parsedIgenomes = IgenomesFile.safeParse(igenomesFile);
        if (!parsedIgenomes.success)
          throw new Error(
            `${entry.folder}/${version}/igenomes.json: must be {"genomes": ["GRCh38", …]} (${parsedIgenomes.error.issues[0]?.message}).`,
          );
        igenomes = parsedIgenomes.data.genomes;
      }
      return {
        version,
        nextflowSchema,
        inputSchema,
        protocols: (files?.['protocols.json'] as JsonSchema | undefined) ?? null,
        igenomes,
        nextflowVersion: manifest.nextflow_versions[version] ?? null,
      };
    });
    return {
      name: manifest.name,
      title: manifest.title,
      description: manifest.description,
      repository: manifest.repository,
      defaultVersion: manifest.default_version,
      versions,
      samplesheetFromBenchling: manifest.samplesheet_from_benchling,
      costPrior: manifest.cost_prior,
    };
  });
}

let pipelines: Pipeline[] | undefined;

export function listPipelines(): readonly Pipeline[] {
  pipelines ??= loadPipelines(CATALOG);
  return pipelines;
}

/** Finds a pipeline by name, case-insensitively; the error lists the known names. */
export function getPipeline(name: string): Pipeline {
  const wanted = name.trim().toLowerCase();
  const all = listPipelines();
  const pipeline = all.find((p) => p.name.toLowerCase() === wanted);
  if (!pipeline) {
    throw new NotFoundError(
      `Unknown pipeline "${name}". Known pipelines: ${all.map((p) => p.name).join(', ')}.`,
      { known_pipelines: all.map((p) => p.name) },
    );
  }
  return pipeline;
}

/** A version of a pipeline (its default when none is given); the error lists the known versions. */
export function getPipelineVersion(
  name: string,
  version?: string,
): { pipeline: Pipeline; release: PipelineVersion } {
  const pipeline = getPipeline(name);
  const wanted = version ?? pipeline.defaultVersion;
  const release = pipeline.versions.find((v) => v.version === wanted);
  if (!release) {
    const known = pipeline.versions.map((v) => v.version);
    throw new NotFoundError(
      `Unknown version "${wanted}" of ${pipeline.name}. Known versions: ${known.join(', ')} (default ${pipeline.defaultVersion}).`,
      { known_versions: known, default_version: pipeline.defaultVersion },
    );
  }
  return { pipeline, release };
}
