/**
 * The `api` HTTP function: the app (http/app.ts) with the platform's route modules. Another
 * HTTP function (HAYSTACK's, under /api/v1) is the same app with its own modules.
 */
import type { Request, Response } from 'express';
import type { Secrets } from '../core/shared/ports';
import { type AppDeps, createHttpApp } from './app';
import { type AssistantRouteDeps, assistantRoutes } from './routes/assistant-routes';
import { type BenchlingDeps, benchlingRoutes } from './routes/benchling-routes';
import { type HealthDeps, healthRoutes } from './routes/health-routes';
import { type MonitoringDeps, monitoringRoutes } from './routes/monitoring-routes';
import { pipelineRoutes } from './routes/pipeline-routes';
import { type PreferencesRouteDeps, preferencesRoutes } from './routes/preferences-routes';
import { type RunRouteDeps, runRoutes } from './routes/run-routes';
import { sessionRoutes } from './routes/session-routes';

export { MAX_BODY_BYTES } from './app';
export { READINESS_TIMEOUT_MS, type ReadinessCheck } from './routes/health-routes';

export interface ApiDeps
  extends AppDeps,
    HealthDeps,
    RunRouteDeps,
    MonitoringDeps,
    BenchlingDeps,
    AssistantRouteDeps,
    PreferencesRouteDeps {
  sessionTokens: Parameters<typeof sessionRoutes>[0]['sessionTokens'];
  secrets: Secrets;
}

export function createApiHandler(deps: ApiDeps): (req: Request, res: Response) => Promise<void> {
  return createHttpApp(
    deps,
    [
      healthRoutes(deps),
      pipelineRoutes(deps),
      runRoutes(deps),
      sessionRoutes(deps),
      monitoringRoutes(deps),
      benchlingRoutes(deps),
      assistantRoutes(deps),
      preferencesRoutes(deps),
    ],
    { basePath: '/api', title: 'Arc Reactor API' },
  );
}
