/**
 * The HAYSTACK agent as a Batch job (`haystack-{run_id}`): reads its run from Firestore, runs
 * the loop on the synthetic atlas, writes its phase, iterations and scores to the run as it
 * goes (the page follows them live), checks between steps whether the run was cancelled, runs
 * each model call as its own Batch job, and writes the three outputs under
 * `haystack/{run_id}/results/`. It exits 0 when the loop ended (threshold, plateau, max
 * iterations, cancel), 1 when it failed (the reason on the run); the workflow's reconcile then
 * puts the job's final state on the run.
 *
 * Environment (the job spec's): HAYSTACK_RUN_ID, GOOGLE_CLOUD_PROJECT, RUNS_BUCKET,
 * HAYSTACK_ATLAS_SEED, HAYSTACK_INFERENCE_IMAGE …, and locally the emulators' addresses.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnthropicClient } from '../../functions/adapters/anthropic-chat-model';
import { AnthropicQueryInterpreter } from '../../functions/adapters/anthropic-query-interpreter';
import { FirestoreHaystackRunStore } from '../../functions/adapters/firestore-haystack-run-store';
import { GcsObjectStore } from '../../functions/adapters/gcs-object-store';
import { H5wasmAnnDataFiles } from '../../functions/adapters/h5wasm-h5ad';
import { type Config, loadConfig } from '../../functions/config';
import type { AnnData } from '../../functions/core/haystack/anndata';
import { generateDataset } from '../../functions/core/haystack/atlas';
import { AtlasCatalog } from '../../functions/core/haystack/catalog';
import { inferenceJobId, inferenceJobSpec, transition } from '../../functions/core/haystack/execution';
import { runHaystack } from '../../functions/core/haystack/loop';
import { haystackLog, predictionsAnnData, reportHtml } from '../../functions/core/haystack/outputs';
import type { PredictionModel, QueryInterpreter, RunProgress } from '../../functions/core/haystack/ports';
import { RuleBasedInterpreter } from '../../functions/core/haystack/query';
import { haystackPaths } from '../../functions/core/haystack/run-model';
import { DATASETS } from '../../functions/core/haystack/vocabulary';
import type { BatchJobSpec } from '../../functions/core/runs/batch-job';
import type { JobRunner } from '../../functions/core/runs/ports';
import { createFirestore, createStorage } from '../../functions/deps/platform';
import { createBatchRunner } from '../../functions/deps/runs';
import { createSecrets } from '../../functions/deps/secrets';

const log = (message: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ severity: 'INFO', message, ...fields }));

class Cancelled extends Error {}

/**
 * Claude reads the question when the deployment has an Anthropic key (the secret, read with the
 * job's own service account; never passed in the job's environment), with the run's llm_model or
 * the configured one; otherwise, and whenever Claude's answer does not validate, the rules do —
 * and the run's log says which.
 */
async function interpreterFor(config: Config, model: string | null): Promise<QueryInterpreter> {
  let key: string;
  try {
    key = config.assistant.apiKey ?? (await createSecrets(config).get(config.assistant.keySecret));
  } catch {
    log('haystack_interpreter', { interpreter: 'rules', reason: 'no Anthropic key' });
    return new RuleBasedInterpreter();
  }
  const client = new AnthropicClient({
    apiKey: async () => key,
    baseUrl: config.assistant.baseUrl,
    maxRetries: 3,
    timeoutMs: 60_000,
  });
  return new AnthropicQueryInterpreter(client, model ?? config.assistant.model, (reason) =>
    log('haystack_interpreter_fallback', { reason }),
  );
}

interface InferenceDeps {
  runId: string;
  jobs: JobRunner;
  objects: GcsObjectStore;
  files: H5wasmAnnDataFiles;
  work: string;
  parent: string;
  settings: Parameters<typeof inferenceJobSpec>[1];
  pollMs: number;
  cancelled(): Promise<boolean>;
}

/**
 * Each model call as its own Batch job (stack-{run}-i{n}-treat|ctrl) on the inference image:
 * prompt and query h5ad go under the run's prefix, the job writes the prediction there, the
 * agent waits for the job and reads it. Locally the Batch twin runs the stand-in for that image.
 */
export class BatchInferenceModel implements PredictionModel {
  name = 'stack';
  readonly jobs: string[] = [];

  constructor(private readonly deps: InferenceDeps) {}

