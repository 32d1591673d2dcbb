/**
 * Issue 33's work-dir figures: what measuring a chain's work dir costs when a run ends (list
 * requests and time per 1,000 objects), and freeing it (calls and objects a second), on the local
 * GCS server through the real client; and right-sizing over a deployment's worth of runs.
 */
import { randomUUID } from 'node:crypto';
import { Storage } from '@google-cloud/storage';
import { FirestoreRunStore } from '../../../functions/adapters/firestore-run-store';
import { GcsObjectStore } from '../../../functions/adapters/gcs-object-store';
import { loadConfig } from '../../../functions/config';
import { computeMetrics } from '../../../functions/core/nextflow/metrics';
import { emptyTask } from '../../../functions/core/nextflow/trace';
import { recommend } from '../../../functions/core/runs/right-sizing';
import { FREE_BATCH_OBJECTS, freeWorkDir, measureWorkDir } from '../../../functions/core/runs/work-dir';
import type { Caller } from '../../../functions/core/shared/caller';
import { createFirestore } from '../../../functions/deps';
import { type Backends, benchRunRecord } from '../harness';

const WORK_OBJECTS = 6_000;
const CACHE_OBJECTS = 40;
const RUNS = 400;

/** Counts the list pages an ObjectStore is asked for. */
class CountingPages extends GcsObjectStore {
  pages = 0;
  override listPage(prefix: string, token: string | null, size: number) {
    this.pages++;
    return super.listPage(prefix, token, size);
  }
}

export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log(
    `\n== storage: a work dir of ${WORK_OBJECTS + CACHE_OBJECTS} objects; right-sizing over ${RUNS} runs`,
  );
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: 'arc-bench-storage',
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    RUNS_BUCKET: backends.bucket,
  });
  const runId = `run-5t0r${randomUUID().replace(/-/g, '').slice(0, 8)}`;
  const runs = new FirestoreRunStore(createFirestore(config));
  await runs.create({
    ...benchRunRecord(backends.bucket, { run_id: runId }),
    user_email: 'bench@example.com',
  });
  await runs.apply(runId, { to: 'failed', at: new Date().toISOString(), source: 'api' });
  for (let i = 0; i < WORK_OBJECTS; i++)
    await backends.gcs.putObject(
      backends.bucket,
      `work/${runId}/${String(i).padStart(5, '0')}/.command.out`,
      'x'.repeat(100),
    );
  for (let i = 0; i < CACHE_OBJECTS; i++)
    await backends.gcs.putObject(backends.bucket, `cache/${runId}/db/${i}`, 'y'.repeat(1_000));

  const objects = new CountingPages(
    new Storage({ projectId: 'arc-bench-storage', apiEndpoint: backends.gcsUrl }),
    backends.bucket,
  );
  const started = performance.now();
  const measured = await measureWorkDir(objects, runId, new Date());
  const measureMs = performance.now() - started;
  if (measured.objects !== WORK_OBJECTS + CACHE_OBJECTS)
    throw new Error(`measured ${measured.objects} objects`);
  const measurePages = objects.pages;

  const caller: Caller = { email: 'bench@example.com', name: 'Bench', is_admin: false };
  const deps = {
    runs,
    objects,
    clock: { now: () => new Date() },
    storage: { priceGibMonth: 0.02, retentionDays: 30 },
  };
  let calls = 0;
  const freeing = performance.now();
  for (;;) {
    calls++;
    if ((await freeWorkDir(deps, caller, runId, { confirm: true })).done) break;
  }
  const freeMs = performance.now() - freeing;

  // Right-sizing reads every finished run's process figures: 400 runs of 12 processes.
  const processes = Array.from({ length: 12 }, (_, i) => `PIPE:WF:PROCESS_${i}`);
  const past = Array.from({ length: RUNS }, (_, r) => {
    const tasks = processes.flatMap((process, p) =>
      Array.from({ length: 8 }, () => ({
        ...emptyTask(),
        process,
        status: 'COMPLETED',
        exit: 0,
        cpus: 6,
        memory: 36 * 1024 ** 3,
        realtime: 600_000 + p * 1_000,
        cpu_percent: 150 + (r % 50),
        peak_rss: (1 + p) * 1024 ** 3,
      })),
    );
    return {
      ...benchRunRecord(backends.bucket, { run_id: `run-p${String(r).padStart(11, '0')}` }),
      status: 'completed' as const,
      metrics: computeMetrics(tasks, config.prices, '1'),
    };
  });
  const advising = performance.now();
  const advice = recommend(
    past,
    { pipeline: past[0]!.pipeline, version: past[0]!.pipeline_version },
    config.prices,
  );
  const adviseMs = performance.now() - advising;

  const result = {
    objects: measured.objects,
    measure_list_requests: measurePages,
    measure_ms_per_1000_objects: Math.round((measureMs / measured.objects) * 1000 * 10) / 10,
    free_calls: calls,
    free_objects_per_second: Math.round(measured.objects / (freeMs / 1000)),
    free_batch_objects: FREE_BATCH_OBJECTS,
    right_sizing_runs: RUNS,
    right_sizing_recommendations: advice.recommendations.length,
    right_sizing_ms: Math.round(adviseMs * 10) / 10,
  };
  console.log(
    `measure: ${result.measure_list_requests} list requests for ${result.objects} objects, ${result.measure_ms_per_1000_objects} ms per 1,000; ` +
      `free: ${calls} calls of ≤ ${FREE_BATCH_OBJECTS}, ${result.free_objects_per_second} objects/s; ` +
      `right-sizing: ${RUNS} runs → ${advice.recommendations.length} recommendations in ${result.right_sizing_ms} ms`,
  );
  return result;
}
