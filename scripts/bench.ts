/**
 * `npm run bench`: speed and size figures, reported as ratios and counts against a
 * baseline measured in the same run. `npm run bench -- --only=api` runs one section.
 * Results are printed and written to .bench/results.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Firestore, WriteBatch } from '@google-cloud/firestore';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { parse as parseCsv } from 'csv-parse/sync';
import { FirestoreRunStore } from '../functions/adapters/firestore-run-store';
import { GcsObjectStore } from '../functions/adapters/gcs-object-store';
import { loadConfig } from '../functions/config';
import { TRACE_FIELDS } from '../functions/core/nextflow/nextflow-config';
import { parseTrace } from '../functions/core/nextflow/trace';
import { newRunRecord } from '../functions/core/runs/run-service';
import type { ObjectStore } from '../functions/core/shared/ports';
import { createApiDeps, createExecutionDeps, createFirestore, createStorage } from '../functions/deps';
import { createRunArtifactHandler } from '../functions/events/event-handlers';
import { createApiHandler } from '../functions/http/api-app';
import { memoryLogger } from '../functions/logging';
import { formatDuration, formatMemory, formatTimestamp } from '../orchestrator/src/replay/format';
import { buildFunctions, buildOrchestrator, buildWeb, formatBytes } from './build';
import { launchChromium } from './lib/chromium';
import { type RunningEmulator, startFirestoreEmulator } from './lib/firestore-emulator';
import { AUDIENCE, iapHeaders, iapToken, signingKey, startJwks } from './lib/iap-keys';
import { freePort, waitFor, waitForValue } from './lib/net';
import type { StoredObject } from './local/gcs-server';
import { LocalGcsServer } from './local/gcs-server';
import { serveWorkflows } from './local/grpc/workflows-service';
import { LocalBatch } from './local/local-batch';
import { LocalWorkflows } from './local/local-workflows';
import { type RunningStack, startLocalStack } from './local/stack';
import { EXAMPLE_FASTQS, startDemoWarehouse } from './local/warehouse';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const results: Record<string, unknown> = {};

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

const median = (values: number[]) => percentile(values, 50);
const ms = (n: number) => `${n.toFixed(1)} ms`;

interface Backends {
  emulator: RunningEmulator;
  gcs: LocalGcsServer;
  gcsUrl: string;
  bucket: string;
}

async function startBackends(): Promise<Backends> {
  const emulator = await startFirestoreEmulator();
  const gcs = new LocalGcsServer({ dataDir: join(root, '.bench', 'gcs') });
  const gcsUrl = await gcs.start();
  const bucket = 'arc-bench-runs';
  await gcs.createBucket(bucket);
  // The FASTQs the api section's launches name: run creation checks they exist.
  for (let i = 0; i < 8; i++) {
    for (const read of [1, 2])
      await gcs.putObject('b', `S${i}_R${read}.fastq.gz`, 'fastq', 'application/gzip');
  }
  return { emulator, gcs, gcsUrl, bucket };
}

async function startFunction(
  source: string,
  target: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; startMs: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(
    join(root, 'node_modules', '.bin', 'functions-framework'),
    [`--target=${target}`, `--source=${source}`, `--port=${port}`],
    {
      env: { ...process.env, NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const path = target === 'api' ? '/api/health' : '/';
  await waitFor(async () => (await fetch(`${url}${path}`).catch(() => null))?.status === 200, {
    timeoutMs: 30_000,
    intervalMs: 5,
    what: `${target} to answer on ${path}`,
  });
  return { child, url, startMs: performance.now() - started };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await gone;
}

async function benchApi(backends: Backends): Promise<void> {
  console.log('\n== api function');
  const [api] = await buildFunctions(join(root, '.bench', 'functions'));
  const bundle = await readFile(join(api!.dir, 'index.js'));
  const gzipped = gzipSync(bundle).length;
  console.log(`bundle: ${formatBytes(bundle.length)} (${formatBytes(gzipped)} gzip)`);

  const helloDir = join(root, '.bench', 'hello');
  await mkdir(helloDir, { recursive: true });
  await writeFile(join(helloDir, 'package.json'), JSON.stringify({ type: 'module', main: 'index.js' }));
  await writeFile(
    join(helloDir, 'index.js'),
    "import * as functions from '@google-cloud/functions-framework';\nfunctions.http('hello', (req, res) => res.send('ok'));\n",
  );

  // Launches start a workflow execution: the Workflows twin over gRPC, holding each at its
  // first step (the POST is measured, not the run).
  const batch = new LocalBatch({
    command: [process.execPath, '-e', 'process.exit(0)'],
    env: {},
    publish: () => {},
    logDir: join(root, '.bench', 'batch-logs'),
  });
  const workflows = new LocalWorkflows({
    definitionPath: join(root, 'workflows', 'run-pipeline.workflows.yaml'),
    jobs: batch,
    holdAll: true,
  });
  const workflowsService = await serveWorkflows(workflows);
  const env = {
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    STORAGE_EMULATOR_HOST: backends.gcsUrl,
    WORKFLOWS_EMULATOR_HOST: workflowsService.host,
    RUNS_BUCKET: backends.bucket,
    GOOGLE_CLOUD_PROJECT: 'arc-bench',
    AUTH_MODE: 'dev',
    DEV_USER_EMAIL: 'bench@example.com',
    RATE_LIMIT_LAUNCHES_PER_MINUTE: '0',
    RATE_LIMIT_READS_PER_MINUTE: '0',
  };
  const rounds = 7;
  const apiStarts: number[] = [];
  const helloStarts: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate so that disk cache and CPU state favour neither side.
    const hello = await startFunction(helloDir, 'hello', {});
    helloStarts.push(hello.startMs);
    await stopChild(hello.child);
    const fn = await startFunction(api!.dir, 'api', env);
    apiStarts.push(fn.startMs);
    await stopChild(fn.child);
  }
  const coldRatio = median(apiStarts) / median(helloStarts);
  console.log(
    `cold start (spawn → first 200 on /api/health), median of ${rounds}: api ${ms(median(apiStarts))}, ` +
      `hello-world ${ms(median(helloStarts))} → ratio ${coldRatio.toFixed(2)}×`,
  );

  const fn = await startFunction(api!.dir, 'api', env);
  const body = JSON.stringify({
    pipeline: 'nf-core/scrnaseq',
    pipeline_version: '4.0.0',
    samplesheet_csv: `sample,fastq_1,fastq_2,expected_cells\n${Array.from({ length: 8 }, (_, i) => `S${i},gs://b/S${i}_R1.fastq.gz,gs://b/S${i}_R2.fastq.gz,5000`).join('\n')}\n`,
    params: { aligner: 'star', protocol: '10XV3' },
  });
  const requests = 500;
  const createTimes: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    const response = await fetch(`${fn.url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const json = (await response.json()) as { run_id: string };
    createTimes.push(performance.now() - t);
    if (response.status !== 201) throw new Error(`create answered ${response.status}`);
    ids.push(json.run_id);
  }
  const getTimes: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    const response = await fetch(`${fn.url}/api/runs/${ids[i % ids.length]}`);
    await response.arrayBuffer();
    getTimes.push(performance.now() - t);
    if (response.status !== 200) throw new Error(`get answered ${response.status}`);
  }
  await stopChild(fn.child);
  for (const execution of workflows.list()) workflows.cancel(execution.name);
  await workflowsService.stop();
  await batch.shutdown();
  console.log(
    `POST /api/runs  over ${requests}: p50 ${ms(percentile(createTimes, 50))}, p95 ${ms(percentile(createTimes, 95))}`,
  );
  console.log(
    `GET /api/runs/{id} over ${requests}: p50 ${ms(percentile(getTimes, 50))}, p95 ${ms(percentile(getTimes, 95))}`,
  );
  results.api = {
    bundle_bytes: bundle.length,
    bundle_gzip_bytes: gzipped,
    cold_start_ms: { api: median(apiStarts), hello_world: median(helloStarts), ratio: coldRatio, rounds },
    create_ms: { p50: percentile(createTimes, 50), p95: percentile(createTimes, 95), n: requests },
    get_ms: { p50: percentile(getTimes, 50), p95: percentile(getTimes, 95), n: requests },
  };
}

/** nextflow.log line times (real time): the replayed pipeline's own span. */
function logSpanMs(log: string): number {
  const times = [...log.matchAll(/^([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})/gm)].map((m) =>
    Date.UTC(2000, 0, 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
  );
  return times.length > 1 ? times.at(-1)! - times[0]! : 0;
}

/** A local stack on the shared emulator, replaying at the default speed. */
async function benchStack(backends: Backends, name: string): Promise<RunningStack> {
  const orchestrator = await buildOrchestrator(join(root, '.bench', 'orchestrator'));
  return startLocalStack({
    dataDir: join(root, '.bench', `stack-${name}`),
    fresh: true,
    port: 0,
    orchestratorDir: orchestrator.dir,
    logger: memoryLogger(),
    warehouse: 'none',
    env: {
      FIRESTORE_EMULATOR_HOST: backends.emulator.host,
      GOOGLE_CLOUD_PROJECT: `arc-bench-${name}`,
      WORKFLOW_POLL_SECONDS: '1',
      CHUNK_INTERVAL_SECONDS: '1',
    },
  });
}

/** Two samples whose FASTQs every local stack has (the README example's). */
const BENCH_RUN = {
  pipeline: 'nf-core/scrnaseq',
  samplesheet_csv: `sample,fastq_1,fastq_2\nS1,${EXAMPLE_FASTQS[0]},${EXAMPLE_FASTQS[1]}\nS2,${EXAMPLE_FASTQS[2]},${EXAMPLE_FASTQS[3]}\n`,
  params: { aligner: 'star', protocol: '10XV3' },
};

interface FinishedRun {
  run_id: string;
  status: string;
  /** POST to a final status, wall clock. */
  wall_ms: number;
  /** First to last line of the run's nextflow.log: the replayed pipeline alone. */
  pipeline_ms: number;
}

/** POSTs to `path` (a launch or a recovery) and polls the run until it is final. */
async function runToEnd(stack: RunningStack, path: string, body: unknown): Promise<FinishedRun> {
  const started = performance.now();
  const response = await fetch(`${stack.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const created = (await response.json()) as { run_id: string };
  if (response.status !== 201)
    throw new Error(`POST ${path} answered ${response.status}: ${JSON.stringify(created)}`);
  let status = 'pending';
  while (!['completed', 'failed', 'cancelled'].includes(status)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    status = ((await (await fetch(`${stack.url}/api/runs/${created.run_id}`)).json()) as { status: string })
      .status;
  }
  const wall = performance.now() - started;
  const log = await waitForValue(
    async () => {
      try {
        const [content] = await createStorage(stack.config)
          .bucket(stack.config.runsBucket)
          .file(`runs/${created.run_id}/logs/nextflow.log`)
          .download();
        return content.toString('utf8');
      } catch {
        return null;
      }
    },
    { timeoutMs: 10_000, what: `the nextflow.log of ${created.run_id}` },
  );
  return { run_id: created.run_id, status, wall_ms: wall, pipeline_ms: logSpanMs(log) };
}

async function benchExecution(backends: Backends): Promise<void> {
  console.log('\n== execution (local stack, replay executor)');
  const stack = await benchStack(backends, 'exec');
  try {
    const rounds = 3;
    const totals: number[] = [];
    const pipelines: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const run = await runToEnd(stack, '/api/runs', BENCH_RUN);
      if (run.status !== 'completed') throw new Error(`bench run ended ${run.status}`);
      totals.push(run.wall_ms);
      pipelines.push(run.pipeline_ms);
    }
    const total = median(totals);
    const pipeline = median(pipelines);
    console.log(
      `submit → completed, median of ${rounds}: ${ms(total)}; replayed pipeline ${ms(pipeline)}; platform ${ms(total - pipeline)} = ${(((total - pipeline) / total) * 100).toFixed(1)}% (workflow steps, job start, event handling, uploads)`,
    );

    // onBatchJobEvent throughput: notifications for the finished runs, sequentially and
    // 8 at a time (the latter contends on the same few run documents, as a burst would).
    const runs = (
      (await (await fetch(`${stack.url}/api/runs?page_size=100`)).json()) as {
        runs: { batch_job_name: string }[];
      }
    ).runs;
    const deliver = async (events: number, concurrency: number): Promise<number> => {
      let next = 0;
      const startedEvents = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < events) {
            const i = next++;
            const response = await fetch(`${stack.functionsUrl}/onBatchJobEvent`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'ce-specversion': '1.0',
                'ce-id': `bench-${concurrency}-${i}`,
                'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
                'ce-source': '//bench',
              },
              body: JSON.stringify({
                message: {
                  attributes: { JobName: runs[i % runs.length]!.batch_job_name, NewJobState: 'SUCCEEDED' },
                  data: '',
                },
              }),
            });
            if (response.status !== 204) throw new Error(`onBatchJobEvent answered ${response.status}`);
          }
        }),
      );
      return events / ((performance.now() - startedEvents) / 1000);
    };
    const sequential = await deliver(200, 1);
    const concurrent = await deliver(400, 8);
    console.log(
      `onBatchJobEvent (reads the job from the Batch twin, one conditional Firestore commit): ${sequential.toFixed(0)} events/s one at a time; ` +
        `${concurrent.toFixed(0)} events/s 8 at a time over ${runs.length} runs`,
    );
    results.execution = {
      submit_to_completed_ms: total,
      replayed_pipeline_ms: pipeline,
      platform_share: (total - pipeline) / total,
      rounds,
      batch_events_per_second: { sequential, concurrent_8: concurrent, runs: runs.length },
    };
  } finally {
    await stack.stop();
  }
}

/** A realistic trace of `count` tasks in the platform's trace fields. */
function generateTrace(count: number): string {
  const fields = TRACE_FIELDS;
  const processes = [
    'FASTQC',
    'STAR_ALIGN',
    'MTX_TO_H5AD',
    'CELLBENDER_REMOVEBACKGROUND',
    'ANNDATA_BARCODES',
  ].map((p) => `NFCORE_SCRNASEQ:SCRNASEQ:${p}`);
  const lines = [fields.join('\t')];
  const start = Date.UTC(2026, 10, 1, 8);
  for (let i = 1; i <= count; i++) {
    const process = processes[i % processes.length]!;
    const hash = createHash('md5').update(String(i)).digest('hex');
    const realtime = 30_000 + ((i * 7919) % 3_000_000);
    const submit = start + i * 1_000;
    const status = i % 97 === 0 ? 'FAILED' : i % 13 === 0 ? 'CACHED' : 'COMPLETED';
    const values: Record<string, string> = {
      task_id: String(i),
      hash: `${hash.slice(0, 2)}/${hash.slice(2, 8)}`,
      native_id: `nf-${hash.slice(0, 8)}-${submit}`,
      process,
      tag: `SAMPLE_${i % 500}`,
      name: `${process} (SAMPLE_${i % 500})`,
      status,
      exit: status === 'FAILED' ? '1' : '0',
      cpus: String(1 + (i % 12)),
      memory: `${6 * (1 + (i % 6))} GB`,
      attempt: '1',
      submit: formatTimestamp(submit),
      start: formatTimestamp(submit + 20_000),
      complete: formatTimestamp(submit + 20_000 + realtime),
      duration: formatDuration(20_000 + realtime),
      realtime: formatDuration(realtime),
      '%cpu': `${(90 + (i % 900)).toFixed(1)}%`,
      '%mem': `${(i % 50).toFixed(1)}%`,
      peak_rss: formatMemory(200 * 1024 * 1024 + ((i * 104729) % (30 * 1024 ** 3))),
      peak_vmem: formatMemory(300 * 1024 * 1024 + ((i * 104729) % (40 * 1024 ** 3))),
      rchar: formatMemory((i * 15485863) % (20 * 1024 ** 3)),
      wchar: formatMemory((i * 32452843) % (5 * 1024 ** 3)),
      read_bytes: formatMemory((i * 15485863) % (20 * 1024 ** 3)),
      write_bytes: formatMemory((i * 32452843) % (5 * 1024 ** 3)),
      workdir: `gs://arc-bench-runs/work/run-bench0000001/${hash.slice(0, 2)}/${hash.slice(2)}`,
      error_action: status === 'FAILED' ? 'TERMINATE' : '-',
    };
    lines.push(fields.map((f) => values[f] ?? '-').join('\t'));
  }
  return `${lines.join('\n')}\n`;
}

