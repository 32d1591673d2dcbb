/**
 * Nextflow runs as a kind of run on the kernel (core/shared/run-kind.ts): `run-…` ids, the
 * orchestrator job `nf-{run}` whose state is the run's, and nothing else of Batch's that the
 * platform starts (Nextflow's own task jobs are the orchestrator's to stop).
 */
import { RUN_ID_PATTERN, runIdFromBatchJobId } from '../shared/ids';
import type { RunKind } from '../shared/run-kind';
import { nextflowJobs, orchestratorFailure } from './batch-job';
import { type ExecutionDeps, prepareNextflowRun, recordOrchestratorRetries } from './execution-service';
import type { Run } from './run-model';

export const NEXTFLOW_START_AGAIN =
  'Recover it with "reuse_work_dir": false to launch it again with the same inputs.';
export const NEXTFLOW_CARRY_ON = 'Recover resumes it from the work already done.';

export function nextflowRunKind(deps: ExecutionDeps): RunKind<Run> {
  return {
    name: 'nextflow',
    runIds: RUN_ID_PATTERN,
    runOfJob: runIdFromBatchJobId,
    runs: deps.runs,
    jobsOf: nextflowJobs,
    prepare: (run) => prepareNextflowRun(deps, run),
    jobFailure: orchestratorFailure,
    observeJob: (run, job, source) => recordOrchestratorRetries(deps.runs, run.run_id, job, source),
    startAgain: NEXTFLOW_START_AGAIN,
    carryOn: NEXTFLOW_CARRY_ON,
  };
}
