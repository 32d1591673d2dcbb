import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FirestoreRunStore } from '../../../functions/adapters/firestore-run-store';
import { loadConfig } from '../../../functions/config';
import { liveChunkName, runPaths } from '../../../functions/core/shared/bucket-layout';
import { RUN_STATUS_CHANGED } from '../../../functions/core/shared/run-events';
import { createFirestore } from '../../../functions/deps';
import { buildFunctions, formatBytes } from '../../build';
import { serveBatch } from '../../local/grpc/batch-service';
import { LocalBatch } from '../../local/local-batch';
import {
  type Backends,
  benchRunRecord,
  median,
  ms,
  root,
  startFunction,
  stopChild,
  writeBareFirestoreFunction,
} from '../harness';

const ROUNDS = 5;
const USER = 'bench@example.com';
const PROJECT = 'arc-bench-cold';

/** A request that makes a function do its real work once: read Firestore, and answer. */
interface FirstRequest {
  label: string;
  path: string;
  init?: RequestInit;
}

const cloudEvent = (type: string, data: unknown): RequestInit => ({
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': randomUUID(),
    'ce-type': type,
    'ce-source': '//bench',
  },
  body: JSON.stringify(data),
});
const PUBSUB = 'google.cloud.pubsub.topic.v1.messagePublished';
const pubsub = (attributes: Record<string, string>, data = '') => ({
  message: { attributes, data: Buffer.from(data).toString('base64'), messageId: '1' },
  subscription: 'projects/p/subscriptions/s',
});
const post = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/**
 * Each function's first requests. The liveness route where a function has one; then one that
 * reads Firestore (a run list, or a run the step and event functions look up), as a real
 * first request does. The step functions are asked about a finished run, which they answer
 * from Firestore alone (409 for prepare; the run's state for reconcile).
 */
function firstRequests(runId: string, jobName: string): Record<string, FirstRequest[]> {
  const statusEvent = {
    specversion: '1.0',
    id: `${runId}/completed`,
    source: `//arcreactor/projects/${PROJECT}/runs`,
    type: RUN_STATUS_CHANGED,
    subject: runId,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: {
      run_id: runId,
      kind: 'nextflow',
      from: 'running',
      to: 'completed',
      at: new Date().toISOString(),
      user_email: USER,
      pipeline: 'nf-core/scrnaseq',
      pipeline_version: '4.0.0',
      labels: {},
      created_at: new Date().toISOString(),
      duration_seconds: 60,
      error_message: null,
      error_task: null,
    },
  };
  return {
    api: [
      { label: 'GET /api/health', path: '/api/health' },
      { label: 'GET /api/runs', path: '/api/runs' },
    ],
    haystack: [
      { label: 'GET /api/v1/health', path: '/api/v1/health' },
      { label: 'GET /api/v1/runs', path: '/api/v1/runs' },
    ],
    prepareRun: [{ label: 'POST a finished run', path: '/', init: post({ run_id: runId }) }],
    reconcileRun: [
      {
        label: 'POST a finished run',
        path: '/',
        init: post({ run_id: runId, phase: 'error', error: { message: 'bench' } }),
      },
    ],
    sweepStaleRuns: [{ label: 'POST (a sweep)', path: '/', init: post({}) }],
    onBatchJobEvent: [
      {
        label: 'a job state change (Batch read)',
        path: '/',
        init: cloudEvent(PUBSUB, pubsub({ JobName: jobName, NewJobState: 'RUNNING', Region: 'us-central1' })),
      },
    ],
    onRunArtifact: [
      {
        label: 'a live trace chunk (read from Cloud Storage)',
        path: '/',
        init: cloudEvent('google.cloud.storage.object.v1.finalized', {
          bucket: 'arc-bench-runs',
          name: `${runPaths('arc-bench-runs', runId).logs}${liveChunkName('trace', 1, 1)}`,
          generation: '1',
          size: '10',
        }),
      },
    ],
    onRunEvent: [
      {
        label: 'a run status event (preferences read)',
        path: '/',
        init: cloudEvent(PUBSUB, pubsub({ type: RUN_STATUS_CHANGED }, JSON.stringify(statusEvent))),
      },
    ],
  };
}

/** Bytes of every .js file a function's folder holds (index.js and its lazily loaded chunks). */
async function jsBytes(dir: string): Promise<{ index: number; chunks: number; gzip: number }> {
  const index = await readFile(join(dir, 'index.js'));
  let chunks = 0;
  for (const file of await readdir(join(dir, 'chunks')).catch(() => [] as string[]))
    if (file.endsWith('.js')) chunks += (await readFile(join(dir, 'chunks', file))).length;
  return { index: index.length, chunks, gzip: gzipSync(index).length };
}

/**
 * Issue 22's cold-start goal, for every deployed function: spawn → the first answer to each of
 * its first requests (a fresh process for each), against a bare Functions Framework
 * hello-world spawned alternately with it; the median of ROUNDS. And each bundle's size.
 */
