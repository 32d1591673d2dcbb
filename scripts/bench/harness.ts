/** What every bench section shares: the backends, functions and stacks they start, and the statistics. */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newRunRecord } from '../../functions/core/runs/run-service';
import { runPaths } from '../../functions/core/shared/bucket-layout';
import { createStorage } from '../../functions/deps';
import { memoryLogger } from '../../functions/logging';
import { buildFunctions, buildOrchestrator } from '../build';
import { type RunningEmulator, startFirestoreEmulator } from '../lib/firestore-emulator';
import { freePort, waitFor, waitForValue } from '../lib/net';
import { type JavaEmulator, startPubSubEmulator } from '../lib/pubsub-emulator';
import { LocalGcsServer } from '../local/gcs-server';
import { type RunningStack, startLocalStack } from '../local/stack';
import { EXAMPLE_FASTQS, startDemoWarehouse } from '../local/warehouse';

export const root = join(fileURLToPath(import.meta.url), '..', '..', '..');

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export const median = (values: number[]) => percentile(values, 50);

export const ms = (n: number) => `${n.toFixed(1)} ms`;

export interface Backends {
  emulator: RunningEmulator;
  /** Run status events go here (one emulator for every bench stack). */
  pubsub: JavaEmulator;
  gcs: LocalGcsServer;
  gcsUrl: string;
  bucket: string;
}

export async function startBackends(): Promise<Backends> {
  const [emulator, pubsub] = await Promise.all([startFirestoreEmulator(), startPubSubEmulator()]);
  const gcs = new LocalGcsServer({ dataDir: join(root, '.bench', 'gcs') });
  const gcsUrl = await gcs.start();
  const bucket = 'arc-bench-runs';
  await gcs.createBucket(bucket);
  // The FASTQs the api section's launches name: run creation checks they exist.
  for (let i = 0; i < 8; i++) {
    for (const read of [1, 2])
      await gcs.putObject('b', `S${i}_R${read}.fastq.gz`, 'fastq', 'application/gzip');
  }
  return { emulator, pubsub, gcs, gcsUrl, bucket };
}

export async function startFunction(
  source: string,
  target: string,
  env: Record<string, string>,
  /** Node's own flags for the function's process (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs: string[] = [],
  /**
   * The first request, sent until the function is listening: its first answer, whatever the
   * status, ends the start. Without one, GET /api/health (api) or / until a 200.
   */
  first?: { path: string; init?: RequestInit },
): Promise<{ child: ChildProcess; url: string; startMs: number; status: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      join(root, 'node_modules', '@google-cloud', 'functions-framework', 'build', 'src', 'main.js'),
      `--target=${target}`,
      `--source=${source}`,
      `--port=${port}`,
    ],
    {
      // No metadata server here: say so, rather than let the Google clients probe for one.
      env: { ...process.env, NODE_ENV: 'production', METADATA_SERVER_DETECTION: 'none', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const path = first?.path ?? (target === 'api' ? '/api/health' : '/');
  let status = 0;
  await waitFor(
    async () => {
      const response = await fetch(`${url}${path}`, first?.init).catch(() => null);
      if (!response) return false;
      await response.arrayBuffer();
      status = response.status;
      return first !== undefined || status === 200;
    },
    { timeoutMs: 30_000, intervalMs: 5, what: `${target} to answer on ${path}` },
  );
  return { child, url, startMs: performance.now() - started, status };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await gone;
}

/** nextflow.log line times (real time): the replayed pipeline's own span. */
export function logSpanMs(log: string): number {
  const times = [...log.matchAll(/^([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})/gm)].map((m) =>
    Date.UTC(2000, 0, 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
  );
  return times.length > 1 ? times.at(-1)! - times[0]! : 0;
}

/** A local stack on the shared emulator, replaying at the default speed. */
export async function benchStack(
  backends: Backends,
  name: string,
  env: Record<string, string> = {},
): Promise<RunningStack> {
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
      PUBSUB_EMULATOR_HOST: backends.pubsub.host,
      GOOGLE_CLOUD_PROJECT: `arc-bench-${name}`,
      WORKFLOW_POLL_SECONDS: '1',
      CHUNK_INTERVAL_SECONDS: '1',
      ...env,
    },
  });
}

