import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Caller } from '../core/shared/caller';
import { type DomainError, ValidationError } from '../core/shared/errors';

export type HttpMethod = 'get' | 'post' | 'patch' | 'put' | 'delete';

/** The per-user limits a route counts against (each over any 60 s; deps/access.ts). */
export type RateLimitName = 'launch' | 'haystack_launch' | 'chat' | 'read';

/** No query parameters at all: an unknown one is refused (400). */
export const NoQuery = z.strictObject({});

/**
 * What a handler gets. `query` and `params` are the outputs of the route's schemas, parsed by
 * the app before the handler runs; `body` is the raw JSON, validated by the core service that
 * owns it (so size limits answer 413 before field checks, with the service's own words).
 */
export interface RouteContext<Q = unknown, P = Record<string, string>> {
  req: Request;
  res: Response;
  params: P;
  query: Q;
  /** The parsed JSON body (only for routes that declare one). */
  body: unknown;
  /** Null only on routes with `auth: false`. */
  caller: Caller | null;
  requestId: string;
}

/** The caller of an authenticated route (the app signs the user in before the handler runs). */
export function requireCaller(ctx: RouteContext<unknown, unknown>): Caller {
  return ctx.caller!;
}

export interface RouteResult {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A route handler returns its result, or null when it has written a streamed response itself. */
export type RouteHandler<Q = unknown, P = Record<string, string>> = (
  ctx: RouteContext<Q, P>,
) => Promise<RouteResult | null>;

export interface ResponseSpec {
  status: number;
  description: string;
  schema?: z.ZodType;
  contentType?: string;
}

interface RouteSpec {
  method: HttpMethod;
  /** OpenAPI-style template: `/api/runs/{id}`; `{name+}` may span several segments. */
  path: string;
  summary: string;
  tags: string[];
  auth: boolean;
  /** The request body as documented (validated by the service that owns it). */
  body?: z.ZodType;
  /** An empty body is accepted as `{}` (every field has a default). */
  bodyOptional?: boolean;
  /** Which per-user limit the route counts against (authenticated routes; default `read`). */
  rateLimit?: RateLimitName;
  responses: ResponseSpec[];
}

/** A route as the app keeps it: its schemas, and a handler typed by them (see defineRoute). */
export interface Route extends RouteSpec {
  query: z.ZodObject;
  /** Path parameters; a value the schema refuses is answered 404 with `missing(raw)`. */
  params?: z.ZodType<Record<string, string>>;
  missing?: (raw: Record<string, string>) => string;
  handler: RouteHandler<never, never>;
}

/**
 * A route whose handler sees `ctx.query` and `ctx.params` typed by its schemas: no casts. The
 * app parses both before the handler runs (query problems: 400; a path parameter the schema
 * refuses: 404).
 */
export function defineRoute<Q extends z.ZodObject, P extends z.ZodType<Record<string, string>>>(
  route: RouteSpec & {
    query: Q;
    params?: P;
    missing?: (raw: Record<string, string>) => string;
    handler: RouteHandler<z.output<Q>, z.output<P>>;
  },
): Route {
  return route as unknown as Route;
}

export interface CompiledRoute extends Route {
  pattern: RegExp;
  paramNames: string[];
}

export function compileRoute(route: Route): CompiledRoute {
  const paramNames: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      const match = /^\{(\w+)(\+?)\}$/.exec(segment);
      if (!match) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      paramNames.push(match[1]!);
      return match[2] ? '(.+?)' : '([^/]+)';
    })
    .join('/');
  return { ...route, pattern: new RegExp(`^${source}/?$`), paramNames };
}

export type Match =
  | { kind: 'found'; route: CompiledRoute; params: Record<string, string> }
  | { kind: 'method'; allowed: HttpMethod[] }
  | { kind: 'none' };

export function matchRoute(routes: CompiledRoute[], method: string, path: string): Match {
  const allowed: HttpMethod[] = [];
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    if (route.method !== method.toLowerCase()) {
      allowed.push(route.method);
      continue;
    }
    const params: Record<string, string> = {};
    route.paramNames.forEach((name, index) => {
      const raw = match[index + 1] ?? '';
      try {
        params[name] = decodeURIComponent(raw);
      } catch {
        throw new ValidationError(`The path parameter ${name} is not valid URL encoding.`, [
          { field: name, rule: 'encoding', message: `${name} is not valid URL encoding` },
        ]);
      }
    });
    return { kind: 'found', route, params };
  }
  return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' };
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 32;

/** Rejects bodies that could reach an object's prototype or nest without end. */
export function checkBodyShape(value: unknown, path = '', depth = 0): DomainError | null {
  if (depth > MAX_DEPTH) {
    return new ValidationError(`The body nests deeper than ${MAX_DEPTH} levels.`, [
      { field: path || 'body', rule: 'depth', message: `nesting deeper than ${MAX_DEPTH} levels` },
    ]);
  }
  if (value === null || typeof value !== 'object') return null;
  for (const key of Object.keys(value)) {
    const here = path ? `${path}.${key}` : key;
    if (FORBIDDEN_KEYS.has(key)) {
      return new ValidationError(`The key "${key}" is not allowed (at ${here}).`, [
        { field: here, rule: 'forbidden_key', message: `"${key}" is not an allowed key` },
      ]);
    }
    const nested = checkBodyShape((value as Record<string, unknown>)[key], here, depth + 1);
    if (nested) return nested;
  }
  return null;
}