/** An ObjectStore that counts the bytes it reads (a decorator; every call goes to the real store). */
class CountingObjectStore implements ObjectStore {
  bytesRead = 0;
  constructor(private readonly inner: ObjectStore) {}
  get bucket() {
    return this.inner.bucket;
  }
  write(name: string, content: string | Uint8Array, contentType: string) {
    return this.inner.write(name, content, contentType);
  }
  async read(name: string) {
    const content = await this.inner.read(name);
    this.bytesRead += content.length;
    return content;
  }
  async readGeneration(name: string, generation: string) {
    const content = await this.inner.readGeneration(name, generation);
    this.bytesRead += content?.length ?? 0;
    return content;
  }
  async readRange(name: string, start: number, end: number) {
    const content = await this.inner.readRange(name, start, end);
    this.bytesRead += content.length;
    return content;
  }
  readStream(name: string) {
    return this.inner.readStream(name);
  }
  exists(name: string) {
    return this.inner.exists(name);
  }
  stat(name: string) {
    return this.inner.stat(name);
  }
  list(prefix: string, limit: number) {
    return this.inner.list(prefix, limit);
  }
  signedUrl(name: string, expires: number, downloadName?: string) {
    return this.inner.signedUrl(name, expires, downloadName);
  }
  ping() {
    return this.inner.ping();
  }
}