/** Two samples whose FASTQs every local stack has (the README example's). */
export const BENCH_RUN = {
  pipeline: 'nf-core/scrnaseq',
  samplesheet_csv: `sample,fastq_1,fastq_2\nS1,${EXAMPLE_FASTQS[0]},${EXAMPLE_FASTQS[1]}\nS2,${EXAMPLE_FASTQS[2]},${EXAMPLE_FASTQS[3]}\n`,
  params: { aligner: 'star', protocol: '10XV3', genome: 'GRCh38' },
};

export interface FinishedRun {
  run_id: string;
  status: string;
  /** POST to a final status, wall clock. */
  wall_ms: number;
  /** First to last line of the run's nextflow.log: the replayed pipeline alone. */
  pipeline_ms: number;
}

/** POSTs to `path` (a launch or a recovery) and polls the run until it is final. */
export async function runToEnd(stack: RunningStack, path: string, body: unknown): Promise<FinishedRun> {
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
          .file(runPaths(stack.config.runsBucket, created.run_id).finalLog)
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

/** Polls the run through the API until `condition` holds; returns the ms it took. */
export async function timeUntil(
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
 * The built `api` function against the bench's backends and a demo warehouse of its own (in
 * `.bench/<name>`), signed in as a development user, reads unlimited.
 */
export async function startApiWithWarehouse(backends: Backends, name: string) {
  const [api] = await buildFunctions(join(root, '.bench', 'functions'));
  const warehouse = await startDemoWarehouse({ dataDir: join(root, '.bench', name) });
  const fn = await startFunction(api!.dir, 'api', {
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    STORAGE_EMULATOR_HOST: backends.gcsUrl,
    RUNS_BUCKET: backends.bucket,
    GOOGLE_CLOUD_PROJECT: `arc-bench-${name}`,
    AUTH_MODE: 'dev',
    DEV_USER_EMAIL: 'bench@example.com',
    USER_TOUCH_INTERVAL_SECONDS: '3600',
    RATE_LIMIT_READS_PER_MINUTE: '0',
    ...warehouse.env(),
  });
  return { fn, warehouse };
}

/** A pending nf-core/scrnaseq run as run creation stores it, for the sections that seed runs directly. */
export function benchRunRecord(
  bucket: string,
  fields: { run_id: string; created_at?: string; sample_count?: number; samples?: string[] },
) {
  return newRunRecord(bucket, {
    pipeline: 'nf-core/scrnaseq',
    pipeline_version: '4.0.0',
    user_email: 'bench@example.com',
    user_name: 'bench',
    created_at: new Date().toISOString(),
    batch_request_id: randomUUID(),
    params: {},
    param_warnings: [],
    config_content: '',
    sample_count: 1,
    samples: ['S1'],
    source_ngs_runs: [],
    source_project: null,
    session_id: randomUUID(),
    ...fields,
  });
}

/**
 * The real floor for the api (issue 31): a bare Functions Framework function that reads
 * Firestore with the same client and the same queries as `GET /api/runs` (a page of the
 * user's runs newest first, and their count) and `GET /api/runs/{id}` (one document), and
 * answers JSON. No routing, validation, auth, logging or views: what is left is the cost of
 * serving HTTP and reading Firestore, which the api cannot go below.
 */
export async function writeBareFirestoreFunction(dir: string, user: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module', main: 'index.js' }));
  await writeFile(
    join(dir, 'index.js'),
    `import * as functions from '@google-cloud/functions-framework';
import { FieldPath, Firestore } from '@google-cloud/firestore';
let db;
functions.http('bare', async (req, res) => {
  db ??= new Firestore({ projectId: process.env.GOOGLE_CLOUD_PROJECT });
  const runs = db.collection('runs');
  const one = /^\\/runs\\/([\\w-]+)$/.exec(req.path);
  if (one) {
    const doc = await runs.doc(one[1]).get();
    return res.status(doc.exists ? 200 : 404).json(doc.data() ?? null);
  }
  const query = runs
    .where('user_email', '==', ${JSON.stringify(user)})
    .orderBy('created_at', 'desc')
    .orderBy(FieldPath.documentId(), 'desc');
  const [page, total] = await Promise.all([query.limit(26).get(), query.count().get()]);
  res.json({ runs: page.docs.map((d) => d.data()), total: total.data().count });
});
`,
  );
}
