/**
 * One HTTP app for every HTTP function: request id, security headers, CORS, route matching,
 * sign-in, rate limits, query and path-parameter parsing, and the one error path. A function
 * is this app plus its route modules and an optional base path (e.g. `/api/v1`); the OpenAPI
 * document is built from the modules it mounts.
 */
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Caller } from '../core/shared/caller';
import {
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  UnsupportedMediaTypeError,
  UpstreamError,
  ValidationError,
} from '../core/shared/errors';
import type { Clock, RateLimiter, UserStore } from '../core/shared/ports';
import { parseOrThrow } from '../core/shared/validation';
import { describeError, type Logger } from '../logging';
import { audit } from './audit';
import { toHttp } from './http-errors';
import type { Authenticated, Authenticator } from './identity';
import { openApiDocument } from './openapi';
import {
  type CompiledRoute,
  checkBodyShape,
  compileRoute,
  defineRoute,
  matchRoute,
  NoQuery,
  type RateLimitName,
  type Route,
} from './router';
import { apiSecurityHeaders, corsFor } from './security-headers';

/** What the app itself needs, whatever routes it serves. */
export interface AppDeps {
  users: UserStore;
  authenticator: Authenticator;
  /** Administrators by configuration (ADMIN_EMAILS); `users/{email}.role == "admin"` counts too. */
  adminEmails: string[];
  rateLimits: Record<RateLimitName, RateLimiter>;
  /** Browser origins allowed to call the API; empty: no CORS headers. */
  corsOrigins: string[];
  logger: Logger;
  clock: Clock;
  version: string;
}

export interface AppOptions {
  /** Prefix of every route of the function (its modules' paths already carry it). */
  basePath: string;
  /** The OpenAPI document's title. */
  title: string;
}

/** The whole body is bounded before any field is looked at: a 10 MB samplesheet, JSON-escaped, fits. */
export const MAX_BODY_BYTES = 24 * 1024 * 1024;

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
async function signIn(deps: AppDeps, user: Authenticated, requestId: string): Promise<Caller> {
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
      error: describeError(error),
      request_id: requestId,
    });
    return { email: user.email, name: user.name, is_admin: byConfig };
  }
}

const LIMIT_NAMES: Record<RateLimitName, string> = {
  launch: 'pipeline launches and recoveries',
  haystack_launch: 'HAYSTACK runs',
  chat: 'assistant messages',
  read: 'requests',
};

async function checkRateLimit(deps: AppDeps, route: Route, caller: Caller, res: Response): Promise<void> {
  const name = route.rateLimit ?? 'read';
  const decision = await deps.rateLimits[name].consume(caller.email);
  if (decision.limit > 0) {
    res.set('ratelimit-limit', String(decision.limit));
    res.set('ratelimit-remaining', String(decision.remaining));
    res.set('ratelimit-reset', String(decision.resetSeconds));
  }
  if (!decision.allowed) {
    throw new RateLimitedError(
      `Too many ${LIMIT_NAMES[name]}: the limit is ${decision.limit} in any 60 s per user. Try again in ${decision.resetSeconds} s.`,
      decision.resetSeconds,
    );
  }
}

function parseParams(route: Route, raw: Record<string, string>): Record<string, string> {
  if (!route.params) return raw;
  const parsed = route.params.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new NotFoundError(route.missing?.(raw) ?? `Nothing is at ${route.path} for ${JSON.stringify(raw)}.`);
}

/** The HTTP function: the modules' routes, plus `{basePath}/openapi.json` describing them. */
export function createHttpApp(
  deps: AppDeps,
  modules: Route[][],
  options: AppOptions,
): (req: Request, res: Response) => Promise<void> {
  const table: Route[] = modules.flat();
  table.push(
    defineRoute({
      method: 'get',
      path: `${options.basePath}/openapi.json`,
      summary: 'This API, described as OpenAPI 3.1',
      tags: ['meta'],
      auth: false,
      query: NoQuery,
      responses: [{ status: 200, description: 'the OpenAPI document' }],
      handler: async () => ({ body: openApiDocument(table, deps.version, options.title) }),
    }),
  );
  const compiled: CompiledRoute[] = table.map(compileRoute);
  const cors = corsFor(deps.corsOrigins);

  return async (req, res) => {
    const requestId = requestIdOf(req);
    res.set('x-request-id', requestId);
    let caller: Caller | null = null;
    let matched: Record<string, string> = {};
    try {
      await apiSecurityHeaders(req, res);
      if (await cors(req, res)) return;
      const match = matchRoute(compiled, req.method, req.path);
      if (match.kind === 'none') {
        throw new NotFoundError(
          `No route for ${req.method} ${req.path}; see ${options.basePath}/openapi.json.`,
        );
      }
      if (match.kind === 'method') {
        res.set('allow', match.allowed.map((m) => m.toUpperCase()).join(', '));
        res.status(405).json({
          error: {
            code: 'method_not_allowed',
            message: `${req.method} is not allowed on ${req.path}; use ${match.allowed.map((m) => m.toUpperCase()).join(' or ')}.`,
          },
        });
        return;
      }
      const { route } = match;
      matched = match.params;
      if (route.auth) {
        caller = await signIn(deps, await deps.authenticator.authenticate(req.headers), requestId);
        await checkRateLimit(deps, route, caller, res);
      }
      const params = parseParams(route, match.params);
      const query = parseOrThrow(route.query, { ...req.query }, 'query');
      const body = route.body ? readBody(req, route.bodyOptional === true) : undefined;
      const handler = route.handler as (ctx: unknown) => ReturnType<Route['handler']>;
      const result = await handler({ req, res, params, query, body, caller, requestId });
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
          // The resource as the route matched it, whatever kind of id it is.
          run_id: matched.id ?? null,
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
          // The alert on the warehouse keys on it (infra/monitoring.tf).
          dependency: error instanceof UpstreamError ? error.dependency : null,
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
