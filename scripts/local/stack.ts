/**
 * The whole system on one machine (ARCHITECTURE §9): the official Firestore emulator, the
 * local GCS server, the Batch and Workflows twins (real gRPC peers for the real client
 * libraries), the event bridge (Eventarc's twin), every function behind the real Functions
 * Framework, and the web page — all on loopback. `npm start` runs it; tests and benchmarks
 * start it in-process.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import express from 'express';
import { type Config, loadConfig } from '../../functions/config';
import { failRunsOrphanedByRestart, type SweepReport } from '../../functions/core/shared/kernel';
import type { Clock } from '../../functions/core/shared/ports';
import type { RunKind } from '../../functions/core/shared/run-kind';
import {
  createApiDeps,
  createBatchRunner,
  createExecutionDeps,
  createFirestore,
  createKernelDeps,
  createRunKinds,
  createSweepDeps,
} from '../../functions/deps';
import { createHaystackDeps } from '../../functions/deps/haystack';
import { createNotifierDeps, createRunEventReactions } from '../../functions/deps/notifications';
import { createPage } from '../../functions/deps/page';
import {
  createBatchJobEventHandler,
  createRunArtifactHandler,
} from '../../functions/events/batch-job-events';
import { createRunEventNotifierHandler } from '../../functions/events/run-status-notifier';
import { type ApiDeps, createApiHandler } from '../../functions/http/api-app';
import { answerFrameworkErrorsAsJson } from '../../functions/http/framework-errors';
import { createHaystackHandler } from '../../functions/http/haystack-app';
import { createSweepStaleRunsHandler } from '../../functions/http/sweep-endpoint';
import { createPrepareRunHandler, createReconcileRunHandler } from '../../functions/http/workflow-steps';
import { jsonLogger, type Logger } from '../../functions/logging';
import {
  latestExport,
  loadFirestoreRules,
  type RunningEmulator,
  startFirestoreEmulator,
} from '../lib/firestore-emulator';
import { startLocalIap } from '../lib/local-iap';
import { ensureTopic, pushSubscription, startPubSubEmulator } from '../lib/pubsub-emulator';
import { AnthropicTwin, DEMO_MODEL_LABEL } from './anthropic/twin';
import { EventBridge, PUBSUB_PUBLISHED, STORAGE_FINALIZED } from './event-bridge';
import { LocalGcsServer } from './gcs-server';
import { serveBatch } from './grpc/batch-service';
import { serveWorkflows } from './grpc/workflows-service';
import { LocalBatch } from './local-batch';
import { LocalWorkflows } from './local-workflows';
import { SendGridTwin } from './sendgrid/twin';
import { localSigner } from './signer';
import { createDemoFastqs, EXAMPLE_FASTQS, startDemoWarehouse } from './warehouse';
import { DEMO_FASTQ_BUCKET } from './warehouse-seed';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');

export interface LocalStackOptions {
  /** Where emulator exports, GCS objects and Batch task logs live between restarts. */
  dataDir: string;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Start empty: delete dataDir first. */
  fresh?: boolean;
  /** Extra env for the functions (over the stack's defaults). */
  env?: Record<string, string>;
  /** Directory of the built web page; a placeholder is served when missing. */
  webDir?: string;
  /** Directory of the built orchestrator (main.js, nextflow-replay.js). */
  orchestratorDir?: string;
  logger?: Logger;
  /** Export Firestore this often (ms) so data survives a crash; 0 disables. */
  exportIntervalMs?: number;
  /** Recorded seconds the replay executor plays per real second. */
  replaySpeed?: number;
  apiOverrides?: Partial<ApiDeps>;
  /**
   * Kinds of run beyond the platform's list (functions/deps/run-kinds.ts), given to the step
   * functions, onBatchJobEvent, the sweep and the restart check: how a test proves that a new
   * kind needs nothing but its folder and a line in the list.
   */
  moreKinds?: (config: Config) => RunKind[];
  /** The stale-run sweeper's clock (tests move it forward instead of waiting); default the system's. */
  sweepClock?: Clock;
  /**
   * demo (default unless WAREHOUSE_HOST is set): start the demo Benchling warehouse and put
   * its FASTQs in the local GCS server; none: no warehouse (the Benchling API answers 503).
   */
  warehouse?: 'demo' | 'none';
  /** Pause between the demo model's streamed words, ms (default 15; tests use 0). */
  assistantChunkDelayMs?: number;
  onLog?: (line: string) => void;
}

