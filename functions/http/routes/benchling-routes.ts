import { z } from 'zod';
import {
  BenchlingMetadataResponse,
  BenchlingRunsQuery,
  BenchlingRunsResponse,
  BenchlingSamplesResponse,
  type BenchlingService,
  WarehouseName,
} from '../../core/benchling/sample-warehouse';
import {
  BuildSamplesheetRequest,
  BuildSamplesheetResponse,
  buildSamplesheet,
} from '../../core/benchling/samplesheet-builder';
import { parseOrThrow } from '../../core/shared/validation';
import { defineRoute, NoQuery, type Route } from '../router';

/** Checked by the handler (400 for a bad name), as the warehouse names it. */
const NgsRunParams = z.object({ name: z.string() });

export interface BenchlingDeps {
  benchling: BenchlingService;
}

const UNAVAILABLE = {
  status: 503,
  description: 'Unable to access sample data: the warehouse is down or not configured',
};

/** Find NGS runs and samples in the Benchling warehouse; build a samplesheet from them. */
export function benchlingRoutes(deps: BenchlingDeps): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/benchling/runs',
      summary:
        'NGS runs in the Benchling warehouse, newest first (archived ones left out); partial: true when the warehouse timed out',
      tags: ['benchling'],
      auth: true,
      query: BenchlingRunsQuery,
      responses: [
        { status: 200, description: 'a page of NGS runs', schema: BenchlingRunsResponse },
        { status: 400, description: 'a bad filter: details name it' },
        UNAVAILABLE,
      ],
      handler: async (ctx) => ({ body: await deps.benchling.runs(ctx.query) }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/benchling/runs/{name}/samples',
      summary: 'The samples of one NGS run (by its name), with FASTQ paths and metadata',
      tags: ['benchling'],
      auth: true,
      params: NgsRunParams,
      query: NoQuery,
      responses: [
        { status: 200, description: 'the run and its samples', schema: BenchlingSamplesResponse },
        { status: 404, description: 'no NGS run of that name (or it is archived)' },
        UNAVAILABLE,
      ],
      handler: async (ctx) => {
        const name = parseOrThrow(WarehouseName, ctx.params.name, 'NGS run name');
        return { body: await deps.benchling.runSamples(name) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/benchling/metadata',
      summary:
        'Projects and instruments to filter NGS runs by (cached for 5 minutes; stale while the warehouse is down)',
      tags: ['benchling'],
      auth: true,
      query: NoQuery,
      responses: [
        { status: 200, description: 'projects and instruments', schema: BenchlingMetadataResponse },
        UNAVAILABLE,
      ],
      handler: async () => ({ body: await deps.benchling.metadata() }),
    }),
    defineRoute({
      method: 'post',
      path: '/api/samplesheets',
      summary:
        'Build the nf-core samplesheet for samples selected in Benchling (ids or NGS run names), validated as run creation will',
      tags: ['benchling'],
      auth: true,
      query: NoQuery,
      body: BuildSamplesheetRequest,
      responses: [
        { status: 200, description: 'the samplesheet and its validation', schema: BuildSamplesheetResponse },
        { status: 400, description: 'unknown pipeline, version, samples or NGS runs' },
        UNAVAILABLE,
      ],
      handler: async (ctx) => {
        const request = parseOrThrow(BuildSamplesheetRequest, ctx.body, 'samplesheet request');
        return { body: await buildSamplesheet(deps.benchling, request) };
      },
    }),
  ];
}
