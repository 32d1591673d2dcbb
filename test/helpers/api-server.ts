import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { type Config, loadConfig } from '../../functions/config';
import { createApiDeps, createFirestore } from '../../functions/deps';
import { type ApiDeps, createApiHandler } from '../../functions/http/api-app';
import { answerFrameworkErrorsAsJson } from '../../functions/http/framework-errors';
import { memoryLogger } from '../../functions/logging';
import { ensureTopic } from '../../scripts/lib/pubsub-emulator';
import { LocalGcsServer } from '../../scripts/local/gcs-server';
import { serveBatch } from '../../scripts/local/grpc/batch-service';
import { serveWorkflows } from '../../scripts/local/grpc/workflows-service';
import { LocalBatch } from '../../scripts/local/local-batch';
import { LocalWorkflows } from '../../scripts/local/local-workflows';
import { localSigner } from '../../scripts/local/signer';
import { firestoreEmulatorHost, pubsubEmulatorHost, tempDir, uniqueProjectId } from './env';
import { createFastqsFor, STANDARD_FASTQS } from './samplesheets';

let registered = 0;

export interface TestApi {
  url: string;
  config: Config;
  deps: ApiDeps;
  gcs: LocalGcsServer;
  batch: LocalBatch;
  workflows: LocalWorkflows;
  logs: ReturnType<typeof memoryLogger>;
  firestore: ReturnType<typeof createFirestore>;
  close(): Promise<void>;
}

/**
 * The real `api` function behind the real Functions Framework server, against the
 * Firestore emulator (a project of its own), a local GCS server in a temp dir, and the
 * Batch and Workflows twins over gRPC. Workflow executions are held at their first step,
 * so runs stay pending unless a test releases them.
 */
export interface TestApiOptions {
  env?: Record<string, string>;
  overrides?: Partial<ApiDeps>;
  /** Create the runs bucket in the local GCS server (default true). */
  createBucket?: boolean;
}

export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const { env = {}, overrides = {}, createBucket = true } = options;
  const dir = await tempDir('arc-gcs-');
  const gcs = new LocalGcsServer({ dataDir: dir.path });
  const gcsUrl = await gcs.start();
  const signer = localSigner('arc-test');
  gcs.trustSigner(signer.credentials.client_email, signer.publicKey);
  const batch = new LocalBatch({
    command: [process.execPath, '-e', 'process.exit(0)'],
    env: {},
    publish: () => {},
    logDir: `${dir.path}/batch-logs`,
  });
  const batchService = await serveBatch(batch);
  const workflows = new LocalWorkflows({
    definitionPath: 'workflows/run-pipeline.workflows.yaml',
    jobs: batch,
    holdAll: true,
  });
  const workflowsService = await serveWorkflows(workflows);
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: uniqueProjectId(),
    FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
    PUBSUB_EMULATOR_HOST: pubsubEmulatorHost(),
    STORAGE_EMULATOR_HOST: gcsUrl,
    RUNS_BUCKET: 'arc-test-runs',
    USER_TOUCH_INTERVAL_SECONDS: '0',
    AUTH_MODE: 'dev',
    // Suites launch many runs as one user; the limits have their own tests.
    RATE_LIMIT_LAUNCHES_PER_MINUTE: '0',
    RATE_LIMIT_READS_PER_MINUTE: '0',
    BATCH_EMULATOR_HOST: batchService.host,
    WORKFLOWS_EMULATOR_HOST: workflowsService.host,
    STORAGE_SIGNER_CREDENTIALS: JSON.stringify(signer.credentials),
    ...env,
  });
  if (config.emulators.pubsub)
    await ensureTopic(config.emulators.pubsub, config.project, config.runEventsTopic);
  if (createBucket) await gcs.createBucket(config.runsBucket);
  await createFastqsFor(gcs, STANDARD_FASTQS);
  const logs = memoryLogger();
  answerFrameworkErrorsAsJson(logs);
  const deps = createApiDeps(config, { logger: logs, ...overrides });
  const name = `api-test-${++registered}`;
  functions.http(name, createApiHandler(deps));
  const server: Server = getTestServer(name);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    deps,
    gcs,
    batch,
    workflows,
    logs,
    firestore: createFirestore(config),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const execution of workflows.list()) workflows.cancel(execution.name);
      await batch.shutdown();
      await batchService.stop();
      await workflowsService.stop();
      await deps.benchling.close();
      await gcs.stop();
      await dir.remove();
    },
  };
}

export function asUser(email: string): Record<string, string> {
  return { 'x-goog-authenticated-user-email': `accounts.google.com:${email}` };
}

export interface JsonResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export async function request<T = Record<string, unknown>>(
  url: string,
  init: { method?: string; headers?: Record<string, string>; json?: unknown; body?: string } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...init.headers };
  let body = init.body;
  if (init.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(init.json);
  }
  const response = await fetch(url, { method: init.method ?? 'GET', headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Non-JSON answers are returned as text so tests can show them.
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}