/** Counts the document writes and commits made through a Firestore client (wraps batch() and runTransaction()). */
function countWrites(db: Firestore): { writes: number; commits: number; transactions: number } {
  const counts = { writes: 0, commits: 0, transactions: 0 };
  const batch = db.batch.bind(db);
  db.batch = () => {
    const b = batch();
    for (const method of ['create', 'set', 'update', 'delete'] as const) {
      const original = b[method].bind(b) as (...args: unknown[]) => WriteBatch;
      (b as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        counts.writes++;
        return original(...args);
      };
    }
    const commit = b.commit.bind(b);
    b.commit = () => {
      counts.commits++;
      return commit();
    };
    return b;
  };
  const runTransaction = db.runTransaction.bind(db) as (
    fn: (tx: unknown) => Promise<unknown>,
  ) => Promise<unknown>;
  (db as unknown as { runTransaction: unknown }).runTransaction = (fn: (tx: unknown) => Promise<unknown>) => {
    counts.transactions++;
    return runTransaction(fn);
  };
  return counts;
}

async function benchMonitoring(backends: Backends): Promise<void> {
  console.log('\n== monitoring (100,000-task trace)');
  const trace = generateTrace(100_000);
  const traceBytes = Buffer.byteLength(trace);
  console.log(`generated trace: ${formatBytes(traceBytes)}`);

  const timeIt = (fn: () => unknown, rounds: number) => {
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const started = performance.now();
      fn();
      times.push(performance.now() - started);
    }
    return median(times);
  };
  const ours = timeIt(() => parseTrace(trace), 5);
  const csv = timeIt(
    () => parseCsv(trace, { delimiter: '\t', columns: true, quote: false, relax_column_count: true }),
    5,
  );
  console.log(
    `parse, median of 5: parseTrace ${ms(ours)} (${Math.round(100_000 / (ours / 1000)).toLocaleString('en')} rows/s, typed values) vs csv-parse ${ms(csv)} (strings only) → ${(csv / ours).toFixed(2)}× csv-parse's speed`,
  );

  // Ingest the trace as 200 live chunks through the onRunArtifact function, as Eventarc would deliver them.
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: 'arc-bench-monitor',
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    STORAGE_EMULATOR_HOST: backends.gcsUrl,
    RUNS_BUCKET: backends.bucket,
    AUTH_MODE: 'dev',
    DEV_USER_EMAIL: 'bench@example.com',
    RATE_LIMIT_LAUNCHES_PER_MINUTE: '0',
    RATE_LIMIT_READS_PER_MINUTE: '0',
  });
  const db = createFirestore(config);
  const counts = countWrites(db);
  const objects = new CountingObjectStore(new GcsObjectStore(createStorage(config), config.runsBucket));
  const runs = new FirestoreRunStore(db);
  const runId = 'run-bench0000001';
  const now = new Date().toISOString();
  await runs.create({
    ...newRunRecord(config.runsBucket, {
      run_id: runId,
      pipeline: 'nf-core/scrnaseq',
      pipeline_version: '4.0.0',
      user_email: 'bench@example.com',
      user_name: 'bench',
      created_at: now,
      batch_request_id: randomUUID(),
      params: {},
      param_warnings: [],
      config_content: '',
      sample_count: 500,
      samples: [],
      source_ngs_runs: [],
      source_project: null,
      session_id: randomUUID(),
    }),
    status: 'running',
    submitted_at: now,
    started_at: now,
    executor: 'replay',
  });
  const [header, ...rows] = trace.trim().split('\n');
  const chunkCount = 200;
  const perChunk = Math.ceil(rows.length / chunkCount);
  const chunkObjects: StoredObject[] = [];
  for (let i = 0; i < chunkCount; i++) {
    const content = `${header}\n${rows.slice(i * perChunk, (i + 1) * perChunk).join('\n')}\n`;
    chunkObjects.push(
      await backends.gcs.putObject(
        config.runsBucket,
        `runs/${runId}/logs/live/trace.${String(i + 1).padStart(6, '0')}.tsv`,
        content,
        'text/tab-separated-values',
      ),
    );
  }
  const chunkBytes = chunkObjects.reduce((sum, o) => sum + Number(o.size), 0);
  const deps = createExecutionDeps(config, { runs, objects, logger: memoryLogger() });
  functions.cloudEvent('onRunArtifactBench', createRunArtifactHandler(deps));
  const server = getTestServer('onRunArtifactBench');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const before = { ...counts };
  const startedIngest = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < chunkObjects.length) {
        const object = chunkObjects[next++]!;
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'ce-specversion': '1.0',
            'ce-id': `bench-${object.name}`,
            'ce-type': 'google.cloud.storage.object.v1.finalized',
            'ce-source': '//bench',
            'ce-subject': `objects/${object.name}`,
          },
          body: JSON.stringify(object),
        });
        if (response.status >= 300) throw new Error(`onRunArtifact answered ${response.status}`);
      }
    }),
  );
  const ingestMs = performance.now() - startedIngest;
  const writes = counts.writes - before.writes;
  const commits = counts.commits - before.commits;
  const transactions = counts.transactions - before.transactions;
  const run = await runs.get(runId);
  if (run?.progress.completed === undefined) throw new Error('the bench run disappeared');
  console.log(
    `ingest 200 chunks through onRunArtifact (4 at a time): ${ms(ingestMs)}; Firestore per chunk: ${(writes / chunkCount).toFixed(2)} document writes in ${(commits / chunkCount).toFixed(2)} commits, ${(transactions / chunkCount).toFixed(2)} transactions; ` +
      `bytes read ${formatBytes(objects.bytesRead)} for ${formatBytes(chunkBytes)} of chunks (${(objects.bytesRead / chunkBytes).toFixed(3)}×)`,
  );
  console.log(
    `progress after ingest: completed ${run.progress.completed}, cached ${run.progress.cached}, failed ${run.progress.failed} (of 100,000 rows)`,
  );
  server.closeAllConnections();
  server.close();

  // GET /tasks for a page of 100, against the same store.
  const api = createApiDeps(config, {
    runs,
    objects,
    logger: memoryLogger(),
    users: { signIn: async () => ({ role: 'user', event: 'cached' }) },
  });
  functions.http('apiBenchTasks', createApiHandler(api));
  const apiServer = getTestServer('apiBenchTasks');
  await new Promise<void>((resolve) => apiServer.listen(0, '127.0.0.1', resolve));
  const apiUrl = `http://127.0.0.1:${(apiServer.address() as AddressInfo).port}`;
  const first = performance.now();
  const cold = await fetch(`${apiUrl}/api/runs/${runId}/tasks?page_size=100`);
  if (cold.status !== 200) throw new Error(`GET /tasks answered ${cold.status}: ${await cold.text()}`);
  await cold.arrayBuffer();
  const coldMs = performance.now() - first;
  const sorts = ['task_id', 'realtime', 'peak_rss', 'cpu_percent'];
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    const response = await fetch(
      `${apiUrl}/api/runs/${runId}/tasks?page=${1 + (i % 50)}&page_size=100&sort=${sorts[i % sorts.length]}&order=${i % 2 ? 'desc' : 'asc'}${i % 5 === 0 ? '&status=FAILED' : ''}`,
    );
    await response.arrayBuffer();
    times.push(performance.now() - started);
  }
  apiServer.closeAllConnections();
  apiServer.close();
  console.log(
    `GET /tasks, page of 100 from 100,000 tasks: first request ${ms(coldMs)} (reads and parses the chunks), then p50 ${ms(percentile(times, 50))}, p95 ${ms(percentile(times, 95))} over 200 (sorted and filtered pages)`,
  );
  results.monitoring = {
    trace_bytes: traceBytes,
    parse_ms: { parse_trace: ours, csv_parse: csv, speed_vs_csv_parse: csv / ours },
    ingest: {
      chunks: chunkCount,
      ms: ingestMs,
      writes_per_chunk: writes / chunkCount,
      commits_per_chunk: commits / chunkCount,
      transactions_per_chunk: transactions / chunkCount,
      bytes_read: objects.bytesRead,
      chunk_bytes: chunkBytes,
    },
    tasks_page_ms: { first: coldMs, p50: percentile(times, 50), p95: percentile(times, 95) },
  };
}

