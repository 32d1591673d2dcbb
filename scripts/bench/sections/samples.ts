/**
 * Issue 32's figures for samples: what counting each sample at ingest adds per trace chunk,
 * and GET /samples of a 200-sample, 20,000-task run against a /tasks page of the same run.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';

import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { FirestoreRunStore } from '../../../functions/adapters/firestore-run-store';
import { GcsObjectStore } from '../../../functions/adapters/gcs-object-store';
import { loadConfig } from '../../../functions/config';
import { createApiDeps, createExecutionDeps, createFirestore, createStorage } from '../../../functions/deps';
import { createApiHandler } from '../../../functions/http/api-app';
import { memoryLogger } from '../../../functions/logging';
import { type Backends, benchRunRecord, median, ms, percentile } from '../harness';
import { countWrites, generateTrace, ingestThroughFunction, putTraceChunks } from '../probes';

const TASKS = 20_000;
const SAMPLES = 200;
const CHUNKS = 100;

export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log(`\n== samples (${SAMPLES} samples, ${TASKS.toLocaleString('en')} tasks in ${CHUNKS} chunks)`);
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: 'arc-bench-samples',
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
  const objects = new GcsObjectStore(createStorage(config), config.runsBucket);
  const runs = new FirestoreRunStore(db);
  const trace = generateTrace(TASKS, SAMPLES);
  const ids = Array.from({ length: SAMPLES }, (_, i) => `SAMPLE_${i}`);

  // The same trace ingested into runs that list no samples (nothing to attribute: the cost
  // before samples were counted) and runs that list all 200, four times each.
  const ingest = async (samples: string[], round: number, budget: number | null = null) => {
    const runId = `run-bench${randomUUID().replace(/-/g, '').slice(0, 7)}`;
    const now = new Date().toISOString();
    await runs.create({
      ...benchRunRecord(config.runsBucket, {
        run_id: runId,
        created_at: now,
        sample_count: SAMPLES,
        samples,
      }),
      budget_usd: budget,
      status: 'running',
      submitted_at: now,
      started_at: now,
    });
    const chunks = await putTraceChunks(backends, config.runsBucket, runId, trace, CHUNKS);
    const deps = createExecutionDeps(config, { runs, objects, logger: memoryLogger() });
    const before = { ...counts };
    const elapsed = await ingestThroughFunction(
      deps,
      chunks,
      `onRunArtifactSamples${samples.length}x${round}${budget === null ? '' : 'b'}`,
    );
    return { runId, perChunkMs: elapsed / CHUNKS, commits: (counts.commits - before.commits) / CHUNKS };
  };
  const without: { perChunkMs: number; commits: number }[] = [];
  const withSamples: { runId: string; perChunkMs: number; commits: number }[] = [];
  // Issue 33: a run with a budget (never reached here) is read once more a chunk, to check it.
  const withBudget: { perChunkMs: number }[] = [];
  // Rotating which goes first, so none always meets an emulator with more runs in it.
  for (let round = 0; round < 4; round++) {
    const kinds = [
      async () => without.push(await ingest([], round)),
      async () => withSamples.push(await ingest(ids, round)),
      async () => withBudget.push(await ingest(ids, round, 1_000_000)),
    ];
    for (let i = 0; i < kinds.length; i++) await kinds[(i + round) % kinds.length]!();
  }
  const baseMs = median(without.map((r) => r.perChunkMs));
  const samplesMs = median(withSamples.map((r) => r.perChunkMs));
  const budgetMs = median(withBudget.map((r) => r.perChunkMs));
  const runId = withSamples[0]!.runId;
  const stored = await runs.sampleProgress(runId, 1);
  const counted = Object.values(stored.samples).reduce(
    (sum, c) => sum + c.completed + c.cached + c.failed,
    0,
  );
  if (counted !== TASKS) throw new Error(`the samples counted ${counted} tasks of ${TASKS}`);
  const documentBytes = Buffer.byteLength(
    JSON.stringify((await db.collection('runs').doc(runId).get()).data()),
  );
  const samplesBytes = Buffer.byteLength(
    JSON.stringify(
      (await db.collection('runs').doc(runId).collection('samples').doc('attempt-1').get()).data(),
    ),
  );
  console.log(
    `ingest per chunk: ${ms(baseMs)} without samples, ${ms(samplesMs)} counting ${SAMPLES} samples (${(samplesMs / baseMs).toFixed(2)}×); commits per chunk ${without[0]!.commits.toFixed(2)} → ${withSamples[0]!.commits.toFixed(2)}; the run document ${(documentBytes / 1024).toFixed(1)} KiB, its samples' counters ${(samplesBytes / 1024).toFixed(1)} KiB apart`,
  );

  console.log(
    `ingest per chunk with a budget to check (live accrual): ${ms(budgetMs)} against ${ms(samplesMs)} without (${(budgetMs / samplesMs).toFixed(2)}×)`,
  );

  const api = createApiDeps(config, {
    runs,
    objects,
    logger: memoryLogger(),
    users: { signIn: async () => ({ role: 'user', event: 'cached' }) },
  });
  functions.http('apiBenchSamples', createApiHandler(api));
  const server = getTestServer('apiBenchSamples');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const timed = async (path: string) => {
    const started = performance.now();
    const response = await fetch(`${url}${path}`);
    if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}`);
    await response.arrayBuffer();
    return performance.now() - started;
  };
  const firstSamples = await timed(`/api/runs/${runId}/samples`);
  const firstTasks = await timed(`/api/runs/${runId}/tasks?page_size=100`);
  const samplesTimes: number[] = [];
  const tailsTimes: number[] = [];
  const tasksTimes: number[] = [];
  for (let i = 0; i < 40; i++) {
    samplesTimes.push(await timed(`/api/runs/${runId}/samples`));
    // Every sample of this trace has a failed task: the first 10 have their log tails read.
    tailsTimes.push(await timed(`/api/runs/${runId}/samples?include=log_tail`));
    tasksTimes.push(await timed(`/api/runs/${runId}/tasks?page=${1 + (i % 20)}&page_size=100`));
  }
  server.closeAllConnections();
  server.close();
  const samplesP50 = percentile(samplesTimes, 50);
  const tailsP50 = percentile(tailsTimes, 50);
  const tasksP50 = percentile(tasksTimes, 50);
  console.log(
    `GET /samples (${SAMPLES} samples): first ${ms(firstSamples)}, p50 ${ms(samplesP50)}; with include=log_tail (10 tails) p50 ${ms(tailsP50)}; GET /tasks page of 100: first ${ms(firstTasks)}, p50 ${ms(tasksP50)} → /samples ÷ /tasks p50 ${(samplesP50 / tasksP50).toFixed(2)}× (${(tailsP50 / tasksP50).toFixed(2)}× with log tails)`,
  );
  return {
    ingest_ms_per_chunk: { without_samples: baseMs, with_samples: samplesMs, ratio: samplesMs / baseMs },
    budget_ingest_ms_per_chunk: { without: samplesMs, with_budget: budgetMs, ratio: budgetMs / samplesMs },
    commits_per_chunk: { without_samples: without[0]!.commits, with_samples: withSamples[0]!.commits },
    run_document_bytes: documentBytes,
    sample_counters_bytes: samplesBytes,
    samples_ms: { first: firstSamples, p50: samplesP50, with_log_tails_p50: tailsP50 },
    tasks_ms: { first: firstTasks, p50: tasksP50 },
    samples_over_tasks_p50: samplesP50 / tasksP50,
    samples_with_log_tails_over_tasks_p50: tailsP50 / tasksP50,
  };
}
