import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  getPipeline,
  getPipelineVersion,
  listPipelines,
  type Pipeline,
} from '../core/nextflow/pipelines/registry';
import type { JobRunner } from '../core/runs/ports';
import { progressView } from '../core/runs/progress';
import { type RecoveryDeps, recoverRun } from '../core/runs/recovery';
import {
  CreateRunRequest,
  ListRunsQuery,
  ListRunsResponse,
  RecoverRunRequest,
  type Run,
  RunId,
  RunView,
} from '../core/runs/run-model';
import { previewRun, type RunPreviewDeps } from '../core/runs/run-preview';
import { cancelRun, getRunWithHistory, launchRun, listRuns } from '../core/runs/run-service';
import type { Caller } from '../core/shared/caller';
import {
  DomainError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../core/shared/errors';
import { RUN_ID } from '../core/shared/ids';
import type { RateLimiter, Secrets, UserStore } from '../core/shared/ports';
import type { SessionTokens } from '../core/shared/session';
import { parseOrThrow } from '../core/shared/validation';
import { DeadlineExceeded, within } from '../deadline';
import { describeError, type Logger } from '../logging';
import { audit } from './audit';
import { type BenchlingDeps, benchlingRoutes } from './benchling-routes';
import { toHttp } from './http-errors';
import type { Authenticated, Authenticator } from './identity';
import { type MonitoringDeps, monitoringRoutes } from './monitoring-routes';
import { openApiDocument } from './openapi';
import {
  type CompiledRoute,
  checkBodyShape,
  compileRoute,
  matchRoute,
  type Route,
  type RouteContext,
} from './router';
import { apiSecurityHeaders, corsFor } from './security-headers';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/** Each readiness check answers within this, so /api/ready always answers (a hung dependency is "not ready"). */
export const READINESS_TIMEOUT_MS = 3_000;

export interface ApiDeps extends RecoveryDeps, MonitoringDeps, BenchlingDeps {
  jobs: JobRunner;
  users: UserStore;
  authenticator: Authenticator;
  /** Administrators by configuration (ADMIN_EMAILS); `users/{email}.role == "admin"` counts too. */
  adminEmails: string[];
  rateLimits: Record<'launch' | 'chat' | 'read', RateLimiter>;
  /** Browser origins allowed to call the API; empty: no CORS headers. */
  corsOrigins: string[];
  sessionTokens: SessionTokens;
  secrets: Secrets;
  logger: Logger;
  readiness: ReadinessCheck[];
  /** Per check; default READINESS_TIMEOUT_MS. */
  readinessTimeoutMs?: number;
  version: string;
  /** What the rendered nextflow.config of a preview is made with (the run id aside). */
  nextflowSettings: RunPreviewDeps['nextflowSettings'];
}

/** The whole body is bounded before any field is looked at: a 10 MB samplesheet, JSON-escaped, fits. */
export const MAX_BODY_BYTES = 24 * 1024 * 1024;

const PipelineSummary = z.object({
  name: z.string(),
  title: z.string(),
  description: z.string(),
  repository: z.string(),
  default_version: z.string(),
  versions: z.array(z.string()),
});

const PipelineRelease = z.object({
  version: z.string(),
  json_schema_dialect: z.string(),
  parameter_groups: z.array(
    z.object({ id: z.string(), title: z.string(), description: z.string(), parameters: z.array(z.string()) }),
  ),
  samplesheet: z.object({ columns: z.array(z.string()), required: z.array(z.string()) }),
});

const PipelineDetail = PipelineSummary.extend({ releases: z.array(PipelineRelease) });

const PipelineSchemaResponse = z.object({
  pipeline: z.string(),
  version: z.string(),
  nextflow_schema: z
    .record(z.string(), z.unknown())
    .describe("the pipeline's nextflow_schema.json, verbatim"),
  samplesheet_schema: z.record(z.string(), z.unknown()).describe('assets/schema_input.json, verbatim'),
  protocols: z.record(z.string(), z.unknown()).describe('assets/protocols.json'),
});

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

/** A run as the API shows it: progress with running and total_known derived. */
function view<T extends Run>(run: T): T & RunView {
  return { ...run, progress: progressView(run) };
}

const GetRunQuery = z.strictObject({
  include: z.enum(['events']).optional().describe('events: add the status history'),
});
const SchemaQuery = z.strictObject({
  version: z.string().max(50).optional().describe('defaults to the default version'),
});
const NoQuery = z.strictObject({});

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

function routes(deps: ApiDeps): Route[] {
  const requireCaller = (ctx: RouteContext): Caller => ctx.caller!;
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
    return { status: 201, body: view(run), headers: { location: `/api/runs/${run.run_id}` } };
  };
  const table: Route[] = [
    {
      method: 'get',
      path: '/api/health',
      summary: 'Liveness: the function is up (checks nothing else)',
      tags: ['health'],
      auth: false,
      query: NoQuery,
      responses: [
        {
          status: 200,
          description: 'up',
          schema: z.object({ status: z.literal('ok'), version: z.string() }),
        },
      ],
      handler: async () => ({ body: { status: 'ok', version: deps.version } }),
    },
    {
      method: 'get',
      path: '/api/ready',
      summary: 'Readiness: every dependency answers (503 names the ones that do not)',
      tags: ['health'],
      auth: false,
      query: NoQuery,
      responses: [
        {
          status: 200,
          description: 'ready',
          schema: z.object({
            status: z.enum(['ready', 'unavailable']),
            checks: z.record(z.string(), z.object({ ok: z.boolean(), error: z.string().optional() })),
          }),
        },
        { status: 503, description: 'a dependency is unavailable' },
      ],
      handler: async () => {
        const results = await Promise.all(
          deps.readiness.map(async ({ name, check }) => {
            const timeoutMs = deps.readinessTimeoutMs ?? READINESS_TIMEOUT_MS;
            try {
              await within(check(), timeoutMs);
              return [name, { ok: true }] as const;
            } catch (error) {
              deps.logger.log('WARNING', 'readiness_check_failed', {
                check: name,
                error: describeError(error),
              });
              // Unauthenticated: our own words only (a DomainError's message), never a driver's
              // text, which names addresses and errnos.
              const message =
                error instanceof DeadlineExceeded
                  ? `did not answer within ${timeoutMs / 1000} s`
                  : error instanceof DomainError
                    ? error.message
                    : 'not answering; the function log (readiness_check_failed) has the cause';
              return [name, { ok: false, error: message.slice(0, 300) }] as const;
            }
          }),
        );
        const ok = results.every(([, r]) => r.ok);
        return {
          status: ok ? 200 : 503,
          body: { status: ok ? 'ready' : 'unavailable', checks: Object.fromEntries(results) },
        };
      },
    },
    {
      method: 'get',
      path: '/api/openapi.json',
      summary: 'This API, described as OpenAPI 3.1',
      tags: ['meta'],
      auth: false,
      query: NoQuery,
      responses: [{ status: 200, description: 'the OpenAPI document' }],
      handler: async () => ({ body: openApiDocument(table, deps.version) }),
    },
    {
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
    },
    {
      method: 'get',
      path: '/api/pipelines/{name+}/schema',
      summary: "A pipeline version's nextflow_schema.json and samplesheet schema",
      tags: ['pipelines'],
      auth: true,
      query: SchemaQuery,
      responses: [{ status: 200, description: 'the schemas', schema: PipelineSchemaResponse }],
      handler: async (ctx) => {
        const query = ctx.query as z.infer<typeof SchemaQuery>;
        const { pipeline, release } = getPipelineVersion(ctx.params.name!, query.version);
        return {
          body: {
            pipeline: pipeline.name,
            version: release.version,
            nextflow_schema: release.nextflowSchema,
            samplesheet_schema: release.inputSchema,
            protocols: release.protocols,
          },
        };
      },
    },
    {
      method: 'get',
      path: '/api/pipelines/{name+}',
      summary: 'One pipeline (name may be nf-core/scrnaseq, URL-encoded or not)',
      tags: ['pipelines'],
      auth: true,
      query: NoQuery,
      responses: [{ status: 200, description: 'the pipeline and its releases', schema: PipelineDetail }],
      handler: async (ctx) => ({ body: detail(getPipeline(ctx.params.name!)) }),
    },
    {
      method: 'get',
      path: '/api/runs',
      summary: "The caller's runs, newest first (scope=all: everyone's, administrators only)",
      tags: ['runs'],
      auth: true,
      query: ListRunsQuery,
      responses: [{ status: 200, description: 'a page of runs', schema: ListRunsResponse }],
      handler: async (ctx) => {
        const query = ctx.query as ListRunsQuery;
        const page = await listRuns(deps, requireCaller(ctx), query);
        return {
          body: {
            runs: page.runs.map(view),
            page: query.page_token ? 0 : query.page,
            page_size: query.page_size,
            total: page.total,
            next_page_token: page.next_page_token,
          },
        };
      },
    },
    {
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
    },
    {
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
          },
          ctx.body,
        ),
      }),
    },
    {
      method: 'post',
      path: '/api/runs/{id}/recover',
      summary:
        'Recover a failed or cancelled run: a new run that resumes its Nextflow session (-resume) in the root run’s work dir, or starts afresh',
      tags: ['runs'],
      auth: true,
      query: NoQuery,
      body: RecoverRunRequest,
      bodyOptional: true,
      rateLimit: 'launch',
      responses: [
        { status: 201, description: 'the recovery run (pending)', schema: RunView },
        { status: 400, description: 'invalid overrides: details name the param' },
        {
          status: 409,
          description:
            'the run is not failed or cancelled, its work dir is gone (retention), or another run of its chain is active',
        },
        { status: 413, description: 'override_config over 100 KB or override_params over 100 KB' },
      ],
      handler: async (ctx) => {
        const recovered = await recoverRun(deps, requireCaller(ctx), ctx.params.id!, ctx.body);
        return created(ctx, recovered, 'run_recovered');
      },
    },
    {
      method: 'get',
      path: '/api/runs/{id}',
      summary: 'One run (404 if it is not yours)',
      tags: ['runs'],
      auth: true,
      query: GetRunQuery,
      responses: [{ status: 200, description: 'the run', schema: RunWithEvents }],
      handler: async (ctx) => {
        const query = ctx.query as z.infer<typeof GetRunQuery>;
        return {
          body: view(
            await getRunWithHistory(deps, requireCaller(ctx), ctx.params.id!, query.include === 'events'),
          ),
        };
      },
    },
    {
      method: 'delete',
      path: '/api/runs/{id}',
      summary: 'Cancel a run (idempotent; 409 if it already completed or failed)',
      tags: ['runs'],
      auth: true,
      query: NoQuery,
      responses: [
        { status: 200, description: 'the cancelled run', schema: RunView },
        { status: 409, description: 'the run already completed or failed' },
      ],
      handler: async (ctx) => {
        const run = await cancelRun(deps, requireCaller(ctx), ctx.params.id!);
        audit(deps.logger, 'run_cancelled', {
          user: ctx.caller?.email ?? null,
          run_id: run.run_id,
          request_id: ctx.requestId,
          owner: run.user_email,
        });
        return { body: view(run) };
      },
    },
  ];
  table.push({
    method: 'get',
    path: '/api/session/token',
    summary:
      'Credentials for the web page to read Firestore as the signed-in user (a Firebase custom token; locally, an emulator mock token)',
    tags: ['session'],
    auth: true,
    query: NoQuery,
    responses: [{ status: 200, description: 'the token and the claims the Firestore rules check' }],
    handler: async (ctx) => ({
      body: await deps.sessionTokens.mint(requireCaller(ctx)),
      headers: { 'cache-control': 'no-store' },
    }),
  });
  table.push(...monitoringRoutes(deps));
  table.push(...benchlingRoutes(deps));
  return table;
}