async function benchRecovery(backends: Backends): Promise<void> {
  console.log('\n== recovery (local stack, replay executor): a resumed run against a first attempt');
  const stack = await benchStack(backends, 'recovery');
  try {
    const rounds = 2;
    const full: FinishedRun[] = [];
    const failed: FinishedRun[] = [];
    const resumed: FinishedRun[] = [];
    const shares: { tasks: number; realtime: number }[] = [];
    for (let i = 0; i < rounds; i++) {
      full.push(await runToEnd(stack, '/api/runs', BENCH_RUN));
      // Fails late (CELLBENDER_REMOVEBACKGROUND), then resumes with the cause removed.
      const broken = {
        ...BENCH_RUN,
        params: { ...BENCH_RUN.params, replay_fail_process: 'CELLBENDER_REMOVEBACKGROUND' },
      };
      const attempt = await runToEnd(stack, '/api/runs', broken);
      if (attempt.status !== 'failed') throw new Error(`the failing bench run ended ${attempt.status}`);
      failed.push(attempt);
      const recovery = await runToEnd(stack, `/api/runs/${attempt.run_id}/recover`, {
        override_params: { replay_fail_process: null },
      });
      if (recovery.status !== 'completed') throw new Error(`the recovery ended ${recovery.status}`);
      resumed.push(recovery);
      const tasks = await waitForValue(
        async () => {
          const page = (await (
            await fetch(`${stack.url}/api/runs/${recovery.run_id}/tasks?page_size=500`)
          ).json()) as {
            source: string;
            tasks: { status: string; realtime: number | null }[];
          };
          return page.source === 'final' ? page.tasks : null;
        },
        { timeoutMs: 10_000, what: 'the final trace of the recovery' },
      );
      const realtime = (list: typeof tasks) => list.reduce((sum, t) => sum + (t.realtime ?? 0), 0);
      const cached = tasks.filter((t) => t.status === 'CACHED');
      shares.push({ tasks: cached.length / tasks.length, realtime: realtime(cached) / realtime(tasks) });
    }
    const m = (list: FinishedRun[], key: 'wall_ms' | 'pipeline_ms') => median(list.map((r) => r[key]));
    const cachedTasks = median(shares.map((s) => s.tasks));
    const cachedRealtime = median(shares.map((s) => s.realtime));
    console.log(
      `median of ${rounds}: first attempt from scratch ${ms(m(full, 'wall_ms'))} (pipeline ${ms(m(full, 'pipeline_ms'))}); ` +
        `failed attempt ${ms(m(failed, 'wall_ms'))}; resumed ${ms(m(resumed, 'wall_ms'))} (pipeline ${ms(m(resumed, 'pipeline_ms'))})`,
    );
    console.log(
      `resumed / first attempt: wall ${(m(resumed, 'wall_ms') / m(full, 'wall_ms')).toFixed(2)}×, pipeline ${(m(resumed, 'pipeline_ms') / m(full, 'pipeline_ms')).toFixed(2)}×; ` +
        `cached share of the resumed run: ${(cachedTasks * 100).toFixed(0)}% of tasks, ${(cachedRealtime * 100).toFixed(0)}% of recorded task time ` +
        `(expected pipeline ratio ≈ 1 − the cached share on the critical path)`,
    );
    results.recovery = {
      rounds,
      first_attempt_ms: m(full, 'wall_ms'),
      first_attempt_pipeline_ms: m(full, 'pipeline_ms'),
      failed_attempt_ms: m(failed, 'wall_ms'),
      resumed_ms: m(resumed, 'wall_ms'),
      resumed_pipeline_ms: m(resumed, 'pipeline_ms'),
      cached_task_share: cachedTasks,
      cached_realtime_share: cachedRealtime,
    };
  } finally {
    await stack.stop();
  }
}