  async predict({
    prompt,
    query,
    seed,
    label,
  }: {
    prompt: AnnData;
    query: AnnData;
    seed: number;
    label: string;
  }): Promise<AnnData> {
    const { deps } = this;
    const prefix = `haystack/${deps.runId}/inference/${label}`;
    const gs = (name: string) => `gs://${deps.objects.bucket}/${prefix}-${name}.h5ad`;
    for (const [name, adata] of [
      ['prompt', prompt],
      ['query', query],
    ] as const) {
      const local = join(deps.work, `${label}-${name}.h5ad`);
      await deps.files.write(local, adata);
      await deps.objects.write(`${prefix}-${name}.h5ad`, await readFile(local), 'application/x-hdf5');
    }
    const jobId = inferenceJobId(deps.runId, label);
    const spec = inferenceJobSpec(deps.runId, deps.settings, {
      prompt: gs('prompt'),
      query: gs('query'),
      output: gs('pred'),
      seed,
    });
    const job = await deps.jobs.createJob({
      parent: deps.parent,
      jobId,
      requestId: randomUUID(),
      job: spec as unknown as BatchJobSpec,
    });
    this.jobs.push(job.name);
    for (;;) {
      const state = (await deps.jobs.getJob(job.name))?.status.state ?? 'DELETED';
      if (state === 'SUCCEEDED') break;
      if (['FAILED', 'CANCELLED', 'DELETED'].includes(state)) {
        if (await deps.cancelled()) throw new Cancelled();
        throw new Error(`the model job ${jobId} ended ${state}`);
      }
      if (await deps.cancelled()) {
        await deps.jobs.cancelJob(job.name);
        throw new Cancelled();
      }
      await new Promise((resolve) => setTimeout(resolve, deps.pollMs));
    }
    const local = join(deps.work, `${label}-pred.h5ad`);
    await writeFile(local, await deps.objects.read(`${prefix}-pred.h5ad`));
    const prediction = await deps.files.read(local);
    if (typeof prediction.uns.model === 'string') this.name = prediction.uns.model;
    return prediction;
  }
}

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
  const work = await mkdtemp(join(tmpdir(), 'haystack-job-'));
  try {
    return await answer();
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  async function answer(): Promise<number> {
    const files = new H5wasmAnnDataFiles();
    const cancelled = async () => (await store.get(runId!))?.status === 'cancelled';
    const model = new BatchInferenceModel({
      runId: runId!,
      jobs: createBatchRunner(config),
      objects,
      files,
      work,
      parent: `projects/${config.project}/locations/${config.region}`,
      settings: {
        inferenceImage: config.haystack.inferenceImage,
        gpuMachineType: config.haystack.gpuMachineType,
        gpuAccelerator: config.haystack.gpuAccelerator,
        serviceAccount: config.haystack.serviceAccount,
        environment: Object.fromEntries(
          ['STORAGE_EMULATOR_HOST', 'GOOGLE_CLOUD_PROJECT'].flatMap((k) => (env[k] ? [[k, env[k]!]] : [])),
        ),
      },
      pollMs: Number(env.HAYSTACK_POLL_MS ?? 5_000),
      cancelled,
    });
    const progress: RunProgress = {
      phase: async (phase, iteration) => {
        await store.update(runId!, (r) =>
          r.status === 'running'
            ? { current_phase: phase, current_iteration: iteration, updated_at: now() }
            : null,
        );
      },
      iteration: async (record) => {
        await store.update(runId!, (r) =>
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
      cancelled,
    };
    const request = {
      query: run!.query,
      control_strategy: run!.control_strategy,
      max_iterations: run!.max_iterations,
      score_threshold: run!.score_threshold,
      dataset: run!.dataset ?? undefined,
      seed: config.haystack.atlasSeed,
    };
    let result: Awaited<ReturnType<typeof runHaystack>>;
    try {
      const interpreter = await interpreterFor(config, run!.llm_model);
      result = await runHaystack({ interpreter, catalog, model, progress }, request);
    } catch (error) {
      if (error instanceof Cancelled) {
        log('haystack_job_cancelled', { run_id: runId, during: 'inference' });
        return 0;
      }
      const message = `The question could not be answered: ${(error as Error).message}`.slice(0, 2_000);
      await store.update(runId!, (r) =>
        transition(r, 'failed', now(), { termination_reason: 'error', error_message: message }),
      );
      log('haystack_job_failed', { run_id: runId, error: message });
      return 1;
    }
    if (result.termination_reason === 'cancelled') {
      log('haystack_job_cancelled', { run_id: runId });
      return 0;
    }
    await progress.phase('output_generation', result.iterations.length);
    const paths = haystackPaths(runId!);
    const logJson = haystackLog(runId!, request, result);
    await objects.write(paths.log, `${JSON.stringify(logJson, null, 2)}\n`, 'application/json');
    await objects.write(paths.report, reportHtml(logJson, result), 'text/html; charset=utf-8');
    if (result.prediction) {
      const local = join(work, 'predictions.h5ad');
      await files.write(local, predictionsAnnData(runId!, request, result));
      await objects.write(paths.predictions, await readFile(local), 'application/x-hdf5');
    }
    await store.update(runId!, (r) =>
      r.status === 'running'
        ? {
            final_score: result.final_score,
            termination_reason: result.termination_reason,
            error_message: result.error_message,
            control_strategy_effective: result.control_strategy_effective,
            best: result.best
              ? {
                  iteration: result.best.iteration,
                  de_up: result.best.grounding.de_up.slice(0, 25),
                  de_down: result.best.grounding.de_down.slice(0, 25),
                  pathways: result.best.grounding.enriched
                    .slice(0, 10)
                    .map((e) => ({ set: e.set, padj: e.padj, overlap: e.overlap.length })),
                }
              : null,
            current_phase: null,
            updated_at: now(),
          }
        : null,
    );
    log('haystack_job_done', {
      run_id: runId,
      termination_reason: result.termination_reason,
      final_score: result.final_score,
      inference_jobs: model.jobs.length,
    });
    return result.termination_reason === 'error' ? 1 : 0;
  }
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