function requestIdOf(req: Request): string {
  const given = req.get('x-request-id');
  if (given && /^[A-Za-z0-9._-]{1,100}$/.test(given)) return given;
  const trace = req.get('x-cloud-trace-context')?.split('/')[0];
  if (trace && /^[0-9a-f]{32}$/.test(trace)) return trace;
  return randomUUID();
}

function readBody(req: Request, optional: boolean): unknown {
  const raw = (req as Request & { rawBody?: Buffer }).rawBody;
  const length = raw?.length ?? Number(req.get('content-length') ?? 0);
  if (length > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(
      `The request body is ${(length / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_BODY_BYTES / 1024 / 1024} MB.`,
      { size_bytes: length, limit_bytes: MAX_BODY_BYTES },
    );
  }
  if (length === 0 && optional) return {};
  if (length === 0)
    throw new ValidationError('The request body is empty; send a JSON object.', [
      { field: 'body', rule: 'required', message: 'empty body' },
    ]);
  if (!req.is('application/json')) {
    throw new UnsupportedMediaTypeError(
      `Send the body as JSON with Content-Type: application/json (got ${req.get('content-type') ?? 'no content type'}).`,
    );
  }
  const problem = checkBodyShape(req.body);
  if (problem) throw problem;
  return req.body;
}

