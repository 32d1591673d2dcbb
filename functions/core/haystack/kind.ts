/**
 * HAYSTACK runs as a kind of run on the kernel (core/shared/run-kind.ts): `hs-…` ids, the agent
 * job `haystack-{run}` whose state is the run's, and the model jobs the agent starts, which the
 * kernel stops with it.
 */
import type { RunKind } from '../shared/run-kind';
import {
  agentFailure,
  type HaystackExecutionDeps,
  haystackJobs,
  haystackRunIdFromJobId,
  prepareHaystackRun,
} from './execution';
import { HAYSTACK_RUN_ID_PATTERN, type HaystackRun } from './run-model';

export function haystackRunKind(deps: HaystackExecutionDeps): RunKind<HaystackRun> {
  return {
    name: 'haystack',
    runIds: HAYSTACK_RUN_ID_PATTERN,
    runOfJob: haystackRunIdFromJobId,
    runs: deps.haystackRuns,
    jobsOf: haystackJobs,
    prepare: (run) => prepareHaystackRun(deps, run),
    jobFailure: agentFailure,
    startAgain: 'Ask the question again.',
    carryOn: 'Ask the question again: a HAYSTACK run does not resume.',
  };
}
