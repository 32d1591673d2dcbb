/** Runs: list, launch, preview, recover, read and cancel. */
import { z } from 'zod';
import type { InputFiles } from '../../core/runs/input-files';
import { recoverRun } from '../../core/runs/recovery';
import { previewRecovery, ResumePreview, type ResumePreviewDeps } from '../../core/runs/resume-preview';
import { CompareQuery, compareRuns, RunComparison } from '../../core/runs/run-compare';
import {
  CreateRunRequest,
  ListRunsQuery,
  ListRunsResponse,
  RecoverRunRequest,
  type Run,
  RunId,
  RunView,
  UpdateRunRequest,
} from '../../core/runs/run-model';
import { previewRun, type RunPreviewDeps } from '../../core/runs/run-preview';
import {
  cancelRun,
  getRunWithHistory,
  launchRun,
  listRuns,
  runSamplesheet,
  updateRun,
} from '../../core/runs/run-service';
import { runView } from '../../core/runs/views';
import {
  FreeWorkDirRequest,
  FreeWorkDirResult,
  freeWorkDir,
  getWorkDir,
  ListWorkDirsQuery,
  listWorkDirs,
  WorkDirList,
  WorkDirView,
} from '../../core/runs/work-dir';
import type { StorageSettings } from '../../core/runs/work-dir-model';
import type { JobRunner } from '../../core/shared/batch';
import type { Logger } from '../../logging';
import { audit } from '../audit';
import { defineRoute, NoQuery, type Route, type RouteContext, requireCaller } from '../router';

const RecoverQuery = z.strictObject({
  dry_run: z
    .enum(['true', 'false'])
    .optional()
    .describe('true: check the recovery and preview what -resume will reuse and run again, creating nothing'),
});

export interface RunRouteDeps extends ResumePreviewDeps {
  jobs: JobRunner;
  inputFiles: InputFiles;
  logger: Logger;
  /** What the rendered nextflow.config of a preview is made with (the run id aside). */
  nextflowSettings: RunPreviewDeps['nextflowSettings'];
  /** What a work dir costs to keep, and for how long the bucket keeps it. */
  storage: StorageSettings;
  /** Objects one call of the work dir's free deletes (tests make it small). */
  freeBatchObjects?: number;
}

/** A run id in the path; anything else is a run that does not exist (404, as for someone else's). */
export const RunParams = z.object({ id: RunId });
export const runMissing = (raw: Record<string, string>) => `Run ${raw.id} was not found.`;

const RunHistoryEntrySchema = z.object({
  source: z.string(),
  from: z.string().nullable(),
  to: z.string(),
  at: z.string(),
  detail: z.string().nullable(),
  applied: z.boolean(),
});
const RunWithEvents = RunView.extend({
  recoveries: z.array(RunId).describe('runs that recover this one, oldest first'),
  events: z.array(RunHistoryEntrySchema).optional(),
});

