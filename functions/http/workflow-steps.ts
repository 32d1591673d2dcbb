import { z } from 'zod';
import type { ExecutionDeps } from '../core/runs/execution-service';
import { prepareRun, ReconcileRequest, reconcileRun } from '../core/runs/execution-service';
import { RunId } from '../core/runs/run-model';
import type { Logger } from '../logging';

/** What the execution functions need: the core's dependencies and a logger. */
type FunctionDeps = ExecutionDeps & { logger: Logger };

import { jsonEndpoint } from './json-endpoint';

const PrepareRequest = z.strictObject({ run_id: RunId });

/** prepareRun: renders a pending run's inputs and returns the Batch job to create (409 if no longer pending). */
export function createPrepareRunHandler(deps: FunctionDeps) {
  return jsonEndpoint('prepareRun', deps.logger, PrepareRequest, async ({ run_id }) => {
    const prepared = await prepareRun(deps, run_id);
    if (prepared.queued) deps.logger.log('NOTICE', 'run_queued', { run_id, reason: prepared.reason });
    else deps.logger.log('INFO', 'run_prepared', { run_id, job_name: prepared.job_name });
    return prepared;
  });
}

/** reconcileRun: applies what the Batch job says (or the workflow's failure) to the run. */
export function createReconcileRunHandler(deps: FunctionDeps) {
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