export interface RunningStack {
  url: string;
  functionsUrl: string;
  config: Config;
  gcs: LocalGcsServer;
  batch: LocalBatch;
  workflows: LocalWorkflows;
  bridge: EventBridge;
  firestoreHost: string;
  /** The Pub/Sub emulator run status events are published to. */
  pubsubHost: string;
  /** The SendGrid twin the notifier's email goes to (null when SENDGRID_BASE_URL is set). */
  sendgrid: SendGridTwin | null;
  /** Runs the stale-run sweeper now, the way the stack's timer (Cloud Scheduler's twin) does. */
  sweep(): Promise<SweepReport>;
  stop(): Promise<void>;
}

let registered = 0;

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** Registers a function with the Functions Framework and returns the framework's own request listener. */
function frameworkListener(register: (name: string) => void): Listener {
  const name = `arc-local-${++registered}`;
  register(name);
  return getTestServer(name).listeners('request')[0] as Listener;
}

/**
 * One stack a data folder: two would overwrite each other's emulator exports, objects and task
 * logs without a word. The folder is claimed with a lock file naming the process; a lock whose
 * process is gone (a crash) is taken over. Answers how to let it go.
 */
async function claimDataDir(dataDir: string, port: number): Promise<() => Promise<void>> {
  const lock = join(dataDir, 'stack.lock');
  await assertDataDirFree(dataDir, port);
  await writeFile(
    lock,
    `${JSON.stringify({ pid: process.pid, port, started_at: new Date().toISOString() })}\n`,
  );
  return async () => {
    await rm(lock, { force: true });
  };
}

/** Throws, saying what to do, when a live process other than this one holds the data folder. */
async function assertDataDirFree(dataDir: string, port: number): Promise<void> {
  const lock = join(dataDir, 'stack.lock');
  try {
    const held = JSON.parse(await readFile(lock, 'utf8')) as { pid?: number; port?: number };
    if (typeof held.pid === 'number' && held.pid !== process.pid && processAlive(held.pid)) {
      throw new Error(
        `Another Arc Reactor (process ${held.pid}${held.port ? `, port ${held.port}` : ''}) is using ${dataDir}: two stacks on one data folder would overwrite each other's runs. Stop it, or give this one a folder of its own: ARC_DATA_DIR=${dataDir}-${port || 'other'} PORT=${port || 8081} npm start`,
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && !(error instanceof SyntaxError)) throw error;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function nextflowOnPath(): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, 'nextflow'), constants.X_OK);
      return join(dir, 'nextflow');
    } catch {
      // keep looking
    }
  }
  return null;
}

