/**
 * One cancellation, one ending: the HAYSTACK agent's job (core/haystack/answer.ts) cancelled at
 * each point of a run — reading the question, choosing a prompt, during a model job, scoring,
 * writing the outputs — ends the run `cancelled`, with no results, and leaves no model job it
 * started going. A cancel that comes after the answer changes nothing: the run stays completed.
 * Real parts throughout: the Firestore emulator, the local GCS server through the real client,
 * the Batch twin running the STACK stand-in, h5wasm; the cancel is the API's (the lifecycle).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchPredictionModel } from '../../functions/adapters/batch-prediction-model';
import { FirestoreHaystackRunStore } from '../../functions/adapters/firestore-haystack-run-store';
import { GcsObjectStore } from '../../functions/adapters/gcs-object-store';
import { H5wasmAnnDataFiles } from '../../functions/adapters/h5wasm-h5ad';
import { loadConfig } from '../../functions/config';
import { type AnswerDeps, answerRun } from '../../functions/core/haystack/answer';
import { generateDataset } from '../../functions/core/haystack/atlas';
import { AtlasCatalog } from '../../functions/core/haystack/catalog';
import type { HaystackRunStore, QueryInterpreter } from '../../functions/core/haystack/ports';
import { RuleBasedInterpreter } from '../../functions/core/haystack/query';
import { type HaystackRun, newHaystackRun } from '../../functions/core/haystack/run-model';
import { DATASETS } from '../../functions/core/haystack/vocabulary';
import { batchParent, isJobEnded, type JobRunner } from '../../functions/core/shared/batch';
import { haystackPaths } from '../../functions/core/shared/bucket-layout';
import type { ObjectStore } from '../../functions/core/shared/ports';
import { createFirestore, createStorage, systemClock } from '../../functions/deps';
import { LocalGcsServer } from '../../scripts/local/gcs-server';
import { LocalBatch } from '../../scripts/local/local-batch';
import { firestoreEmulatorHost, tempDir, uniqueProjectId } from '../helpers/env';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const BUCKET = 'arc-hs-cancel';
let dir: Awaited<ReturnType<typeof tempDir>>;
let gcs: LocalGcsServer;
let batch: LocalBatch;
let runs: FirestoreHaystackRunStore;
let objects: GcsObjectStore;
let catalog: AtlasCatalog;
let config: ReturnType<typeof loadConfig>;

beforeAll(async () => {
  dir = await tempDir('arc-hs-cancel-');
  gcs = new LocalGcsServer({ dataDir: join(dir.path, 'gcs') });
  const gcsUrl = await gcs.start();
  await gcs.createBucket(BUCKET);
  config = loadConfig({
    GOOGLE_CLOUD_PROJECT: uniqueProjectId('arc-hs-cancel'),
    FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
    STORAGE_EMULATOR_HOST: gcsUrl,
    RUNS_BUCKET: BUCKET,
  });
  runs = new FirestoreHaystackRunStore(createFirestore(config));
  objects = new GcsObjectStore(createStorage(config), BUCKET);
  batch = new LocalBatch({
    command: [process.execPath, '-e', 'process.exit(2)'],
    programs: [
      {
        image: 'stack-inference',
        command: [
          process.execPath,
          '--import',
          'tsx',
          join(root, 'orchestrator', 'haystack', 'stack-standin.ts'),
        ],
      },
    ],
    env: { STORAGE_EMULATOR_HOST: gcsUrl, GOOGLE_CLOUD_PROJECT: config.project },
    publish: () => {},
    logDir: join(dir.path, 'batch-logs'),
    queuedMs: 10,
    scheduledMs: 10,
    killGraceMs: 500,
  });
  catalog = new AtlasCatalog(Object.fromEntries(DATASETS.map((d) => [d, generateDataset(d, 0)])));
});
afterAll(async () => {
  await batch?.shutdown();
  await gcs?.stop();
  await dir?.remove();
});

/** Cancels the run as the API does: through the lifecycle, from outside the agent. */
const cancel = (runId: string) =>
  runs.apply(runId, { to: 'cancelled', at: new Date().toISOString(), source: 'api', detail: 'test' });

async function newRun(): Promise<HaystackRun> {
  const run = newHaystackRun({
    run_id: `hs-${randomUUID().replace(/-/g, '').slice(0, 12)}`,
    user_email: 'alice@example.com',
    request: {
      query: 'How would lung fibroblasts respond to interferon gamma?',
      control_strategy: 'synthetic_control',
      max_iterations: 1,
      score_threshold: 7,
    },
    created_at: new Date().toISOString(),
    bucket: BUCKET,
    batch_request_id: randomUUID(),
    model: 'stack-standin',
  });
  await runs.create({
    ...run,
    batch_job_name: `${batchParent(config.project, config.region)}/jobs/haystack-${run.run_id}`,
  });
  return run;
}

