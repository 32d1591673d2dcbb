import { FieldPath } from '@google-cloud/firestore';
import { FirestoreRunStore } from '../../../functions/adapters/firestore-run-store';
import { loadConfig } from '../../../functions/config';
import { createFirestore } from '../../../functions/deps';
import { buildFunctions } from '../../build';
import {
  type Backends,
  benchRunRecord,
  ms,
  percentile,
  root,
  startFunction,
  stopChild,
  writeBareFirestoreFunction,
} from '../harness';

const CLIENTS = 50;
const SECONDS = 15;
const RUNS = 200;
const USER = 'bench@example.com';

/** `clients` loops, each calling `request(i)` until the time is up; answers each call's latency. */
async function drive(clients: number, request: (i: number) => Promise<boolean>) {
  const times: number[] = [];
  let failures = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = client; performance.now() < end; i += clients) {
        const started = performance.now();
        if (await request(i)) times.push(performance.now() - started);
        else failures++;
      }
    }),
  );
  return {
    rps: times.length / SECONDS,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
    n: times.length,
    failures,
  };
}

/**
 * Issue 22's load goal: GET /api/runs and GET /api/runs/{id} from 50 concurrent clients against
 * the built api function, and the same Firestore reads issued directly against the same
 * emulator in the same run; throughput ratio and the API's p99 ÷ p50.
 */
export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log(
    `\n== load: GET /api/runs and /api/runs/{id}, ${CLIENTS} clients for ${SECONDS} s, against Firestore direct`,
  );
  const project = 'arc-bench-load';
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: project,
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    RUNS_BUCKET: backends.bucket,
  });
  const db = createFirestore(config);
  const store = new FirestoreRunStore(db);
  const ids: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const runId = `run-load${String(i).padStart(8, '0')}`;
    ids.push(runId);
    await store
      .create(
        benchRunRecord(config.runsBucket, {
          run_id: runId,
          created_at: new Date(Date.UTC(2026, 10, 1) + i * 60_000).toISOString(),
          sample_count: 4,
          samples: ['S1', 'S2', 'S3', 'S4'],
        }),
      )
      .catch((error: unknown) => {
        if (!String(error).includes('ALREADY_EXISTS')) throw error;
      });
  }
  const [api] = (await buildFunctions(`${root}/.bench/functions`)).filter((f) => f.name === 'api');
  const fn = await startFunction(
    api!.dir,
    'api',
    {
      FIRESTORE_EMULATOR_HOST: backends.emulator.host,
      PUBSUB_EMULATOR_HOST: backends.pubsub.host,
      STORAGE_EMULATOR_HOST: backends.gcsUrl,
      RUNS_BUCKET: backends.bucket,
      GOOGLE_CLOUD_PROJECT: project,
      AUTH_MODE: 'dev',
      DEV_USER_EMAIL: USER,
      USER_TOUCH_INTERVAL_SECONDS: '3600',
      RATE_LIMIT_READS_PER_MINUTE: '0',
      LOG_LEVEL: 'WARNING',
    },
    // LOAD_PROFILE_DIR=dir: the api process writes a V8 CPU profile there when it stops.
    process.env.LOAD_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LOAD_PROFILE_DIR}`] : [],
  );
  let viaApi: Awaited<ReturnType<typeof drive>>;
  try {
    await fetch(`${fn.url}/api/runs`).then((r) => r.arrayBuffer());
    viaApi = await drive(CLIENTS, async (i) => {
      const path = i % 2 === 0 ? '/api/runs?page_size=25' : `/api/runs/${ids[i % RUNS]}`;
      const response = await fetch(`${fn.url}${path}`);
      await response.arrayBuffer();
      return response.status === 200;
    });
  } finally {
    await stopChild(fn.child);
  }
  // The same reads behind a bare Functions Framework function: HTTP and Firestore, nothing else.
  const bareDir = `${root}/.bench/bare-firestore-load`;
  await writeBareFirestoreFunction(bareDir, USER);
  const bareFn = await startFunction(
    bareDir,
    'bare',
    { FIRESTORE_EMULATOR_HOST: backends.emulator.host, GOOGLE_CLOUD_PROJECT: project },
    [],
    { path: '/runs' },
  );
  let bare: Awaited<ReturnType<typeof drive>>;
  try {
    bare = await drive(CLIENTS, async (i) => {
      const path = i % 2 === 0 ? '/runs' : `/runs/${ids[i % RUNS]}`;
      const response = await fetch(`${bareFn.url}${path}`);
      await response.arrayBuffer();
      return response.status === 200;
    });
  } finally {
    await stopChild(bareFn.child);
  }
  // The same reads, straight to the same emulator: the list (a page and its count) and the run.
  const runs = db.collection('runs');
  const direct = await drive(CLIENTS, async (i) => {
    if (i % 2 === 0) {
      const query = runs
        .where('user_email', '==', USER)
        .orderBy('created_at', 'desc')
        .orderBy(FieldPath.documentId(), 'desc');
      await Promise.all([query.limit(26).get(), query.count().get()]);
    } else await runs.doc(ids[i % RUNS]!).get();
    return true;
  });
  await db.terminate();
  const ratio = viaApi.rps / direct.rps;
  const overBare = viaApi.rps / bare.rps;
  const p99OverBare = viaApi.p99 / bare.p99;
  const tail = viaApi.p99 / viaApi.p50;
  // The emulator's own tail: the same reads issued directly, with no API in the way.
  const directTail = direct.p99 / direct.p50;
  console.log(
    `api: ${Math.round(viaApi.rps)}/s, p50 ${ms(viaApi.p50)}, p95 ${ms(viaApi.p95)}, p99 ${ms(viaApi.p99)} (${viaApi.failures} failed); direct: ${Math.round(direct.rps)}/s, p50 ${ms(direct.p50)}, p99 ${ms(direct.p99)} → throughput ${ratio.toFixed(2)}× direct, p99 ${tail.toFixed(1)}× p50 (direct: ${directTail.toFixed(1)}×)`,
  );
  console.log(
    `bare function, the same reads: ${Math.round(bare.rps)}/s, p50 ${ms(bare.p50)}, p99 ${ms(bare.p99)} → api throughput ${overBare.toFixed(2)}× the bare function's, api p99 ${p99OverBare.toFixed(2)}× its p99`,
  );
  return {
    clients: CLIENTS,
    seconds: SECONDS,
    api: viaApi,
    direct,
    throughput_ratio: ratio,
    bare,
    throughput_over_bare: overBare,
    p99_over_bare_p99: p99OverBare,
    p99_over_p50: tail,
    direct_p99_over_p50: directTail,
  };
}
