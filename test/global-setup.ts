import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { addPageToApi, buildFunctions, buildOrchestrator, buildWeb } from '../scripts/build';
import { type RunningEmulator, startFirestoreEmulator } from '../scripts/lib/firestore-emulator';
import { type JavaEmulator, startPubSubEmulator } from '../scripts/lib/pubsub-emulator';
import { type DemoWarehouse, startDemoWarehouse } from '../scripts/local/warehouse';

declare module 'vitest' {
  export interface ProvidedContext {
    firestoreEmulatorHost: string;
    /** One Pub/Sub emulator for the run; each test file's project id has its own topics. */
    pubsubEmulatorHost: string;
    /** The orchestrator built for this test run (not dist/, which `npm start` tests rebuild). */
    orchestratorDir: string;
    /** The web page built for this test run. */
    webDir: string;
    /** The deployable function bundles built for this test run (dist/functions is rebuilt by `npm start` tests). */
    functionsDir: string;
    /** The demo Benchling warehouse, seeded for `referenceDay`; test files clone its database. */
    warehouse: {
      port: number;
      admin: { user: string; password: string };
      reader: { user: string; password: string };
      referenceDay: string;
    };
  }
}

let emulator: RunningEmulator | null = null;
let pubsub: JavaEmulator | null = null;
let buildDir: string | null = null;
let warehouse: DemoWarehouse | null = null;

/** One Firestore emulator for the whole run; every test file uses its own project id in it. */
export async function setup(project: TestProject): Promise<void> {
  // Inside the project, so the bundle resolves node_modules like dist/ does.
  await mkdir(join(process.cwd(), '.build'), { recursive: true });
  buildDir = await mkdtemp(join(process.cwd(), '.build', 'test-'));
  const orchestrator = await buildOrchestrator(join(buildDir, 'orchestrator'));
  project.provide('orchestratorDir', orchestrator.dir);
  const web = await buildWeb(join(buildDir, 'web'));
  project.provide('webDir', web.dir);
  await buildFunctions(join(buildDir, 'functions'));
  await addPageToApi(web.dir, join(buildDir, 'functions'));
  project.provide('functionsDir', join(buildDir, 'functions'));
  const referenceDay = new Date();
  warehouse = await startDemoWarehouse({ dataDir: join(buildDir, 'warehouse'), referenceDay });
  project.provide('warehouse', {
    port: warehouse.port,
    admin: warehouse.admin,
    reader: warehouse.reader,
    referenceDay: referenceDay.toISOString(),
  });
  if (process.env.PUBSUB_EMULATOR_HOST)
    project.provide('pubsubEmulatorHost', process.env.PUBSUB_EMULATOR_HOST);
  else {
    pubsub = await startPubSubEmulator();
    project.provide('pubsubEmulatorHost', pubsub.host);
  }
  const existing = process.env.FIRESTORE_EMULATOR_HOST;
  if (existing) {
    project.provide('firestoreEmulatorHost', existing);
    return;
  }
  emulator = await startFirestoreEmulator();
  project.provide('firestoreEmulatorHost', emulator.host);
}

export async function teardown(): Promise<void> {
  await warehouse?.stop();
  await emulator?.stop();
  await pubsub?.stop();
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
}
