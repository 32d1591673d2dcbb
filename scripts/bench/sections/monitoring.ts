import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';

import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { parse as parseCsv } from 'csv-parse/sync';
import { FirestoreRunStore } from '../../../functions/adapters/firestore-run-store';
import { GcsObjectStore } from '../../../functions/adapters/gcs-object-store';
import { loadConfig } from '../../../functions/config';
import { parseTrace } from '../../../functions/core/nextflow/trace';
import { runPaths } from '../../../functions/core/shared/bucket-layout';
import { createApiDeps, createExecutionDeps, createFirestore, createStorage } from '../../../functions/deps';
import { createApiHandler } from '../../../functions/http/api-app';
import { memoryLogger } from '../../../functions/logging';
import { formatBytes } from '../../build';
import { type Backends, benchRunRecord, median, ms, percentile } from '../harness';
import {
  CountingObjectStore,
  countWrites,
  generateTrace,
  ingestThroughFunction,
  putTraceChunks,
} from '../probes';

export async function run(backends: Backends): Promise<Record<string, unknown>> {
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
  // A run of its own each time: what an earlier bench run left in .bench/gcs is not this run's.
  const runId = `run-bench${randomUUID().replace(/-/g, '').slice(0, 7)}`;
  const now = new Date().toISOString();
  await runs.create({
    ...benchRunRecord(config.runsBucket, { run_id: runId, created_at: now, sample_count: 500, samples: [] }),
    status: 'running',
    submitted_at: now,
    started_at: now,
    executor: 'replay',
  });
  const chunkCount = 200;
  const chunkObjects = await putTraceChunks(backends, config.runsBucket, runId, trace, chunkCount);
  const chunkBytes = chunkObjects.reduce((sum, o) => sum + Number(o.size), 0);
  const deps = createExecutionDeps(config, { runs, objects, logger: memoryLogger() });
  const before = { ...counts };
  const ingestMs = await ingestThroughFunction(deps, chunkObjects, 'onRunArtifactBench');
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
  const { objects: indexObjects } = await objects.list(runPaths(objects.bucket, runId).taskIndexes, 10_000);
  const indexBytes = indexObjects.reduce((sum, o) => sum + o.size, 0);
  console.log(
    `task indexes and rollups: ${indexObjects.length} objects, ${formatBytes(indexBytes)} (${(indexBytes / chunkBytes).toFixed(2)}× the chunks)`,
  );

  // GET /tasks for a page of 100, against the same store, each first page from an instance of its own.
  const apiInstance = async (name: string) => {
    const api = createApiDeps(config, {
      runs,
      objects,
      logger: memoryLogger(),
      users: { signIn: async () => ({ role: 'user', event: 'cached' }) },
    });
    functions.http(name, createApiHandler(api));
    const apiServer = getTestServer(name);
    await new Promise<void>((resolve) => apiServer.listen(0, '127.0.0.1', resolve));
    return { apiServer, apiUrl: `http://127.0.0.1:${(apiServer.address() as AddressInfo).port}` };
  };
  const firstPage = async (apiUrl: string, query: string) => {
    const started = performance.now();
    const cold = await fetch(`${apiUrl}/api/runs/${runId}/tasks?page_size=100${query}`);
    if (cold.status !== 200) throw new Error(`GET /tasks answered ${cold.status}: ${await cold.text()}`);
    await cold.arrayBuffer();
    return performance.now() - started;
  };
  const other = await apiInstance('apiBenchTasksByRealtime');
  const coldByRealtimeMs = await firstPage(other.apiUrl, '&sort=realtime&order=desc&status=COMPLETED');
  other.apiServer.closeAllConnections();
  other.apiServer.close();
  const { apiServer, apiUrl } = await apiInstance('apiBenchTasks');
  const coldMs = await firstPage(apiUrl, '');
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
    `GET /tasks, page of 100 from 100,000 tasks: first request ${ms(coldMs)} (reads the task indexes, then its own rows; sorted by realtime and filtered, on another instance: ${ms(coldByRealtimeMs)}), then p50 ${ms(percentile(times, 50))}, p95 ${ms(percentile(times, 95))} over 200 (sorted and filtered pages)`,
  );
  return {
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
      index_bytes: indexBytes,
    },
    tasks_page_ms: {
      first: coldMs,
      first_by_realtime: coldByRealtimeMs,
      p50: percentile(times, 50),
      p95: percentile(times, 95),
    },
  };
}
