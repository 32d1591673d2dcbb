/** The run-pipeline workflow's two step functions, for every kind of run (the kernel looks the kind up). */
import {
  type KernelDeps,
  PrepareRequest,
  prepareRun,
  ReconcileRequest,
  reconcileRun,
} from '../core/shared/kernel';
import type { Logger } from '../logging';
import { jsonEndpoint } from './json-endpoint';

type StepDeps = KernelDeps & { logger: Logger };

/** prepareRun: makes a pending run's inputs ready and returns the Batch job to create (409 if no longer pending). */
export function createPrepareRunHandler(deps: StepDeps) {
  return jsonEndpoint('prepareRun', deps.logger, PrepareRequest, async ({ run_id }) => {
    const prepared = await prepareRun(deps, run_id);
    if (prepared.queued) deps.logger.log('NOTICE', 'run_queued', { run_id, reason: prepared.reason });
    else deps.logger.log('INFO', 'run_prepared', { run_id, job_name: prepared.job_name });
    return prepared;
  });
}

/** reconcileRun: applies what the Batch job says (or the workflow's failure) to the run. */
export function createReconcileRunHandler(deps: StepDeps) {
  return jsonEndpoint('reconcileRun', deps.logger, ReconcileRequest, async (request) => {
    const result = await reconcileRun(deps, request);
    deps.logger.log('INFO', 'run_reconciled', {
      run_id: request.run_id,
      phase: request.phase,
      status: result.status,
      action: result.action,
    });
    return result;
  });
}
