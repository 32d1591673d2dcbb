/** The workflow's two steps for a HAYSTACK run (the same workflow as a Nextflow run's). */
import { z } from 'zod';
import {
  type HaystackExecutionDeps,
  HaystackReconcileRequest,
  prepareHaystackRun,
  reconcileHaystackRun,
} from '../core/haystack/execution';
import { HaystackRunId } from '../core/haystack/run-model';
import type { Logger } from '../logging';
import { jsonEndpoint } from './json-endpoint';

type StepDeps = HaystackExecutionDeps & { logger: Logger };

export function createPrepareHaystackRunHandler(deps: StepDeps) {
  return jsonEndpoint(
    'prepareHaystackRun',
    deps.logger,
    z.strictObject({ run_id: HaystackRunId }),
    async ({ run_id }) => {
      const prepared = await prepareHaystackRun(deps, run_id);
      deps.logger.log('INFO', 'haystack_run_prepared', { run_id, job_name: prepared.job_name });
      return prepared;
    },
  );
}

export function createReconcileHaystackRunHandler(deps: StepDeps) {
  return jsonEndpoint('reconcileHaystackRun', deps.logger, HaystackReconcileRequest, async (request) => {
    const result = await reconcileHaystackRun(deps, request);
    deps.logger.log('INFO', 'haystack_run_reconciled', {
      run_id: request.run_id,
      phase: request.phase,
      status: result.status,
    });
    return result;
  });
}