export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log('\n== cold starts: every function, spawn → first answer, against a bare hello-world');
  const built = await buildFunctions(join(root, '.bench', 'functions'));
  const helloDir = join(root, '.bench', 'hello');
  await mkdir(helloDir, { recursive: true });
  await writeFile(join(helloDir, 'package.json'), JSON.stringify({ type: 'module', main: 'index.js' }));
  await writeFile(
    join(helloDir, 'index.js'),
    "import * as functions from '@google-cloud/functions-framework';\nfunctions.http('hello', (req, res) => res.send('ok'));\n",
  );

  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: PROJECT,
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    RUNS_BUCKET: backends.bucket,
  });
  const runId = `run-c01d${randomUUID().replace(/-/g, '').slice(0, 8)}`;
  const store = new FirestoreRunStore(createFirestore(config));
  await store.create(benchRunRecord(config.runsBucket, { run_id: runId }));
  await store.apply(runId, { to: 'cancelled', at: new Date().toISOString(), source: 'api' });

  const batch = new LocalBatch({
    command: [process.execPath, '-e', 'process.exit(0)'],
    env: {},
    publish: () => {},
    logDir: join(root, '.bench', 'batch-logs'),
  });
  const batchService = await serveBatch(batch);
  const env = {
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    STORAGE_EMULATOR_HOST: backends.gcsUrl,
    PUBSUB_EMULATOR_HOST: backends.pubsub.host,
    BATCH_EMULATOR_HOST: batchService.host,
    RUNS_BUCKET: backends.bucket,
    GOOGLE_CLOUD_PROJECT: PROJECT,
    AUTH_MODE: 'dev',
    DEV_USER_EMAIL: USER,
    RATE_LIMIT_READS_PER_MINUTE: '0',
  };
  const requests = firstRequests(runId, `projects/${PROJECT}/locations/us-central1/jobs/nf-${runId}`);

  const bareDir = join(root, '.bench', 'bare-firestore');
  await writeBareFirestoreFunction(bareDir, USER);
  const bareEnv = { FIRESTORE_EMULATOR_HOST: backends.emulator.host, GOOGLE_CLOUD_PROJECT: PROJECT };
  const bareFirestore: number[] = [];
  const hello: number[] = [];
  const measured: Record<string, Record<string, number[]>> = {};
  const statuses: Record<string, Record<string, number>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    // The floor for GET /api/runs: the same Firestore reads behind a bare function.
    const bare = await startFunction(bareDir, 'bare', bareEnv, [], { path: '/runs' });
    bareFirestore.push(bare.startMs);
    await stopChild(bare.child);
    for (const fn of built) {
      for (const request of requests[fn.name] ?? []) {
        // Alternate with the hello-world, so that disk cache and CPU state favour neither side.
        const bare = await startFunction(helloDir, 'hello', {});
        hello.push(bare.startMs);
        await stopChild(bare.child);
        const started = await startFunction(fn.dir, fn.name, env, [], request);
        const times = measured[fn.name] ?? {};
        measured[fn.name] = times;
        times[request.label] = [...(times[request.label] ?? []), started.startMs];
        statuses[fn.name] = { ...statuses[fn.name], [request.label]: started.status };
        await stopChild(started.child);
      }
    }
  }
  await batchService.stop();
  await batch.shutdown();

  const helloMs = median(hello);
  const bareMs = median(bareFirestore);
  console.log(`bare Functions Framework hello-world: ${ms(helloMs)} (median of ${hello.length})`);
  console.log(
    `bare function reading Firestore as GET /api/runs does: ${ms(bareMs)} (median of ${bareFirestore.length})`,
  );
  const functions: Record<string, unknown> = {};
  let worst = { name: '', label: '', ratio: 0 };
  for (const fn of built) {
    const bytes = await jsBytes(fn.dir);
    const firsts: Record<string, { ms: number; ratio: number; status: number }> = {};
    for (const [label, times] of Object.entries(measured[fn.name] ?? {})) {
      const ratio = median(times) / helloMs;
      firsts[label] = { ms: median(times), ratio, status: statuses[fn.name]![label]! };
      if (fn.name !== 'api' && ratio > worst.ratio) worst = { name: fn.name, label, ratio };
    }
    functions[fn.name] = {
      index_bytes: bytes.index,
      index_gzip_bytes: bytes.gzip,
      lazy_chunk_bytes: bytes.chunks,
      first: firsts,
    };
    console.log(
      `${fn.name.padEnd(21)} index.js ${formatBytes(bytes.index).padStart(9)} (${formatBytes(bytes.gzip)} gzip, ` +
        `${formatBytes(bytes.chunks)} loaded on first use)  ` +
        Object.entries(firsts)
          .map(([label, f]) => `${label} → ${f.status} in ${ms(f.ms)} (${f.ratio.toFixed(2)}×)`)
          .join(';  '),
    );
  }
  const apiRuns = median(measured.api?.['GET /api/runs'] ?? []);
  console.log(
    `api cold start to GET /api/runs ÷ the bare Firestore function: ${(apiRuns / bareMs).toFixed(2)}×`,
  );
  return {
    hello_world_ms: helloMs,
    bare_firestore_ms: bareMs,
    api_runs_over_bare_firestore: apiRuns / bareMs,
    rounds: ROUNDS,
    functions,
    slowest_other: worst,
  };
}
