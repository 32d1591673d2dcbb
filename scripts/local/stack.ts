/**
 * The whole system on one machine: the official Firestore emulator, the local GCS server,
 * the `api` function behind the real Functions Framework server, and the web page, all on
 * loopback. `npm start` runs it; tests and benchmarks start it in-process.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import express from 'express';
import { type Config, loadConfig } from '../../functions/config';
import { createApiDeps } from '../../functions/deps';
import { type ApiDeps, createApiHandler } from '../../functions/http/api-app';
import { answerFrameworkErrorsAsJson } from '../../functions/http/framework-errors';
import { jsonLogger, type Logger } from '../../functions/logging';
import { latestExport, type RunningEmulator, startFirestoreEmulator } from '../lib/firestore-emulator';
import { LocalGcsServer } from './gcs-server';

export interface LocalStackOptions {
  /** Where emulator exports and GCS objects live between restarts. */
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
  logger?: Logger;
  /** Export Firestore this often (ms) so data survives a crash; 0 disables. */
  exportIntervalMs?: number;
  apiOverrides?: Partial<ApiDeps>;
  onLog?: (line: string) => void;
}

export interface RunningStack {
  url: string;
  config: Config;
  gcs: LocalGcsServer;
  firestoreHost: string;
  stop(): Promise<void>;
}

let registeredStacks = 0;

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startLocalStack(options: LocalStackOptions): Promise<RunningStack> {
  const say = options.onLog ?? (() => {});
  const host = options.host ?? '127.0.0.1';
  if (options.fresh) await rm(options.dataDir, { recursive: true, force: true });
  await mkdir(options.dataDir, { recursive: true });
  const exportDir = join(options.dataDir, 'firestore');

  const env: Record<string, string | undefined> = {
    GOOGLE_CLOUD_PROJECT: 'arc-reactor-local',
    DEV_USER_EMAIL: 'dev@example.com',
    DEV_USER_NAME: 'Dev User',
    ...process.env,
    ...options.env,
  };

  let emulator: RunningEmulator | null = null;
  let firestoreHost = env.FIRESTORE_EMULATOR_HOST;
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

  const gcs = new LocalGcsServer({ dataDir: join(options.dataDir, 'gcs'), host });
  const gcsUrl = await gcs.start();
  const config = loadConfig({
    ...env,
    FIRESTORE_EMULATOR_HOST: firestoreHost,
    STORAGE_EMULATOR_HOST: gcsUrl,
  });
  await gcs.createBucket(config.runsBucket);

  const logger = options.logger ?? jsonLogger();
  answerFrameworkErrorsAsJson(logger);
  const name = `api-local-${++registeredStacks}`;
  functions.http(name, createApiHandler(createApiDeps(config, { logger, ...options.apiOverrides })));
  const apiListener = getTestServer(name).listeners('request')[0] as (
    req: IncomingMessage,
    res: ServerResponse,
  ) => void;

  const page = express();
  page.disable('x-powered-by');
  const webDir = options.webDir;
  if (webDir && existsSync(join(webDir, 'index.html'))) {
    page.use(express.static(webDir, { index: 'index.html', fallthrough: true }));
    page.use((_req, res) => res.sendFile(join(webDir, 'index.html')));
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
    if (req.url === '/api' || req.url?.startsWith('/api/')) apiListener(req, res);
    else page(req, res);
  });
  const port = await listen(server, options.port, host);

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
    config,
    gcs,
    firestoreHost,
    async stop() {
      if (timer) clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try {
        await saveData();
      } catch (error) {
        say(`Could not save Firestore data: ${String(error)}`);
      }
      await gcs.stop();
      await emulator?.stop();
    },
  };
}
