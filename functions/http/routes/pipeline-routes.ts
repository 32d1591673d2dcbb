/** The pipelines that can be launched, their versions, and each version's own schemas. */
import { z } from 'zod';
import type { SpotPrices } from '../../core/nextflow/metrics';
import { PipelineDetail, PipelineSchemaResponse, PipelineSummary } from '../../core/nextflow/pipeline-views';
import {
  getPipeline,
  getPipelineVersion,
  listPipelines,
  type Pipeline,
} from '../../core/nextflow/pipelines/registry';
import type { RunStore } from '../../core/runs/ports';
import { pipelineRecommendations, Recommendations } from '../../core/runs/right-sizing';
import { defineRoute, NoQuery, type Route } from '../router';

/** `{name+}`: a pipeline name such as nf-core/scrnaseq (URL-encoded or not). */
const NameParams = z.object({ name: z.string().min(1).max(200) });

const SchemaQuery = z.strictObject({
  version: z.string().max(50).optional().describe('defaults to the default version'),
});
function summary(pipeline: Pipeline): z.infer<typeof PipelineSummary> {
  return {
    name: pipeline.name,
    title: pipeline.title,
    description: pipeline.description,
    repository: pipeline.repository,
    default_version: pipeline.defaultVersion,
    versions: pipeline.versions.map((v) => v.version),
  };
}

function detail(pipeline: Pipeline): z.infer<typeof PipelineDetail> {
  return {
    ...summary(pipeline),
    releases: pipeline.versions.map((release) => {
      const schema = release.nextflowSchema;
      const groups = (schema.$defs ?? schema.definitions ?? {}) as Record<string, Record<string, unknown>>;
      const items = (release.inputSchema.items ?? {}) as {
        properties?: Record<string, unknown>;
        required?: string[];
      };
      return {
        version: release.version,
        json_schema_dialect: String(schema.$schema),
        parameter_groups: Object.entries(groups).map(([id, group]) => ({
          id,
          title: String(group.title ?? id),
          description: String(group.description ?? ''),
          parameters: Object.keys((group.properties ?? {}) as Record<string, unknown>),
        })),
        samplesheet: { columns: Object.keys(items.properties ?? {}), required: items.required ?? [] },
      };
    }),
  };
}

export function pipelineRoutes(deps: { runs: Pick<RunStore, 'list'>; prices: SpotPrices }): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/pipelines',
      summary: 'Pipelines that can be launched, with their versions',
      tags: ['pipelines'],
      auth: true,
      query: NoQuery,
      responses: [
        { status: 200, description: 'pipelines', schema: z.object({ pipelines: z.array(PipelineSummary) }) },
      ],
      handler: async () => ({ body: { pipelines: listPipelines().map(summary) } }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/pipelines/{name+}/schema',
      summary: "A pipeline version's nextflow_schema.json and samplesheet schema",
      tags: ['pipelines'],
      auth: true,
      params: NameParams,
      query: SchemaQuery,
      responses: [{ status: 200, description: 'the schemas', schema: PipelineSchemaResponse }],
      handler: async (ctx) => {
        const { query } = ctx;
        const { pipeline, release } = getPipelineVersion(ctx.params.name, query.version);
        return {
          body: {
            pipeline: pipeline.name,
            version: release.version,
            nextflow_schema: release.nextflowSchema,
            samplesheet_schema: release.inputSchema,
            protocols: release.protocols,
            igenomes: release.igenomes ? [...release.igenomes] : null,
          },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/pipelines/{name+}/recommendations',
      summary:
        "Right-sizing from past runs: per process, what its tasks were given against what they used over the deployment's finished runs, and a nextflow.config snippet where the request is far above use or tasks were killed for memory",
      tags: ['pipelines'],
      auth: true,
      params: NameParams,
      query: SchemaQuery,
      responses: [
        {
          status: 200,
          description: 'the recommendations, their evidence and the snippet',
          schema: Recommendations,
        },
      ],
      handler: async (ctx) => ({
        body: await pipelineRecommendations(deps, ctx.params.name, ctx.query.version),
      }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/pipelines/{name+}',
      summary: 'One pipeline (name may be nf-core/scrnaseq, URL-encoded or not)',
      tags: ['pipelines'],
      auth: true,
      params: NameParams,
      query: NoQuery,
      responses: [{ status: 200, description: 'the pipeline and its releases', schema: PipelineDetail }],
      handler: async (ctx) => ({ body: detail(getPipeline(ctx.params.name)) }),
    }),
  ];
}
