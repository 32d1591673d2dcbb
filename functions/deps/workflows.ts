import { onFirstUse, workflowsSdk } from '../adapters/google-sdks';
import { CloudWorkflowsStarter } from '../adapters/workflows-starter';
import type { Config } from '../config';
import type { WorkflowArgument } from '../core/shared/run-kind';
import { emulatorEndpoint } from './platform';

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
