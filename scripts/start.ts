/**
 * `npm start`: the whole local stack on http://localhost:8080 (PORT).
 * `npm start -- --fresh` starts with empty data. Ctrl-C stops everything and saves the data.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../functions/config';
import { buildFunctions, buildOrchestrator, buildWeb } from './build';
import { startLocalStack } from './local/stack';
import { writeCatalog } from './pipelines-catalog';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const fresh = process.argv.includes('--fresh');
const port = Number(process.env.PORT ?? 8080);
const say = (line: string) => console.log(`[arc] ${line}`);

async function main(): Promise<void> {
  say('Building the functions and the page…');
  writeCatalog();
  await buildFunctions();
  await buildWeb();
  await buildOrchestrator();
  const stack = await startLocalStack({
    dataDir: process.env.ARC_DATA_DIR ?? join(root, '.data'),
    port,
    host: process.env.HOST ?? '127.0.0.1',
    fresh,
    webDir: join(root, 'dist', 'web'),
    exportIntervalMs: 30_000,
    onLog: say,
  });
  say(
    `Firestore emulator: ${stack.firestoreHost}   GCS: ${stack.gcs.url}   project: ${stack.config.project}`,
  );
  say(`Page:   ${stack.url}/`);
  say(`API:    ${stack.url}/api/health   (OpenAPI: ${stack.url}/api/openapi.json)`);
  say(`Signed in as ${stack.config.devUser?.email ?? 'nobody'} (DEV_USER_EMAIL). Ctrl-C stops everything.`);

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