async function benchSecurity(backends: Backends): Promise<void> {
  console.log('\n== security: IAP JWT verification against the development identity');
  const [api] = await buildFunctions(join(root, '.bench', 'functions'));
  const key = await signingKey('bench-key');
  const jwks = await startJwks([key]);
  const common = {
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    STORAGE_EMULATOR_HOST: backends.gcsUrl,
    RUNS_BUCKET: backends.bucket,
    GOOGLE_CLOUD_PROJECT: 'arc-bench-security',
    USER_TOUCH_INTERVAL_SECONDS: '3600',
    RATE_LIMIT_READS_PER_MINUTE: '0',
  };
  const requests = 2_000;
  const measure = async (env: Record<string, string>, headers: Record<string, string>) => {
    const fn = await startFunction(api!.dir, 'api', { ...common, ...env });
    try {
      const times: number[] = [];
      for (let i = 0; i < requests + 100; i++) {
        const t = performance.now();
        const response = await fetch(`${fn.url}/api/pipelines`, { headers });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`GET /api/pipelines answered ${response.status}`);
        if (i >= 100) times.push(performance.now() - t); // the first 100 warm up
      }
      return percentile(times, 50);
    } finally {
      await stopChild(fn.child);
    }
  };
  try {
    const dev = await measure({ AUTH_MODE: 'dev', DEV_USER_EMAIL: 'bench@example.com' }, {});
    const iap = await measure(
      { AUTH_MODE: 'iap', IAP_AUDIENCE: AUDIENCE, IAP_JWKS_URL: jwks.url },
      iapHeaders(
        await iapToken(
          key,
          { email: 'bench@example.com' },
          { expiresAt: Math.floor(Date.now() / 1000) + 3000 },
        ),
      ),
    );
    console.log(
      `GET /api/pipelines p50 over ${requests}: dev identity ${ms(dev)}, verified IAP JWT ${ms(iap)} → ${(iap / dev).toFixed(2)}× (+${ms(iap - dev)} per request, keys cached; ${jwks.state.fetches} key fetch)`,
    );
    results.security = {
      requests,
      dev_p50_ms: dev,
      iap_p50_ms: iap,
      ratio: iap / dev,
      jwks_fetches: jwks.state.fetches,
    };
  } finally {
    await jwks.close();
  }
}

