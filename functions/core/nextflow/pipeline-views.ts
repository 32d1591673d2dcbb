/**
 * What the pipelines API answers (GET /api/pipelines, /api/pipelines/{name}, …/schema),
 * defined once: the routes describe them in the OpenAPI document, and the page imports the
 * types (`import type`).
 */
import { z } from 'zod';

/** One parameter of a pipeline's nextflow_schema.json, as far as the platform reads it. */
export interface NfCoreParam {
  type?: string | string[];
  description?: string;
  help_text?: string;
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  hidden?: boolean;
  format?: string;
}

/** A parameter group (`$defs` in draft 2020-12, `definitions` in draft-07). */
export interface NfCoreGroup {
  title?: string;
  description?: string;
  required?: string[];
  properties?: Record<string, NfCoreParam>;
}

/** A pipeline's nextflow_schema.json: groups of parameters, or parameters at the top. */
export interface NfCoreSchema {
  $defs?: Record<string, NfCoreGroup>;
  definitions?: Record<string, NfCoreGroup>;
  properties?: Record<string, NfCoreParam>;
  required?: string[];
  [keyword: string]: unknown;
}

export const PipelineSummary = z.object({
  name: z.string(),
  title: z.string(),
  description: z.string(),
  repository: z.string(),
  default_version: z.string(),
  versions: z.array(z.string()),
});

export const PipelineRelease = z.object({
  version: z.string(),
  json_schema_dialect: z.string(),
  parameter_groups: z.array(
    z.object({ id: z.string(), title: z.string(), description: z.string(), parameters: z.array(z.string()) }),
  ),
  samplesheet: z.object({ columns: z.array(z.string()), required: z.array(z.string()) }),
});

export const PipelineDetail = PipelineSummary.extend({ releases: z.array(PipelineRelease) });

export const PipelineSchemaResponse = z.object({
  pipeline: z.string(),
  version: z.string(),
  nextflow_schema: z
    .record(z.string(), z.unknown())
    .describe("the pipeline's nextflow_schema.json, verbatim"),
  samplesheet_schema: z.record(z.string(), z.unknown()).describe('assets/schema_input.json, verbatim'),
  protocols: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe("scrnaseq's assets/protocols.json; null for pipelines without one"),
  igenomes: z
    .array(z.string())
    .nullable()
    .describe("the genome keys the pipeline's conf/igenomes.config defines; null when not known"),
});
export type PipelineSummary = z.infer<typeof PipelineSummary>;
export type PipelineDetail = z.infer<typeof PipelineDetail>;
/** The schema response, with the nextflow_schema.json typed as far as the platform reads it. */
export type PipelineSchemaResponse = Omit<z.infer<typeof PipelineSchemaResponse>, 'nextflow_schema'> & {
  nextflow_schema: NfCoreSchema;
};