/** Who the verified user is to the platform: admin by configuration or by `users/{email}.role`. */
async function signIn(deps: ApiDeps, user: Authenticated, requestId: string): Promise<Caller> {
  const byConfig = deps.adminEmails.includes(user.email);
  try {
    const seen = await deps.users.signIn(user, deps.clock.now());
    if (seen.event !== 'cached') {
      audit(deps.logger, 'sign_in', {
        user: user.email,
        request_id: requestId,
        via: user.via,
        first: seen.event === 'created',
      });
    }
    return { email: user.email, name: user.name, is_admin: byConfig || seen.role === 'admin' };
  } catch (error) {
    // Firestore unavailable: the request goes on with what the configuration says.
    deps.logger.log('WARNING', 'user_sign_in_failed', {
      user: user.email,
      error: String(error),
      request_id: requestId,
    });
    return { email: user.email, name: user.name, is_admin: byConfig };
  }
}

const LIMIT_NAMES = { launch: 'run launches', chat: 'assistant messages', read: 'requests' } as const;

async function checkRateLimit(deps: ApiDeps, route: Route, caller: Caller, res: Response): Promise<void> {
  const name = route.rateLimit ?? 'read';
  const decision = await deps.rateLimits[name].consume(caller.email);
  if (decision.limit > 0) {
    res.set('ratelimit-limit', String(decision.limit));
    res.set('ratelimit-remaining', String(decision.remaining));
    res.set('ratelimit-reset', String(decision.resetSeconds));
  }
  if (!decision.allowed) {
    throw new RateLimitedError(
      `Too many ${LIMIT_NAMES[name]}: the limit is ${decision.limit} per minute per user. Try again in ${decision.resetSeconds} s.`,
      decision.resetSeconds,
    );
  }
}

