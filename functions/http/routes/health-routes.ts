/** Liveness and readiness: what a load balancer and an operator ask every function. */
import { z } from 'zod';
import { DomainError } from '../../core/shared/errors';
import { DeadlineExceeded, within } from '../../deadline';
import type { Logger } from '../../logging';
import { describeError } from '../../logging';
import { defineRoute, NoQuery, type Route } from '../router';

export interface ReadinessCheck {
  name: string;
  /** Resolves when ready; a string is a note shown beside ok (e.g. "disabled: …"). */
  check(): Promise<unknown>;
}

/** Each readiness check answers within this, so /ready always answers (a hung dependency is "not ready"). */
export const READINESS_TIMEOUT_MS = 3_000;

export interface HealthDeps {
  logger: Logger;
  readiness: ReadinessCheck[];
  /** Per check; default READINESS_TIMEOUT_MS. */
  readinessTimeoutMs?: number;
  version: string;
}

/** `{basePath}/health` and the readiness check at `readyPath` (default `{basePath}/ready`). */
export function healthRoutes(deps: HealthDeps, basePath = '/api', readyPath = `${basePath}/ready`): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: `${basePath}/health`,
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
    }),
    defineRoute({
      method: 'get',
      path: readyPath,
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
            checks: z.record(
              z.string(),
              z.object({ ok: z.boolean(), note: z.string().optional(), error: z.string().optional() }),
            ),
          }),
        },
        { status: 503, description: 'a dependency is unavailable' },
      ],
      handler: async () => {
        const results = await Promise.all(
          deps.readiness.map(async ({ name, check }) => {
            const timeoutMs = deps.readinessTimeoutMs ?? READINESS_TIMEOUT_MS;
            try {
              const note = await within(check(), timeoutMs);
              return [name, typeof note === 'string' ? { ok: true, note } : { ok: true }] as const;
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
    }),
  ];
}