async function benchBenchling(backends: Backends): Promise<void> {
  console.log('\n== benchling: /api/benchling/runs under 20 concurrent clients for 30 s');
  const [api] = await buildFunctions(join(root, '.bench', 'functions'));
  const warehouse = await startDemoWarehouse({ dataDir: join(root, '.bench', 'warehouse') });
  const fn = await startFunction(api!.dir, 'api', {
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    STORAGE_EMULATOR_HOST: backends.gcsUrl,
    RUNS_BUCKET: backends.bucket,
    GOOGLE_CLOUD_PROJECT: 'arc-bench-benchling',
    AUTH_MODE: 'dev',
    DEV_USER_EMAIL: 'bench@example.com',
    USER_TOUCH_INTERVAL_SECONDS: '3600',
    RATE_LIMIT_READS_PER_MINUTE: '0',
    ...warehouse.env(),
  });
  // The pool's size as the server sees it: the reader role's open connections, sampled.
  const admin = await warehouse.adminClient('postgres');
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await admin.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1',
        [warehouse.reader.user],
      );
      peak = Math.max(peak, rows[0]!.n);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const projects = warehouse.seed.projects.map((p) => p.id);
  const queries = [
    '',
    'page=2',
    `project=${projects[0]}`,
    `project=${projects[1]}&page_size=50`,
    'q=PBMC',
    `from=${warehouse.seed.runs[10]!.run_date}`,
  ];
  const clients = 20;
  const durationMs = 30_000;
  const times: number[] = [];
  let failures = 0;
  try {
    const end = performance.now() + durationMs;
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        for (let i = client; performance.now() < end; i++) {
          const t = performance.now();
          const response = await fetch(`${fn.url}/api/benchling/runs?${queries[i % queries.length]}`);
          await response.arrayBuffer();
          if (response.status === 200) times.push(performance.now() - t);
          else failures++;
        }
      }),
    );
  } finally {
    sampling = false;
    await sampler;
    await admin.end();
    await stopChild(fn.child);
    await warehouse.stop();
  }
  const p50 = percentile(times, 50);
  const p95 = percentile(times, 95);
  console.log(
    `${times.length.toLocaleString('en')} requests in ${durationMs / 1000} s (${Math.round(times.length / (durationMs / 1000))}/s), ${failures} failed: p50 ${ms(p50)}, p95 ${ms(p95)}; peak warehouse connections ${peak} (pool limit 15)`,
  );
  if (peak > 15) throw new Error(`the pool opened ${peak} connections; the product spec allows 15`);
  results.benchling = {
    clients,
    duration_s: durationMs / 1000,
    requests: times.length,
    failures,
    p50_ms: p50,
    p95_ms: p95,
    peak_connections: peak,
  };
}