type Point = 'reading the question' | 'choosing a prompt' | 'a model job' | 'scoring' | 'writing the outputs';

/** The agent's dependencies, with `point` wired to cancel the run when the agent gets there. */
function agentDeps(runId: string, point: Point | null, created: string[]): AnswerDeps {
  const atPhase =
    (phase: string): HaystackRunStore['update'] =>
    async (id, change) => {
      const after = await runs.update(id, change);
      if (after?.current_phase === phase) await cancel(runId);
      return after;
    };
  const store: HaystackRunStore = {
    create: (run) => runs.create(run),
    get: (id) => runs.get(id),
    list: (filter, page) => runs.list(filter, page),
    findStale: (query) => runs.findStale(query),
    apply: (id, events) => runs.apply(id, events),
    setFields: (id, fields) => runs.setFields(id, fields),
    update:
      point === 'choosing a prompt'
        ? atPhase('prompt_generation')
        : point === 'scoring'
          ? atPhase('evaluation')
          : (id, change) => runs.update(id, change),
  };
  const jobs: JobRunner = {
    createJob: async (input) => {
      const job = await batch.createJob(input);
      created.push(job.name);
      if (point === 'a model job') await cancel(runId);
      return job;
    },
    getJob: (name) => batch.getJob(name),
    cancelJob: (name) => batch.cancelJob(name),
  };
  let outputs = 0;
  const bucket: ObjectStore = Object.create(objects, {
    write: {
      value: async (...args: Parameters<ObjectStore['write']>) => {
        await objects.write(...args);
        if (point === 'writing the outputs' && args[0].includes('/results/') && ++outputs === 1)
          await cancel(runId);
      },
    },
  });
  const files = new H5wasmAnnDataFiles();
  return {
    runs: store,
    objects: bucket,
    files,
    catalog,
    interpreter: async (): Promise<QueryInterpreter> => {
      const rules = new RuleBasedInterpreter();
      return {
        kind: rules.kind,
        interpret: async (query, dataset) => {
          if (point === 'reading the question') await cancel(runId);
          return rules.interpret(query, dataset);
        },
      };
    },
    model: (progress) =>
      new BatchPredictionModel({
        runId,
        jobs,
        objects: bucket,
        files,
        parent: batchParent(config.project, config.region),
        settings: {
          inferenceImage: 'stack-inference',
          gpuMachineType: 'a3-highgpu-1g',
          gpuAccelerator: 'nvidia-h100-80gb',
          serviceAccount: 'hs@example.com',
          environment: {},
        },
        pollMs: 50,
        cancelled: progress.cancelled,
      }),
    clock: systemClock,
    seed: 0,
    log: () => {},
  };
}

const results = async (runId: string) => (await objects.list(haystackPaths(runId).results, 10)).objects;

describe('a HAYSTACK run cancelled while its agent works', () => {
  it.each<Point>([
    'reading the question',
    'choosing a prompt',
    'a model job',
    'scoring',
    'writing the outputs',
  ])(
    'ends cancelled with no results when cancelled during %s, and no model job left going',
    async (point) => {
      const run = await newRun();
      const created: string[] = [];
      const outcome = await answerRun(agentDeps(run.run_id, point, created), run.run_id);
      expect(outcome).toEqual({ exitCode: 0, ended: 'cancelled' });
      expect(await runs.get(run.run_id)).toMatchObject({
        status: 'cancelled',
        termination_reason: 'cancelled',
        current_phase: null,
        final_score: null,
        best: null,
      });
      expect(await results(run.run_id)).toEqual([]);
      if (point === 'a model job' || point === 'scoring' || point === 'writing the outputs')
        expect(created.length).toBeGreaterThan(0);
      for (const name of created) {
        await expect
          .poll(async () => isJobEnded((await batch.getJob(name))?.status.state ?? 'CANCELLED'), {
            timeout: 10_000,
          })
          .toBe(true);
        // Cancelled while it ran, the model job was stopped, not run to its end.
        if (point === 'a model job') expect((await batch.getJob(name))?.status.state).toBe('CANCELLED');
      }
    },
    60_000,
  );

  it('stays completed with its results when the cancel comes after the answer', async () => {
    const run = await newRun();
    const outcome = await answerRun(agentDeps(run.run_id, null, []), run.run_id);
    expect(outcome).toEqual({ exitCode: 0, ended: 'completed' });
    await cancel(run.run_id);
    expect(await runs.get(run.run_id)).toMatchObject({ status: 'completed', current_phase: null });
    expect((await results(run.run_id)).length).toBe(3);
  }, 60_000);
});
