/**
 * The HAYSTACK agent as a Batch job (`haystack-{run_id}`): reads its run from Firestore, runs
 * the loop on the synthetic atlas, writes its phase, iterations and scores to the run as it
 * goes (the page follows them live), checks between steps whether the run was cancelled, and
 * writes the three outputs under `haystack/{run_id}/results/`. It exits 0 when the loop ended
 * (threshold, plateau, max iterations, cancel), 1 when it failed (the reason on the run); the
 * workflow's reconcile then puts the job's final state on the run.
 *
 * Environment (the job spec's): HAYSTACK_RUN_ID, GOOGLE_CLOUD_PROJECT, RUNS_BUCKET,
 * HAYSTACK_ATLAS_SEED, and locally FIRESTORE_EMULATOR_HOST / STORAGE_EMULATOR_HOST.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FirestoreHaystackRunStore } from '../../functions/adapters/firestore-haystack-run-store';
import { GcsObjectStore } from '../../functions/adapters/gcs-object-store';
import { H5wasmAnnDataFiles } from '../../functions/adapters/h5wasm-h5ad';
import { loadConfig } from '../../functions/config';
import { generateDataset } from '../../functions/core/haystack/atlas';
import { AtlasCatalog } from '../../functions/core/haystack/catalog';
import { transition } from '../../functions/core/haystack/execution';
import { runHaystack } from '../../functions/core/haystack/loop';
import { haystackLog, predictionsAnnData, reportHtml } from '../../functions/core/haystack/outputs';
import type { PredictionModel, RunProgress } from '../../functions/core/haystack/ports';
import { RuleBasedInterpreter } from '../../functions/core/haystack/query';
import { haystackPaths } from '../../functions/core/haystack/run-model';
import { predictMeanShift, STANDIN_MODEL } from '../../functions/core/haystack/standin';
import { DATASETS } from '../../functions/core/haystack/vocabulary';
import { createFirestore, createStorage } from '../../functions/deps/platform';

const log = (message: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ severity: 'INFO', message, ...fields }));

export async function runJob(env: NodeJS.ProcessEnv): Promise<number> {
  const runId = env.HAYSTACK_RUN_ID;
  if (!runId) throw new Error('HAYSTACK_RUN_ID is not set: the job spec sets it.');
  const config = loadConfig(env);
  const store = new FirestoreHaystackRunStore(createFirestore(config));
  const objects = new GcsObjectStore(createStorage(config), config.runsBucket);
  const now = () => new Date().toISOString();
  const run = await store.update(runId, (r) => transition(r, 'running', now()));
  if (!run) throw new Error(`HAYSTACK run ${runId} does not exist.`);
  if (run.status !== 'running') {
    log('haystack_job_not_running', { run_id: runId, status: run.status });
    return 0;
  }
  log('haystack_job_started', { run_id: runId });
  const catalog = new AtlasCatalog(
    Object.fromEntries(DATASETS.map((d) => [d, generateDataset(d, config.haystack.atlasSeed)])),
  );
  // The model: the stand-in, in this process. (Each call as its own GPU Batch job is next.)
  const model: PredictionModel = {
    name: STANDIN_MODEL,
    predict: async ({ prompt, query, seed }) => ({
      ...query,
      X: predictMeanShift(prompt.X, query.X, seed),
      uns: { model: STANDIN_MODEL },
    }),
  };
  const progress: RunProgress = {
    phase: async (phase, iteration) => {
      await store.update(runId, (r) =>
        r.status === 'running'
          ? { current_phase: phase, current_iteration: iteration, updated_at: now() }
          : null,
      );
    },
    iteration: async (record) => {
      await store.update(runId, (r) =>
        r.status === 'running'
          ? {
              grounding_scores: [
                ...r.grounding_scores,
                {
                  iteration: record.iteration,
                  composite: record.grounding.composite,
                  P: record.grounding.P,
                  T: record.grounding.T,
                  L: record.grounding.L,
                  N: record.grounding.N,
                  strategy: record.prompt.strategy,
                  condition: record.prompt.condition,
                  cell_type: record.prompt.cell_type,
                  control_strategy_effective: record.control_strategy_effective,
                },
              ],
              control_strategy_effective:
                r.control_strategy_effective === 'query_as_control'
                  ? 'query_as_control'
                  : record.control_strategy_effective,
              updated_at: now(),
            }
          : null,
      );
    },
    cancelled: async () => (await store.get(runId))?.status === 'cancelled',
  };
  const request = {
    query: run.query,
    control_strategy: run.control_strategy,
    max_iterations: run.max_iterations,
    score_threshold: run.score_threshold,
    dataset: run.dataset ?? undefined,
    seed: config.haystack.atlasSeed,
  };
  const result = await runHaystack(
    { interpreter: new RuleBasedInterpreter(), catalog, model, progress },
    request,
  ).catch((error: unknown) => ({ failed: (error as Error).message }) as const);
  if ('failed' in result) {
    await store.update(runId, (r) =>
      transition(r, 'failed', now(), {
        termination_reason: 'error',
        error_message: `The question could not be answered: ${result.failed}`.slice(0, 2_000),
      }),
    );
    log('haystack_job_failed', { run_id: runId, error: result.failed });
    return 1;
  }
  if (result.termination_reason === 'cancelled') {
    log('haystack_job_cancelled', { run_id: runId });
    return 0;
  }
  await progress.phase('output_generation', result.iterations.length);
  const paths = haystackPaths(runId);
  const logJson = haystackLog(runId, request, result);
  const work = await mkdtemp(join(tmpdir(), 'haystack-job-'));
  try {
    await objects.write(paths.log, `${JSON.stringify(logJson, null, 2)}\n`, 'application/json');
    await objects.write(paths.report, reportHtml(logJson, result), 'text/html; charset=utf-8');
    if (result.prediction) {
      const local = join(work, 'predictions.h5ad');
      await new H5wasmAnnDataFiles().write(local, predictionsAnnData(runId, request, result));
      await objects.write(paths.predictions, await readFile(local), 'application/x-hdf5');
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const failed = result.termination_reason === 'error';
  await store.update(runId, (r) =>
    r.status === 'running'
      ? {
          final_score: result.final_score,
          termination_reason: result.termination_reason,
          error_message: result.error_message,
          control_strategy_effective: result.control_strategy_effective,
          current_phase: null,
          updated_at: now(),
        }
      : null,
  );
  log('haystack_job_done', {
    run_id: runId,
    termination_reason: result.termination_reason,
    final_score: result.final_score,
  });
  return failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  runJob(process.env).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(
        JSON.stringify({
          severity: 'ERROR',
          message: 'haystack_job_crashed',
          error: (error as Error).message,
        }),
      );
      process.exit(1);
    },
  );
}