/**
 * The page: bundle size (gzip), and the time from navigation to the first rendered runs list
 * with 1,000 runs in the emulator, in headless Chromium, against an empty list as baseline.
 */
async function benchPage(backends: Backends): Promise<void> {
  console.log('\n== page ==');
  const web = await buildWeb(join(root, '.bench', 'web'));
  const gz = async (file: string) => gzipSync(await readFile(file)).length;
  const chunks = (await readdir(join(web.dir, 'chunks'))).filter((f) => f.endsWith('.js'));
  const initial = (await gz(join(web.dir, 'app.js'))) + (await gz(join(web.dir, 'app.css')));
  let lazy = 0;
  for (const chunk of chunks) lazy += await gz(join(web.dir, 'chunks', chunk));
  console.log(
    `bundle: app.js + app.css ${formatBytes(initial)} gzip (${formatBytes(web.bytes)} minified js); lazy chunks ${formatBytes(lazy)} gzip`,
  );

  const orchestrator = await buildOrchestrator(join(root, '.bench', 'orchestrator'));
  const stack = await startLocalStack({
    dataDir: join(root, '.bench', 'stack-page'),
    fresh: true,
    port: 0,
    orchestratorDir: orchestrator.dir,
    webDir: web.dir,
    logger: memoryLogger(),
    warehouse: 'none',
    env: {
      FIRESTORE_EMULATOR_HOST: backends.emulator.host,
      GOOGLE_CLOUD_PROJECT: 'arc-bench-page',
      RATE_LIMIT_READS_PER_MINUTE: '0',
    },
  });
  const browser = await launchChromium();
  try {
    const db = createFirestore(stack.config);
    const user = 'bench-page@example.com';
    const start = Date.parse('2026-01-01T00:00:00Z');
    for (let batchStart = 0; batchStart < 1000; batchStart += 250) {
      const batch = db.batch();
      for (let i = batchStart; i < batchStart + 250; i++) {
        const run = newRunRecord(stack.config.runsBucket, {
          run_id: `run-bp${String(i).padStart(10, '0')}`,
          pipeline: 'nf-core/scrnaseq',
          pipeline_version: '4.0.0',
          user_email: user,
          user_name: 'bench',
          created_at: new Date(start + i * 60_000).toISOString(),
          batch_request_id: randomUUID(),
          params: {},
          param_warnings: [],
          config_content: '',
          sample_count: 2,
          samples: ['S1', 'S2'],
          source_ngs_runs: [],
          source_project: null,
          session_id: randomUUID(),
        });
        batch.set(db.collection('runs').doc(run.run_id), {
          ...run,
          status: i % 7 === 0 ? 'failed' : 'completed',
        });
      }
      await batch.commit();
    }
    const firstList = async (email: string): Promise<number> => {
      const context = await browser.newContext();
      await context.route(`${stack.url}/api/**`, (route) =>
        route.continue({
          headers: {
            ...route.request().headers(),
            'x-goog-authenticated-user-email': `accounts.google.com:${email}`,
          },
        }),
      );
      const page = await context.newPage();
      await page.goto(stack.url);
      await page.waitForFunction(
        () => performance.getEntriesByName('arc:runs-list-rendered').length > 0,
        null,
        { timeout: 60_000 },
      );
      const at = await page.evaluate(
        () => performance.getEntriesByName('arc:runs-list-rendered')[0]!.startTime,
      );
      await context.close();
      return at;
    };
    await firstList(user); // warm the emulator's indexes and the server
    const full: number[] = [];
    const empty: number[] = [];
    for (let i = 0; i < 7; i++) {
      full.push(await firstList(user));
      empty.push(await firstList('nobody@example.com'));
    }
    const p50 = median(full);
    const p50Empty = median(empty);
    console.log(
      `first rendered runs list, 1,000 runs: p50 ${ms(p50)} (7 loads, fresh browser context each) vs ${ms(p50Empty)} with no runs: ${(p50 / p50Empty).toFixed(2)}×`,
    );
    results.page = {
      initial_gzip_bytes: initial,
      minified_js_bytes: web.bytes,
      lazy_chunks_gzip_bytes: lazy,
      first_list_1000_runs_p50_ms: p50,
      first_list_empty_p50_ms: p50Empty,
      ratio: p50 / p50Empty,
    };
  } finally {
    await browser.close();
    await stack.stop();
  }
}

/** Polls the run through the API until `condition` holds; returns the ms it took. */
async function timeUntil(
  stack: RunningStack,
  runId: string,
  condition: (run: Record<string, unknown>) => boolean,
  what: string,
): Promise<number> {
  const started = performance.now();
  await waitFor(
    async () =>
      condition((await (await fetch(`${stack.url}/api/runs/${runId}`)).json()) as Record<string, unknown>),
    { timeoutMs: 120_000, intervalMs: 20, what },
  );
  return performance.now() - started;
}

