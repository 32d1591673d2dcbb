/**
 * What a cold instance loads (issue 22): the built api bundle, under the real Functions
 * Framework, loads no Google SDK to answer its liveness route, and only Firestore's to list
 * runs. Every SDK loaded at start cost the function most of its cold start.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAZY_SDKS } from '../../functions/adapters/google-sdks';
import { startBuiltFunction } from '../helpers/built-function';
import { firestoreEmulatorHost, tempDir, uniqueProjectId } from '../helpers/env';

// The Google Cloud clients a function loads on first use.
const SDKS: string[] = LAZY_SDKS.filter((sdk) => sdk.startsWith('@google-cloud/'));

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir('arc-cold-');
});
afterAll(async () => {
  await dir?.remove();
});

/** Starts the built api, sends `paths` in turn (each must answer 200), stops it: the packages it loaded. */
async function packagesLoadedFor(paths: string[]): Promise<string[]> {
  const file = join(dir.path, `loaded-${paths.length}-${Date.now()}.txt`);
  const api = await startBuiltFunction('api', {
    NODE_OPTIONS: `--require ${resolve('test/helpers/loaded-packages.cjs')}`,
    LOADED_PACKAGES_FILE: file,
    GOOGLE_CLOUD_PROJECT: uniqueProjectId('arc-cold'),
    FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
    STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9',
    RUNS_BUCKET: 'arc-cold-runs',
    AUTH_MODE: 'dev',
    DEV_USER_EMAIL: 'cold@example.com',
    METADATA_SERVER_DETECTION: 'none',
  });
  try {
    for (const path of paths) expect((await fetch(`${api.url}${path}`)).status).toBe(200);
  } finally {
    await api.stop();
  }
  return (await readFile(file, 'utf8')).split('\n');
}

describe('a cold api instance', () => {
  it('answers its liveness route without loading any Google SDK', async () => {
    const loaded = await packagesLoadedFor(['/api/health']);
    // The probe works: the framework the instance runs on is there.
    expect(loaded).toContain('@google-cloud/functions-framework');
    expect(loaded.filter((p) => SDKS.includes(p))).toEqual([]);
    expect(loaded).not.toContain('google-gax');
  });

  it('lists runs with Firestore alone: no Batch, Workflows, Logging, Secret Manager, Pub/Sub or Storage', async () => {
    const loaded = await packagesLoadedFor(['/api/health', '/api/runs']);
    expect(loaded.filter((p) => SDKS.includes(p))).toEqual(['@google-cloud/firestore']);
  });
});
