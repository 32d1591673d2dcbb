/**
 * The HAYSTACK agent's job (`haystack-{run_id}`), over ports: it moves its run to running, runs
 * the loop with progress written to the run, writes the three outputs, and ends the run itself
 * (completed, or failed saying why) in the same lifecycle every writer uses. A cancel at any
 * point ends the run `cancelled` with no results: the loop stops at its next step (a model job
 * stops at once), outputs are not written after it, and outputs a cancel overtook are removed.
 * The Batch job's own end reaches the run through the kernel, which stops every job left.
 */
import type { Clock, ObjectStore } from '../shared/ports';
import type { AtlasCatalog } from './catalog';
import { type HaystackRequest, type HaystackResult, runHaystack } from './loop';
import { removeOutputs, writeOutputs } from './outputs';
import type { AnnDataFiles, HaystackRunStore, PredictionModel, QueryInterpreter, RunProgress } from './ports';
import { settleFields, storeProgress } from './progress';
import type { HaystackRun } from './run-model';

export interface AnswerDeps {
  runs: HaystackRunStore;
  objects: ObjectStore;
  files: Pick<AnnDataFiles, 'encode'>;
  catalog: AtlasCatalog;
  /** The interpreter for this run (its llm_model, or the configured one; the rules without a key). */
  interpreter(run: HaystackRun): Promise<QueryInterpreter>;
  /** The model, told how to notice that the run was cancelled. */
  model(progress: RunProgress): PredictionModel;
  clock: Clock;
  /** The atlas seed: every function and job generates the same synthetic atlas from it. */
  seed: number;
  log(message: string, fields?: Record<string, unknown>): void;
}

/** How the job ended: its exit code, and what became of the run. */
export interface AnswerOutcome {
  exitCode: 0 | 1;
  ended: 'completed' | 'failed' | 'cancelled' | 'not-running';
}

export async function answerRun(deps: AnswerDeps, runId: string): Promise<AnswerOutcome> {
  const now = () => deps.clock.now().toISOString();
  const started = await deps.runs.apply(runId, { to: 'running', at: now(), source: 'agent' });
  if (!started) throw new Error(`HAYSTACK run ${runId} does not exist.`);
  const run = started.run;
  if (run.status !== 'running') {
    deps.log('haystack_job_not_running', { run_id: runId, status: run.status });
    return { exitCode: 0, ended: 'not-running' };
  }
  deps.log('haystack_job_started', { run_id: runId });
  const progress = storeProgress(deps.runs, runId, deps.clock);
  const model = deps.model(progress);
  const request: HaystackRequest = {
    query: run.query,
    control_strategy: run.control_strategy,
    max_iterations: run.max_iterations,
    score_threshold: run.score_threshold,
    dataset: run.dataset ?? undefined,
    seed: deps.seed,
  };
  let result: HaystackResult;
  try {
    const interpreter = await deps.interpreter(run);
    result = await runHaystack({ interpreter, catalog: deps.catalog, model, progress }, request);
  } catch (error) {
    return fail(deps, runId, `The question could not be answered: ${(error as Error).message}`);
  }
  if (result.termination_reason === 'cancelled') return cancelled(deps, runId, 'the loop');
  await progress.phase('output_generation', result.iterations.length);
  const written = await writeOutputs(
    { objects: deps.objects, files: deps.files, cancelled: progress.cancelled },
    runId,
    request,
    result,
  );
  if (written === null) return cancelled(deps, runId, 'writing the outputs');
  await deps.runs.update(runId, (current) => (current.status === 'running' ? settleFields(result) : null));
  if (result.termination_reason === 'error')
    return fail(deps, runId, result.error_message ?? 'The loop stopped with an error it did not describe.');
  const ended = await deps.runs.apply(runId, { to: 'completed', at: now(), source: 'agent' });
  if (ended?.run.status !== 'completed') {
    // A cancel won the race with the answer: the run has no results.
    await removeOutputs(deps.objects, written);
    return cancelled(deps, runId, 'the end of the run');
  }
  deps.log('haystack_job_done', {
    run_id: runId,
    termination_reason: result.termination_reason,
    final_score: result.final_score,
  });
  return { exitCode: 0, ended: 'completed' };
}

async function fail(deps: AnswerDeps, runId: string, message: string): Promise<AnswerOutcome> {
  const error_message = message.slice(0, 2_000);
  await deps.runs.apply(runId, {
    to: 'failed',
    at: deps.clock.now().toISOString(),
    source: 'agent',
    error_message,
  });
  deps.log('haystack_job_failed', { run_id: runId, error: error_message });
  return { exitCode: 1, ended: 'failed' };
}

function cancelled(deps: AnswerDeps, runId: string, during: string): AnswerOutcome {
  deps.log('haystack_job_cancelled', { run_id: runId, during });
  return { exitCode: 0, ended: 'cancelled' };
}