/**
 * Faults: the time from a killed orchestrator (a Spot preemption of its VM) to the run
 * counting progress again, against the time a fresh run takes from launch to its first
 * progress; and how fast /api/benchling/runs and /api/ready answer with the warehouse frozen
 * (SIGSTOP), against the same requests while it is healthy.
 */
async function benchFaults(backends: Backends): Promise<void> {
  console.log('\n== faults: a killed orchestrator, a frozen warehouse');
  const stack = await benchStack(backends, 'faults');
  const progressOf = (run: Record<string, unknown>) => {
    const p = run.progress as { completed: number; cached: number; submitted: number };
    return p.completed + p.cached + p.submitted;
  };
  const kills: { resume_ms: number; first_progress_ms: number }[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${stack.url}/api/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(BENCH_RUN),
      });
      const { run_id } = (await response.json()) as { run_id: string };
      const first = await timeUntil(stack, run_id, (run) => progressOf(run) > 0, 'first progress');
      await timeUntil(stack, run_id, (run) => progressOf(run) >= 6, 'a few tasks');
      const job = (
        (await (await fetch(`${stack.url}/api/runs/${run_id}`)).json()) as { batch_job_name: string }
      ).batch_job_name;
      if (!stack.batch.interruptTask(job, 50001)) throw new Error(`no task to interrupt for ${run_id}`);
      const resume = await timeUntil(
        stack,
        run_id,
        (run) => run.orchestrator_attempt === 2 && progressOf(run) > 0,
        'the second attempt to count progress',
      );
      await timeUntil(
        stack,
        run_id,
        (run) => ['completed', 'failed'].includes(run.status as string),
        'the end',
      );
      kills.push({ resume_ms: resume, first_progress_ms: first });
    }
  } finally {
    await stack.stop();
  }
  const resume = median(kills.map((k) => k.resume_ms));
  const fresh = median(kills.map((k) => k.first_progress_ms));
  console.log(
    `orchestrator killed (exit 50001) → the run counts progress again: median ${ms(resume)} over ${kills.length} kills, vs launch → first progress ${ms(fresh)} (${(resume / fresh).toFixed(2)}×); Batch's retry delay in the twin is 200 ms`,
  );

  const [api] = await buildFunctions(join(root, '.bench', 'functions'));
  const warehouse = await startDemoWarehouse({ dataDir: join(root, '.bench', 'warehouse-frozen') });
  const fn = await startFunction(api!.dir, 'api', {
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    STORAGE_EMULATOR_HOST: backends.gcsUrl,
    RUNS_BUCKET: backends.bucket,
    GOOGLE_CLOUD_PROJECT: 'arc-bench-frozen',
    AUTH_MODE: 'dev',
    DEV_USER_EMAIL: 'bench@example.com',
    RATE_LIMIT_READS_PER_MINUTE: '0',
    ...warehouse.env(),
  });
  const answer = async (path: string) => {
    const t = performance.now();
    const response = await fetch(`${fn.url}${path}`);
    const body = (await response.json()) as { partial?: boolean };
    return { ms: performance.now() - t, status: response.status, partial: body.partial === true };
  };
  const frozen: Record<string, { ms: number; status: number; partial: boolean }[]> = { runs: [], ready: [] };
  const healthy: Record<string, number[]> = { runs: [], ready: [] };
  try {
    for (let i = 0; i < 5; i++) {
      healthy.runs!.push((await answer('/api/benchling/runs')).ms);
      healthy.ready!.push((await answer('/api/ready')).ms);
    }
    warehouse.freeze();
    // The first runs request finds a pooled connection (the query deadline answers), the next
    // ones need a new one (the acquire deadline answers).
    for (let i = 0; i < 3; i++) {
      frozen.runs!.push(await answer('/api/benchling/runs'));
      frozen.ready!.push(await answer('/api/ready'));
    }
  } finally {
    warehouse.thaw();
    await stopChild(fn.child);
    await warehouse.stop();
  }
  const describe = (list: { ms: number; status: number; partial: boolean }[]) =>
    list.map((a) => `${(a.ms / 1000).toFixed(1)} s → ${a.status}${a.partial ? ' partial' : ''}`).join(', ');
  console.log(
    `warehouse frozen: /api/benchling/runs ${describe(frozen.runs!)} (healthy p50 ${ms(median(healthy.runs!))}; deadlines: query 15 s + 1 s, connection 10 s)`,
  );
  console.log(
    `warehouse frozen: /api/ready ${describe(frozen.ready!)} (healthy p50 ${ms(median(healthy.ready!))}; deadline 3 s per check)`,
  );
  results.faults = {
    orchestrator_kill_to_progress_ms: resume,
    launch_to_first_progress_ms: fresh,
    kill_resume_ratio: resume / fresh,
    frozen_warehouse: {
      runs: frozen.runs,
      ready: frozen.ready,
      healthy_runs_p50_ms: median(healthy.runs!),
      healthy_ready_p50_ms: median(healthy.ready!),
    },
  };
}

const SECTIONS: Record<string, (backends: Backends) => Promise<void>> = {
  api: benchApi,
  security: benchSecurity,
  execution: benchExecution,
  monitoring: benchMonitoring,
  recovery: benchRecovery,
  benchling: benchBenchling,
  page: benchPage,
  faults: benchFaults,
};

async function main(): Promise<void> {
  const backends = await startBackends();
  try {
    for (const [name, run] of Object.entries(SECTIONS)) {
      if (only && only !== name) continue;
      await run(backends);
    }
  } finally {
    await backends.gcs.stop();
    await backends.emulator.stop();
  }
  await mkdir(join(root, '.bench'), { recursive: true });
  await writeFile(
    join(root, '.bench', 'results.json'),
    `${JSON.stringify({ at: new Date().toISOString(), ...results }, null, 2)}\n`,
  );
  console.log('\nWritten to .bench/results.json');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
