/** HAYSTACK under /api/v1, the product spec's paths and shapes. */
import { z } from 'zod';
import { CONTROL_STRATEGIES } from '../../core/haystack/loop';
import {
  CreateHaystackRunRequest,
  HaystackRun,
  HaystackRunId,
  ListHaystackRunsQuery,
  ValidateControlRequest,
} from '../../core/haystack/run-model';
import {
  cancelHaystackRun,
  createHaystackRun,
  getHaystackRun,
  type HaystackServiceDeps,
  haystackResult,
  listHaystackRuns,
  metadataCellTypes,
  metadataDatasets,
  metadataPerturbations,
  validateControlStrategy,
} from '../../core/haystack/run-service';
import { DATASETS } from '../../core/haystack/vocabulary';
import type { Logger } from '../../logging';
import { audit } from '../audit';
import { defineRoute, NoQuery, type Route, requireCaller } from '../router';

export interface HaystackRouteDeps extends HaystackServiceDeps {
  logger: Logger;
}

const Params = z.object({ id: HaystackRunId });
const missing = (raw: Record<string, string>) => `HAYSTACK run ${raw.id} was not found.`;
const DatasetQuery = z.strictObject({ dataset: z.enum(DATASETS).optional() });

export function haystackRoutes(deps: HaystackRouteDeps): Route[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/runs/validate-control-strategy',
      summary:
        'Whether a synthetic control is possible for a question: matched control cells, donors, conditions, a recommendation',
      tags: ['haystack'],
      auth: true,
      query: NoQuery,
      body: ValidateControlRequest,
      responses: [
        {
          status: 200,
          description: 'the check',
          schema: z.object({
            control_cells_found: z.number().int(),
            donors: z.array(z.string()),
            conditions: z.array(z.string()),
            recommendation: z.enum(CONTROL_STRATEGIES),
            warning: z.string().nullable(),
            dataset_kind: z.literal('synthetic'),
            interpreter: z.string(),
          }),
        },
        { status: 400, description: 'the question is too short, or names no known cell type' },
      ],
      handler: async (ctx) => ({ body: await validateControlStrategy(deps, ctx.body) }),
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/runs',
      summary: 'Ask a question: a HAYSTACK run, pending',
      tags: ['haystack'],
      auth: true,
      rateLimit: 'haystack_launch',
      query: NoQuery,
      body: CreateHaystackRunRequest,
      responses: [
        { status: 201, description: 'the run', schema: HaystackRun },
        { status: 400, description: 'a bad field: details name it' },
      ],
      handler: async (ctx) => {
        const run = await createHaystackRun(deps, requireCaller(ctx), ctx.body);
        audit(deps.logger, 'run_created', {
          user: ctx.caller!.email,
          run_id: run.run_id,
          request_id: ctx.requestId,
          kind: 'haystack',
        });
        return { status: 201, body: run };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/runs',
      summary: "The caller's HAYSTACK runs, newest first",
      tags: ['haystack'],
      auth: true,
      query: ListHaystackRunsQuery,
      responses: [
        {
          status: 200,
          description: 'a page of runs',
          schema: z.object({
            runs: z.array(HaystackRun),
            total: z.number().int(),
            page: z.number().int(),
            page_size: z.number().int(),
          }),
        },
      ],
      handler: async (ctx) => ({ body: await listHaystackRuns(deps, requireCaller(ctx), ctx.query) }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/runs/{id}',
      summary: 'One run: status, phase, iteration, grounding scores, strategies, termination',
      tags: ['haystack'],
      auth: true,
      params: Params,
      missing,
      query: NoQuery,
      responses: [
        { status: 200, description: 'the run', schema: HaystackRun },
        { status: 404, description: 'no such run of the caller' },
      ],
      handler: async (ctx) => ({ body: await getHaystackRun(deps, requireCaller(ctx), ctx.params.id) }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/runs/{id}/result',
      summary:
        'Signed URLs of the predictions (h5ad), the report (HTML) and the log (JSON); 409 until completed',
      tags: ['haystack'],
      auth: true,
      params: Params,
      missing,
      query: NoQuery,
      responses: [
        { status: 200, description: 'the three URLs, the final score and why the run ended' },
        { status: 404, description: 'no such run of the caller' },
        { status: 409, description: 'the run has not completed (details.status says where it is)' },
      ],
      handler: async (ctx) => ({ body: await haystackResult(deps, requireCaller(ctx), ctx.params.id) }),
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/runs/{id}/cancel',
      summary: 'Cancel a run (idempotent: an ended run is answered as it is)',
      tags: ['haystack'],
      auth: true,
      params: Params,
      missing,
      query: NoQuery,
      body: z.object({}),
      bodyOptional: true,
      responses: [
        { status: 200, description: 'the run', schema: HaystackRun },
        { status: 404, description: 'no such run of the caller' },
      ],
      handler: async (ctx) => {
        const run = await cancelHaystackRun(deps, requireCaller(ctx), ctx.params.id);
        audit(deps.logger, 'run_cancelled', {
          user: ctx.caller!.email,
          run_id: run.run_id,
          request_id: ctx.requestId,
          kind: 'haystack',
        });
        return { body: run };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/metadata/datasets',
      summary: 'The datasets prompts come from (synthetic cells, the real vocabulary)',
      tags: ['haystack'],
      auth: true,
      query: NoQuery,
      responses: [{ status: 200, description: 'datasets' }],
      handler: async () => ({ body: metadataDatasets() }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/metadata/perturbations',
      summary: 'Conditions and compounds, by dataset (controls marked)',
      tags: ['haystack'],
      auth: true,
      query: DatasetQuery,
      responses: [{ status: 200, description: 'perturbations' }],
      handler: async (ctx) => ({ body: metadataPerturbations(ctx.query.dataset) }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/metadata/cell-types',
      summary: 'Cell types by dataset, with Cell Ontology ids',
      tags: ['haystack'],
      auth: true,
      query: DatasetQuery,
      responses: [{ status: 200, description: 'cell types' }],
      handler: async (ctx) => ({ body: metadataCellTypes(ctx.query.dataset) }),
    }),
  ];
}
