/**
 * `npm run bench`: speed and size figures, reported as ratios and counts against a
 * baseline measured in the same run. `npm run bench -- --only=api` runs one section.
 * Results are printed and written to .bench/results.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { memoryLogger } from '../functions/logging';
import { buildFunctions, buildOrchestrator, formatBytes } from './build';
import { type RunningEmulator, startFirestoreEmulator } from './lib/firestore-emulator';
import { freePort, waitFor } from './lib/net';
import { LocalGcsServer } from './local/gcs-server';
import { startLocalStack } from './local/stack';

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

  const env = {
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    STORAGE_EMULATOR_HOST: backends.gcsUrl,
    RUNS_BUCKET: backends.bucket,
    GOOGLE_CLOUD_PROJECT: 'arc-bench',
    DEV_USER_EMAIL: 'bench@example.com',
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

async function benchExecution(backends: Backends): Promise<void> {
  console.log('\n== execution (local stack, replay executor)');
  const orchestrator = await buildOrchestrator(join(root, '.bench', 'orchestrator'));
  const stack = await startLocalStack({
    dataDir: join(root, '.bench', 'stack'),
    fresh: true,
    port: 0,
    orchestratorDir: orchestrator.dir,
    logger: memoryLogger(),
    env: {
      FIRESTORE_EMULATOR_HOST: backends.emulator.host,
      GOOGLE_CLOUD_PROJECT: 'arc-bench-exec',
      WORKFLOW_POLL_SECONDS: '1',
      CHUNK_INTERVAL_SECONDS: '1',
    },
  });
  try {
    const body = JSON.stringify({
      pipeline: 'nf-core/scrnaseq',
      samplesheet_csv:
        'sample,fastq_1,fastq_2\nS1,gs://b/S1_R1.fastq.gz,gs://b/S1_R2.fastq.gz\nS2,gs://b/S2_R1.fastq.gz,gs://b/S2_R2.fastq.gz\n',
      params: { aligner: 'star', protocol: '10XV3' },
    });
    const rounds = 3;
    const totals: number[] = [];
    const pipelines: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const started = performance.now();
      const created = (await (
        await fetch(`${stack.url}/api/runs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        })
      ).json()) as { run_id: string };
      let status = 'pending';
      while (!['completed', 'failed', 'cancelled'].includes(status)) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        status = (
          (await (await fetch(`${stack.url}/api/runs/${created.run_id}`)).json()) as { status: string }
        ).status;
      }
      totals.push(performance.now() - started);
      if (status !== 'completed') throw new Error(`bench run ended ${status}`);
      const [log] = await (await import('../functions/deps'))
        .createStorage(stack.config)
        .bucket(stack.config.runsBucket)
        .file(`runs/${created.run_id}/logs/nextflow.log`)
        .download();
      pipelines.push(logSpanMs(log.toString('utf8')));
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
      `onBatchJobEvent (reads the job from the Batch twin, one Firestore transaction): ${sequential.toFixed(0)} events/s one at a time; ` +
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

const SECTIONS: Record<string, (backends: Backends) => Promise<void>> = {
  api: benchApi,
  execution: benchExecution,
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
