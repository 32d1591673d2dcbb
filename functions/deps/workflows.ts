import { onFirstUse, workflowsSdk } from '../adapters/google-sdks';
import { CloudWorkflowsStarter } from '../adapters/workflows-starter';
import type { Config } from '../config';
import type { WorkflowArgument } from '../core/runs/ports';
import type { SweepDeps } from '../core/runs/sweeper';
import { jsonLogger, type Logger } from '../logging';
import { createHaystackRunStore } from './events';
import { createFirestore, emulatorEndpoint, systemClock } from './platform';
import { createBatchRunner, createRunStore } from './runs';

/** Cloud Workflows: starting a run's execution (api) and asking after it (the sweeper). */

export function createWorkflowStarter(config: Config): CloudWorkflowsStarter {
  return new CloudWorkflowsStarter(
    onFirstUse(
      () =>
        new (workflowsSdk().ExecutionsClient)({
          projectId: config.project,
          ...(config.emulators.workflows ? emulatorEndpoint(config.emulators.workflows) : {}),
        }),
    ),
    config.workflow.parent,
  );
}

/** The run-pipeline argument for a run: where the workflow finds the step functions. */
export function workflowArgument(config: Config): (runId: string) => WorkflowArgument {
  return (runId) => ({
    run_id: runId,
    project: config.project,
    region: config.region,
    prepare_url: `${config.functionsBaseUrl}/prepareRun`,
    reconcile_url: `${config.functionsBaseUrl}/reconcileRun`,
    poll_seconds: config.workflow.pollSeconds,
    queue_poll_seconds: config.workflow.queuePollSeconds,
    max_queue_polls: Math.max(
      1,
      Math.ceil(config.workflow.queueMaxWaitSeconds / config.workflow.queuePollSeconds),
    ),
  });
}

/** What sweepStaleRuns needs. */
export function createSweepDeps(config: Config, overrides: Partial<SweepDeps & { logger: Logger }> = {}) {
  const logger = overrides.logger ?? jsonLogger();
  const db = createFirestore(config);
  const jobs = createBatchRunner(config);
  const clock = overrides.clock ?? systemClock;
  const settings = {
    staleAfterMs: config.sweep.staleAfterMs,
    pendingTimeoutMs: config.sweep.pendingTimeoutMs,
  };
  const runs = createRunStore(config, db, logger);
  return {
    runs,
    events: runs.events?.outbox,
    jobs,
    workflows: createWorkflowStarter(config),
    clock,
    logger,
    settings,
    haystack: {
      haystackRuns: createHaystackRunStore(config, db, logger),
      jobStates: { state: async (name: string) => (await jobs.getJob(name))?.status.state ?? null },
      clock,
      settings,
    },
    ...overrides,
  };
}
