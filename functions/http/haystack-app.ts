/**
 * The `haystack` HTTP function: the same app as `api` (identity, limits, errors, OpenAPI,
 * audit, hardening) with HAYSTACK's routes under /api/v1. A function of its own, so it deploys
 * and scales on its own; the load balancer (and the local stack) send /api/v1/* to it.
 */
import type { Request, Response } from 'express';
import { type AppDeps, createHttpApp } from './app';
import { type HaystackRouteDeps, haystackRoutes } from './routes/haystack-routes';
import { type HealthDeps, healthRoutes } from './routes/health-routes';

export interface HaystackApiDeps extends AppDeps, HealthDeps, HaystackRouteDeps {}

export function createHaystackHandler(deps: HaystackApiDeps): (req: Request, res: Response) => Promise<void> {
  return createHttpApp(deps, [healthRoutes(deps, '/api/v1', '/api/v1/health/ready'), haystackRoutes(deps)], {
    basePath: '/api/v1',
    title: 'Arc Reactor HAYSTACK API',
  });
}