const GetRunQuery = z.strictObject({
  include: z.enum(['events']).optional().describe('events: add the status history'),
});
export function runRoutes(deps: RunRouteDeps): Route[] {
  const created = (
    ctx: RouteContext,
    { run, startError }: { run: Run; startError: string | null },
    event: 'run_created' | 'run_recovered',
  ) => {
    audit(deps.logger, event, {
      user: ctx.caller?.email ?? null,
      run_id: run.run_id,
      request_id: ctx.requestId,
      owner: run.user_email,
      parent_run_id: run.parent_run_id,
    });
    if (startError) {
      deps.logger.log('ERROR', 'workflow_start_failed', {
        run_id: run.run_id,
        error: startError,
        request_id: ctx.requestId,
      });
    }
    return { status: 201, body: runView(run), headers: { location: `/api/runs/${run.run_id}` } };
  };
  return [
    defineRoute({
      method: 'get',
      path: '/api/runs',
      summary: "The caller's runs, newest first (scope=all: everyone's, administrators only)",
      tags: ['runs'],
      auth: true,
      query: ListRunsQuery,
      responses: [{ status: 200, description: 'a page of runs', schema: ListRunsResponse }],
      handler: async (ctx) => {
        const { query } = ctx;
        const page = await listRuns(deps, requireCaller(ctx), query);
        return {
          body: {
            runs: page.runs.map(runView),
            page: query.page_token ? 0 : query.page,
            page_size: query.page_size,
            total: page.total,
            next_page_token: page.next_page_token,
          },
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/runs',
      summary: 'Launch a run (stored as pending; validated against the pipeline schemas first)',
      tags: ['runs'],
      auth: true,
      query: NoQuery,
      body: CreateRunRequest,
      rateLimit: 'launch',
      responses: [
        { status: 201, description: 'the new run', schema: RunView },
        { status: 400, description: 'invalid request: details name the field, row and column' },
        { status: 413, description: 'samplesheet over 10 MB, config over 100 KB or params over 100 KB' },
      ],
      handler: async (ctx) => {
        const launched = await launchRun(deps, requireCaller(ctx), ctx.body);
        return created(ctx, launched, 'run_created');
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/runs/preview',
      summary:
        'Check a run request as POST /api/runs would (params, samplesheet rows, input files) and render its config; nothing is launched',
      tags: ['runs'],
      auth: true,
      query: NoQuery,
      body: z.unknown(),
      responses: [
        {
          status: 200,
          description:
            'valid: the params, params.yaml and nextflow.config that would be submitted ({run_id} stands for the id assigned at launch); invalid: the problems by field, row and column',
        },
        { status: 413, description: 'samplesheet over 10 MB, config over 100 KB or params over 100 KB' },
      ],
      handler: async (ctx) => ({
        body: await previewRun(
          {
            bucket: deps.objects.bucket,
            inputFiles: deps.inputFiles,
            nextflowSettings: deps.nextflowSettings,
            runs: deps.runs,
            prices: deps.prices,
            budgetPolicy: deps.budgetPolicy,
            clock: deps.clock,
          },
          requireCaller(ctx),
          ctx.body,
        ),
      }),
    }),
    defineRoute({
      method: 'post',
      path: '/api/runs/{id}/recover',
      summary:
        'Recover a failed or cancelled run: a new run that resumes its Nextflow session (-resume) in the root run’s work dir, or starts afresh',
      tags: ['runs'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: RecoverQuery,
      body: RecoverRunRequest,
      bodyOptional: true,
      rateLimit: 'launch',
      responses: [
        { status: 201, description: 'the recovery run (pending)', schema: RunView },
        {
          status: 200,
          description:
            'dry_run=true: what -resume is expected to reuse and run again, per task, with totals and an estimate; nothing is created',
          schema: ResumePreview,
        },
        { status: 400, description: 'invalid overrides: details name the param' },
        {
          status: 409,
          description:
            'the run is not failed or cancelled, its work dir is gone (retention), or another run of its chain is active',
        },
        { status: 413, description: 'override_config over 100 KB or override_params over 100 KB' },
      ],
      handler: async (ctx) => {
        if (ctx.query.dry_run === 'true')
          return { body: await previewRecovery(deps, requireCaller(ctx), ctx.params.id, ctx.body) };
        const recovered = await recoverRun(deps, requireCaller(ctx), ctx.params.id, ctx.body);
        return created(ctx, recovered, 'run_recovered');
      },
    }),
    // Before GET /api/runs/{id}: the first route that matches a path answers it.
    defineRoute({
      method: 'get',
      path: '/api/runs/compare',
      summary:
        'Two runs side by side: pipeline, params, config, samplesheet, Nextflow, per-process CPU-hours, counts, failures, result files',
      tags: ['runs'],
      auth: true,
      query: CompareQuery,
      responses: [
        { status: 200, description: 'the comparison', schema: RunComparison },
        { status: 400, description: 'a or b missing, not a run id, or the same run' },
        { status: 404, description: 'either run is not yours (or does not exist)' },
      ],
      handler: async (ctx) => ({ body: await compareRuns(deps, requireCaller(ctx), ctx.query) }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}',
      summary: 'One run (404 if it is not yours)',
      tags: ['runs'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: GetRunQuery,
      responses: [{ status: 200, description: 'the run', schema: RunWithEvents }],
      handler: async (ctx) => {
        const { query } = ctx;
        return {
          body: runView(
            await getRunWithHistory(deps, requireCaller(ctx), ctx.params.id, query.include === 'events'),
          ),
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}/work-dir',
      summary:
        "The work dir of the run's recovery chain: its bytes when a run of the chain last ended, what keeping it costs a month, until when -resume can use it",
      tags: ['runs'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: NoQuery,
      responses: [{ status: 200, description: 'the work dir', schema: WorkDirView }],
      handler: async (ctx) => ({ body: await getWorkDir(deps, requireCaller(ctx), ctx.params.id) }),
    }),
    defineRoute({
      method: 'post',
      path: '/api/runs/{id}/work-dir/free',
      summary:
        "Free the work dir of the run's chain now (owner or administrator): deletes work/{root}/ and cache/{root}/ in batches; call again until done. No run of the chain can be recovered with -resume afterwards; inputs, logs and results are kept",
      tags: ['runs'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: NoQuery,
      body: FreeWorkDirRequest,
      responses: [
        {
          status: 200,
          description: 'what this call deleted; done: false means call again',
          schema: FreeWorkDirResult,
        },
        { status: 400, description: 'confirm is not true' },
        { status: 409, description: 'a run of the chain is active' },
      ],
      handler: async (ctx) => {
        const result = await freeWorkDir(deps, requireCaller(ctx), ctx.params.id, ctx.body);
        audit(deps.logger, 'work_dir_freed', {
          user: ctx.caller?.email ?? null,
          run_id: result.work_dir.root_run_id,
          request_id: ctx.requestId,
          owner: result.work_dir.owner,
          deleted_objects: result.deleted_objects,
          done: result.done,
        });
        return { body: result };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/work-dirs',
      summary:
        "The caller's recovery chains' work dirs, the largest first, with what each costs a month to keep (scope=all: everyone's, administrators only)",
      tags: ['runs'],
      auth: true,
      query: ListWorkDirsQuery,
      responses: [{ status: 200, description: 'the work dirs', schema: WorkDirList }],
      handler: async (ctx) => ({ body: await listWorkDirs(deps, requireCaller(ctx), ctx.query) }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}/samplesheet',
      summary: 'The samplesheet the run was launched with (CSV, as the pipeline read it)',
      tags: ['runs'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: NoQuery,
      responses: [
        {
          status: 200,
          description: '{run_id, samplesheet_csv}',
          schema: z.object({ run_id: RunId, samplesheet_csv: z.string() }),
        },
      ],
      handler: async (ctx) => ({ body: await runSamplesheet(deps, requireCaller(ctx), ctx.params.id) }),
    }),
    defineRoute({
      method: 'patch',
      path: '/api/runs/{id}',
      summary:
        "Change a run's labels (a JSON Merge Patch: a value sets a label, null removes it); the Batch jobs already created keep the labels they were created with",
      tags: ['runs'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: NoQuery,
      body: UpdateRunRequest,
      responses: [
        { status: 200, description: 'the run with its new labels', schema: RunView },
        { status: 400, description: 'a label breaks the Google Cloud label rules, or more than 25 labels' },
      ],
      handler: async (ctx) => {
        const run = await updateRun(deps, requireCaller(ctx), ctx.params.id, ctx.body);
        audit(deps.logger, 'run_labels_changed', {
          user: ctx.caller?.email ?? null,
          run_id: run.run_id,
          request_id: ctx.requestId,
          owner: run.user_email,
          labels: Object.keys(run.labels),
        });
        return { body: runView(run) };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/runs/{id}',
      summary: 'Cancel a run (idempotent; 409 if it already completed or failed)',
      tags: ['runs'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: NoQuery,
      responses: [
        { status: 200, description: 'the cancelled run', schema: RunView },
        { status: 409, description: 'the run already completed or failed' },
      ],
      handler: async (ctx) => {
        const run = await cancelRun(deps, requireCaller(ctx), ctx.params.id);
        audit(deps.logger, 'run_cancelled', {
          user: ctx.caller?.email ?? null,
          run_id: run.run_id,
          request_id: ctx.requestId,
          owner: run.user_email,
        });
        return { body: runView(run) };
      },
    }),
  ];
}