/** The `api` HTTP function: routing, identity, validation and the one error mapping. */
export function createApiHandler(deps: ApiDeps): (req: Request, res: Response) => Promise<void> {
  const compiled: CompiledRoute[] = routes(deps).map(compileRoute);
  const cors = corsFor(deps.corsOrigins);

  return async (req, res) => {
    const requestId = requestIdOf(req);
    res.set('x-request-id', requestId);
    let caller: Caller | null = null;
    try {
      await apiSecurityHeaders(req, res);
      if (await cors(req, res)) return;
      const match = matchRoute(compiled, req.method, req.path);
      if (match.kind === 'none') {
        throw new NotFoundError(`No route for ${req.method} ${req.path}; see /api/openapi.json.`);
      }
      if (match.kind === 'method') {
        res.set('allow', match.allowed.map((m) => m.toUpperCase()).join(', '));
        res.status(405).json({
          error: {
            code: 'method_not_allowed',
            message: `${req.method} is not allowed on ${req.path}; use ${match.allowed.join(' or ').toUpperCase()}.`,
          },
        });
        return;
      }
      const { route, params } = match;
      if (route.auth) {
        caller = await signIn(deps, await deps.authenticator.authenticate(req.headers), requestId);
        await checkRateLimit(deps, route, caller, res);
      }
      if (
        typeof params.id === 'string' &&
        route.path.includes('/runs/{id}') &&
        !RunId.safeParse(params.id).success
      ) {
        throw new NotFoundError(`Run ${params.id} was not found.`);
      }
      const query = route.query ? parseOrThrow(route.query, { ...req.query }, 'query') : {};
      const body = route.body ? readBody(req, route.bodyOptional === true) : undefined;
      const result = await route.handler({ req, res, params, query, body, caller, requestId });
      if (result === null) return;
      res.status(result.status ?? 200);
      for (const [name, value] of Object.entries(result.headers ?? {})) res.set(name, value);
      res.json(result.body);
    } catch (error) {
      const http = toHttp(error, requestId);
      const denied =
        http.status === 401 || http.status === 403 || (error instanceof NotFoundError && error.accessDenied);
      if (denied) {
        audit(deps.logger, 'access_denied', {
          user: caller?.email ?? null,
          run_id: new RegExp(`/runs/(${RUN_ID})`).exec(req.path)?.[1] ?? null,
          request_id: requestId,
          method: req.method,
          path: req.path,
          status: http.status,
          reason: http.body.error.code,
        });
      }
      if (http.status >= 500) {
        deps.logger.log('ERROR', 'request_failed', {
          request_id: requestId,
          method: req.method,
          path: req.path,
          error: describeError(error),
        });
      }
      if (res.headersSent) {
        res.end();
        return;
      }
      res.status(http.status).set(http.headers).json(http.body);
    }
  };
}
