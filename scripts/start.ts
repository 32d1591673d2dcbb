/**
 * `npm start`: the whole local stack on http://localhost:8080 (PORT).
 * `npm start -- --fresh` starts with empty data. Ctrl-C stops everything and saves the data.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../functions/config';
import { jsonLogger, readableLogger } from '../functions/logging';
import { buildFunctions, buildOrchestrator, buildWeb } from './build';
import { startLocalStack } from './local/stack';
import { writeCatalog } from './pipelines-catalog';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const fresh = process.argv.includes('--fresh');
const port = Number(process.env.PORT ?? 8080);
const say = (line: string) => console.log(`[arc] ${line}`);

/** Whether something already listens on the port: asked before the slow start, not after it. */
function portTaken(portNumber: number, host: string): Promise<boolean> {
  if (portNumber === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE'));
    probe.listen(portNumber, host, () => probe.close(() => resolve(false)));
  });
}

async function main(): Promise<void> {
  const host = process.env.HOST ?? '127.0.0.1';
  if (await portTaken(port, host)) {
    say(
      `Something is already listening on ${port} (another Arc Reactor?). Stop it, or start on another port: PORT=${port + 1} npm start`,
    );
    process.exit(1);
  }
  say('Building the functions and the page…');
  await writeCatalog();
  await buildFunctions();
  await buildWeb();
  await buildOrchestrator();
  const stack = await startLocalStack({
    dataDir: process.env.ARC_DATA_DIR ?? join(root, '.data'),
    port,
    host,
    fresh,
    webDir: join(root, 'dist', 'web'),
    exportIntervalMs: 30_000,
    // Lines a person reads (LOG_FORMAT=json: the JSON lines Cloud Logging reads, as deployed).
    logger: process.env.LOG_FORMAT === 'json' ? jsonLogger() : readableLogger(),
    onLog: say,
  });
  say(
    `Firestore emulator: ${stack.firestoreHost}   GCS: ${stack.gcs.url}   project: ${stack.config.project}`,
  );
  say(`Page:   ${stack.url}/`);
  say(`API:    ${stack.url}/api/health   (OpenAPI: ${stack.url}/api/openapi.json)`);
  say(
    stack.config.auth.mode === 'iap'
      ? 'Identity: IAP tokens only (AUTH_MODE=iap; npm run token -- you@example.com). Ctrl-C stops everything.'
      : `Signed in as ${stack.config.devUser?.email ?? 'nobody'} (DEV_USER_EMAIL). Ctrl-C stops everything.`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping and saving data…`);
    await stack.stop();
    say('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError || error instanceof Error ? `[arc] ${error.message}` : error);
  process.exit(1);
});