export async function startLocalStack(options: LocalStackOptions): Promise<RunningStack> {
  const say = options.onLog ?? (() => {});
  const host = options.host ?? '127.0.0.1';
  // Before anything moves or writes it: another stack may be using the folder.
  await assertDataDirFree(options.dataDir, options.port);
  if (options.fresh && existsSync(options.dataDir)) {
    // Kept once, beside it: a --fresh typed by mistake loses nothing.
    const backup = `${options.dataDir}.before-fresh`;
    await rm(backup, { recursive: true, force: true });
    await rename(options.dataDir, backup);
    say(
      `--fresh: starting empty. The saved runs, files, task logs and warehouse data were moved to ${backup} (the previous backup there was replaced); move it back to ${options.dataDir} to undo.`,
    );
  }
  await mkdir(options.dataDir, { recursive: true });
  const releaseData = await claimDataDir(options.dataDir, options.port);
  const exportDir = join(options.dataDir, 'firestore');
  const orchestratorDir = resolve(options.orchestratorDir ?? join(root, 'dist', 'orchestrator'));
  if (!existsSync(join(orchestratorDir, 'main.js'))) {
    throw new Error(
      `The orchestrator is not built (${join(orchestratorDir, 'main.js')} is missing): run npm run build.`,
    );
  }
  const logger = options.logger ?? jsonLogger();
  const stoppers: (() => Promise<unknown>)[] = [releaseData];

  // AUTH_MODE=iap: identity only from a verified IAP token (npm run token); else the dev user.
  const authMode = options.env?.AUTH_MODE ?? process.env.AUTH_MODE ?? 'dev';
  const baseEnv: Record<string, string | undefined> = {
    GOOGLE_CLOUD_PROJECT: 'arc-reactor-local',
    // Locally nobody is in front to verify identity: the dev user, or the IAP email header.
    ...(authMode === 'dev'
      ? { AUTH_MODE: 'dev', DEV_USER_EMAIL: 'dev@example.com', DEV_USER_NAME: 'Dev User' }
      : {}),
    WORKFLOW_POLL_SECONDS: '1',
    CHUNK_INTERVAL_SECONDS: '1',
    LOG_POLL_SECONDS: '0.5',
    // Locally a webhook may be an http:// sink on this machine; production refuses them.
    NOTIFY_ALLOW_LOOPBACK_WEBHOOKS: 'true',
    ...process.env,
    ...options.env,
  };

  if (authMode === 'iap' && !baseEnv.IAP_JWKS_URL) {
    // Production's identity path, with IAP's keys played by a key kept in the data folder.
    const iap = await startLocalIap(options.dataDir);
    stoppers.push(() => iap.close());
    Object.assign(baseEnv, { ...iap.env, IAP_AUDIENCE: baseEnv.IAP_AUDIENCE ?? iap.env.IAP_AUDIENCE });
    say(
      'AUTH_MODE=iap: every request needs an IAP token (X-Goog-IAP-JWT-Assertion), as behind the load balancer; `npm run token -- you@example.com` prints one. The page has no IAP in front of it here, so it cannot sign in.',
    );
  }

  let emulator: RunningEmulator | null = null;
  let firestoreHost = baseEnv.FIRESTORE_EMULATOR_HOST;
  if (firestoreHost) {
    say(`Using the Firestore emulator at ${firestoreHost} (FIRESTORE_EMULATOR_HOST).`);
  } else {
    const importFrom = await latestExport(exportDir);
    say(
      importFrom
        ? 'Starting the Firestore emulator with the saved data…'
        : 'Starting the Firestore emulator…',
    );
    emulator = await startFirestoreEmulator({ importFrom });
    firestoreHost = emulator.host;
  }

  try {
    if (baseEnv.PUBSUB_EMULATOR_HOST) {
      say(`Using the Pub/Sub emulator at ${baseEnv.PUBSUB_EMULATOR_HOST} (PUBSUB_EMULATOR_HOST).`);
    } else {
      say('Starting the Pub/Sub emulator…');
      const pubsub = await startPubSubEmulator();
      stoppers.push(() => pubsub.stop());
      baseEnv.PUBSUB_EMULATOR_HOST = pubsub.host;
    }
    const pubsubHost = baseEnv.PUBSUB_EMULATOR_HOST;
    // The page reads Firestore directly: the production rules apply locally too.
    await loadFirestoreRules(
      firestoreHost!,
      baseEnv.GOOGLE_CLOUD_PROJECT!,
      await readFile(join(root, 'infra', 'firestore.rules'), 'utf8'),
    );
    const gcs = new LocalGcsServer({ dataDir: join(options.dataDir, 'gcs'), host });
    const gcsUrl = await gcs.start();
    stoppers.push(() => gcs.stop());
    const signer = localSigner(baseEnv.GOOGLE_CLOUD_PROJECT!);
    gcs.trustSigner(signer.credentials.client_email, signer.publicKey);

    await createDemoFastqs(gcs, null, EXAMPLE_FASTQS);
    let warehouseEnv: Record<string, string> = {};
    if (!baseEnv.WAREHOUSE_HOST && (options.warehouse ?? 'demo') === 'demo') {
      say('Starting the demo Benchling warehouse (embedded PostgreSQL)…');
      const warehouse = await startDemoWarehouse({
        dataDir: join(options.dataDir, 'warehouse'),
        onLog: say,
      });
      stoppers.push(() => warehouse.stop());
      const files = await createDemoFastqs(gcs, warehouse.seed);
      say(
        `Demo warehouse: ${warehouse.seed.runs.length} NGS runs, ${warehouse.seed.samples.length} samples (postgresql://127.0.0.1:${warehouse.port}/${warehouse.database}); ${files} FASTQs in gs://${DEMO_FASTQ_BUCKET}.`,
      );
      warehouseEnv = warehouse.env();
    }

    // The assistant: Claude when a key is set; otherwise the local Anthropic twin's offline demo
    // model, labelled a stand-in wherever the page shows it.
    let assistantEnv: Record<string, string> = {};
    if (!baseEnv.ANTHROPIC_API_KEY && !baseEnv.SECRET_ANTHROPIC_API_KEY && !baseEnv.ANTHROPIC_BASE_URL) {
      const key = `local-${randomBytes(16).toString('hex')}`;
      const twin = new AnthropicTwin({ apiKey: key, chunkDelayMs: options.assistantChunkDelayMs ?? 15 });
      const url = await twin.start(0);
      stoppers.push(() => twin.stop());
      say(`Assistant: no ANTHROPIC_API_KEY, so the offline demo model answers (${DEMO_MODEL_LABEL}).`);
      assistantEnv = {
        ANTHROPIC_BASE_URL: url,
        ANTHROPIC_API_KEY: key,
        ASSISTANT_MODEL_LABEL: DEMO_MODEL_LABEL,
      };
    } else {
      say('Assistant: Claude (ANTHROPIC_API_KEY is set).');
    }

    // Notification email goes to the SendGrid twin unless a SendGrid URL is configured.
    let sendgrid: SendGridTwin | null = null;
    let sendgridEnv: Record<string, string> = {};
    if (!baseEnv.SENDGRID_BASE_URL) {
      const key = `SG.local-${randomBytes(12).toString('hex')}`;
      sendgrid = new SendGridTwin({
        apiKey: key,
        onMail: (mail) => say(`Email (SendGrid twin, not sent): to ${mail.to.join(', ')}: ${mail.subject}`),
      });
      const url = await sendgrid.start(0, '127.0.0.1');
      const twin = sendgrid;
      stoppers.push(() => twin.stop());
      sendgridEnv = { SENDGRID_BASE_URL: url, SECRET_SENDGRID_API_KEY: key };
    }

    // The functions host answers before the functions exist: their dependencies need the URLs.
    const routes = new Map<string, Listener>();
    const functionsHost = createServer((req, res) => {
      const name = (req.url ?? '/').split('?')[0]!.split('/')[1] ?? '';
      const listener = routes.get(name);
      if (listener) listener(req, res);
      else
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: 'not_found', message: `No function ${name}` } }));
    });
    const functionsPort = await listen(functionsHost, 0, host);
    const functionsUrl = `http://${host}:${functionsPort}`;
    stoppers.push(() => close(functionsHost));

    const nextflow = baseEnv.NXF_BIN ?? nextflowOnPath();
    const executor = nextflow ? 'local' : 'replay';
    const project = baseEnv.GOOGLE_CLOUD_PROJECT!;
    const bridge = new EventBridge({ project, log: (message) => logger.log('WARNING', message) });
    const batch = new LocalBatch({
      command: [process.execPath, join(orchestratorDir, 'main.js')],
      env: {
        STORAGE_EMULATOR_HOST: gcsUrl,
        REPLAY_SPEED: String(options.replaySpeed ?? 500),
        ...(nextflow ? { NXF_BIN: nextflow } : { NXF_BIN: join(orchestratorDir, 'nextflow-replay.js') }),
      },
      publish: (message) => bridge.publish(message),
      logDir: join(options.dataDir, 'batch-logs'),
      // Jobs run their image's program: HAYSTACK's agent, and the STACK stand-in for inference.
      programs: [
        {
          image: 'haystack-agent',
          // The bundle the haystack-agent image runs (orchestrator/haystack/Dockerfile).
          command: [process.execPath, join(orchestratorDir, 'haystack-agent.js')],
        },
        {
          image: 'stack-inference',
          command: [
            process.execPath,
            '--import',
            'tsx',
            join(root, 'orchestrator', 'haystack', 'stack-standin.ts'),
          ],
        },
      ],
    });
    stoppers.push(() => batch.shutdown());
    const batchService = await serveBatch(batch);
    stoppers.push(() => batchService.stop());

    const preliminary = loadConfig({
      ...baseEnv,
      FIRESTORE_EMULATOR_HOST: firestoreHost,
      STORAGE_EMULATOR_HOST: gcsUrl,
      BATCH_EMULATOR_HOST: batchService.host,
    });
    const workflows = new LocalWorkflows({
      definitionPath: join(root, 'workflows', 'run-pipeline.workflows.yaml'),
      jobs: createBatchRunner(preliminary),
      env: { GOOGLE_CLOUD_PROJECT_ID: project, GOOGLE_CLOUD_LOCATION: preliminary.region },
      log: (severity, message) => logger.log(severity === 'ERROR' ? 'ERROR' : 'INFO', `workflow: ${message}`),
    });
    stoppers.push(async () => {
      for (const execution of workflows.list()) workflows.cancel(execution.name);
    });
    const workflowsService = await serveWorkflows(workflows);
    stoppers.push(() => workflowsService.stop());

    const config = loadConfig({
      ...baseEnv,
      ...warehouseEnv,
      ...assistantEnv,
      ...sendgridEnv,
      FIRESTORE_EMULATOR_HOST: firestoreHost,
      STORAGE_EMULATOR_HOST: gcsUrl,
      BATCH_EMULATOR_HOST: batchService.host,
      WORKFLOWS_EMULATOR_HOST: workflowsService.host,
      FUNCTIONS_BASE_URL: functionsUrl,
      EXECUTOR: executor,
      STORAGE_SIGNER_CREDENTIALS: JSON.stringify(signer.credentials),
    });
    await gcs.createBucket(config.runsBucket);
    await ensureTopic(pubsubHost, config.project, config.runEventsTopic);
    const notifierDeps = createNotifierDeps(config, { logger });
    routes.set(
      'onRunEvent',
      frameworkListener((name) =>
        functions.cloudEvent(
          name,
          createRunEventNotifierHandler(notifierDeps, createRunEventReactions(config, logger)),
        ),
      ),
    );
    // Eventarc's twin for the run status topic: a subscription in the emulator, each message
    // pushed to onRunEvent and acknowledged once it took it (redelivered otherwise).
    stoppers.push(
      await pushSubscription(
        pubsubHost,
        config.project,
        config.runEventsTopic,
        (message, subscription, topic) =>
          bridge.deliverPulled(message, subscription, topic, `${functionsUrl}/onRunEvent`),
        (error) => logger.log('WARNING', `run events subscription: ${error.message}`),
      ),
    );

    answerFrameworkErrorsAsJson(logger);
    const kinds = [
      ...createRunKinds(config, createFirestore(config), logger),
      ...(options.moreKinds?.(config) ?? []),
    ];
    const kernelDeps = createKernelDeps(config, { logger, kinds });
    routes.set(
      'prepareRun',
      frameworkListener((name) => functions.http(name, createPrepareRunHandler(kernelDeps))),
    );
    routes.set(
      'reconcileRun',
      frameworkListener((name) => functions.http(name, createReconcileRunHandler(kernelDeps))),
    );
    routes.set(
      'onBatchJobEvent',
      frameworkListener((name) => functions.cloudEvent(name, createBatchJobEventHandler(kernelDeps))),
    );
    const executionDeps = createExecutionDeps(config, { logger });
    routes.set(
      'onRunArtifact',
      frameworkListener((name) => functions.cloudEvent(name, createRunArtifactHandler(executionDeps))),
    );

    routes.set(
      'sweepStaleRuns',
      frameworkListener((name) =>
        functions.http(
          name,
          createSweepStaleRunsHandler(
            createSweepDeps(config, {
              logger,
              kinds,
              ...(options.sweepClock ? { clock: options.sweepClock } : {}),
            }),
          ),
        ),
      ),
    );
    // Cloud Scheduler's twin: POST {} to sweepStaleRuns every SWEEP_INTERVAL_SECONDS.
    const sweep = async (): Promise<SweepReport> => {
      const response = await fetch(`${functionsUrl}/sweepStaleRuns`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      const body = (await response.json()) as SweepReport & { error?: { message: string } };
      if (!response.ok) throw new Error(`sweepStaleRuns answered ${response.status}: ${body.error?.message}`);
      return body;
    };
    let sweeping: Promise<unknown> | null = null;
    const sweepTimer =
      config.sweep.intervalMs > 0
        ? setInterval(() => {
            sweeping ??= sweep()
              .catch((error: unknown) => logger.log('WARNING', `stale-run sweep: ${String(error)}`))
              .finally(() => {
                sweeping = null;
              });
          }, config.sweep.intervalMs)
        : null;
    sweepTimer?.unref();
    stoppers.push(async () => {
      if (sweepTimer) clearInterval(sweepTimer);
      await sweeping;
    });

    bridge.subscribe({
      type: PUBSUB_PUBLISHED,
      topic: `projects/${config.project}/topics/${config.batchEventsTopic}`,
      url: `${functionsUrl}/onBatchJobEvent`,
    });
    bridge.subscribe({
      type: STORAGE_FINALIZED,
      bucket: config.runsBucket,
      url: `${functionsUrl}/onRunArtifact`,
    });
    gcs.onFinalize((object) => bridge.storageFinalized(object));

    // This stack's Batch jobs and workflow executions died with the last one: runs that were
    // going then are failed now, saying so, rather than shown running until the sweeper looks.
    const orphaned = await failRunsOrphanedByRestart(createSweepDeps(config, { logger, kinds }));
    if (orphaned.length > 0)
      say(
        `${orphaned.length} run(s) that were going when the stack last stopped are now failed (${orphaned.map((c) => c.run_id).join(', ')}); Recover resumes them.`,
      );

    const apiDeps = createApiDeps(config, { logger, ...options.apiOverrides });
    stoppers.push(() => apiDeps.benchling.close());
    const apiListener = frameworkListener((name) => functions.http(name, createApiHandler(apiDeps)));
    // HAYSTACK's API is a function of its own; /api/v1/* goes to it, as the load balancer sends it.
    const haystackListener = frameworkListener((name) =>
      functions.http(name, createHaystackHandler(createHaystackDeps(config, { logger }))),
    );

    const page = express();
    page.disable('x-powered-by');
    const webDir = options.webDir;
    if (webDir && existsSync(join(webDir, 'index.html'))) {
      // As the api function serves it in production (functions/http/web-page.ts); the page talks
      // to its own origin (the API) and to the Firestore emulator.
      const serve = createPage({ ...config, webDir })!;
      page.use((req, res, next) => {
        serve(req, res).catch(next);
      });
    } else {
      page.use((_req, res) => {
        res
          .type('text/plain')
          .send(
            'Arc Reactor is running. The web page is not built: run `npm run build`. The API is at /api.\n',
          );
      });
    }
    const server = createServer((req, res) => {
      if (req.url === '/api/v1' || req.url?.startsWith('/api/v1/')) haystackListener(req, res);
      else if (req.url === '/api' || req.url?.startsWith('/api/')) apiListener(req, res);
      else page(req, res);
    });
    const port = await listen(server, options.port, host);
    stoppers.push(() => close(server));
    // Links in notifications lead to this page.
    notifierDeps.settings.publicUrl =
      baseEnv.PUBLIC_URL ?? `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    say(
      `Executor: ${executor}${nextflow ? ` (${nextflow})` : ' (no nextflow on PATH: runs replay a recorded nf-core/scrnaseq execution)'}`,
    );

    const saveData = async () => {
      if (emulator) await emulator.exportTo(config.project, exportDir);
    };
    const timer =
      emulator && (options.exportIntervalMs ?? 0) > 0
        ? setInterval(() => {
            saveData().catch((error: unknown) => say(`Could not save Firestore data: ${String(error)}`));
          }, options.exportIntervalMs)
        : null;
    timer?.unref();

    return {
      url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
      functionsUrl,
      config,
      gcs,
      batch,
      workflows,
      bridge,
      firestoreHost,
      pubsubHost,
      sendgrid,
      sweep,
      async stop() {
        if (timer) clearInterval(timer);
        for (const stop of stoppers.reverse())
          await stop().catch((error: unknown) => say(`stop: ${String(error)}`));
        try {
          await saveData();
        } catch (error) {
          say(`Could not save Firestore data: ${String(error)}`);
        }
        await emulator?.stop();
      },
    };
  } catch (error) {
    for (const stop of stoppers.reverse()) await stop().catch(() => {});
    await emulator?.stop();
    throw error;
  }
}
