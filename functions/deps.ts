import { randomBytes, randomUUID } from 'node:crypto';
import { Firestore } from '@google-cloud/firestore';
import { Storage } from '@google-cloud/storage';
import { FirestoreRunStore } from './adapters/firestore-run-store';
import { FirestoreUserStore } from './adapters/firestore-user-store';
import { GcsObjectStore } from './adapters/gcs-object-store';
import type { Config } from './config';
import type { Clock, Randomness } from './core/ports';
import type { ApiDeps } from './http/api-app';
import { jsonLogger } from './logging';

export const VERSION = '0.1.0';

export const systemClock: Clock = { now: () => new Date() };
export const systemRandomness: Randomness = { bytes: (n) => randomBytes(n), uuid: () => randomUUID() };

const EMULATOR_CREDENTIALS = { client_email: 'emulator@localhost', private_key: 'not-used-by-the-emulator' };

export function createFirestore(config: Config): Firestore {
  return new Firestore({
    projectId: config.project,
    databaseId: config.firestore.databaseId,
    // Placeholder credentials stop the client from probing for Application Default Credentials;
    // the emulator accepts any caller on its insecure channel.
    ...(config.firestore.emulatorHost
      ? { host: config.firestore.emulatorHost, ssl: false, credentials: EMULATOR_CREDENTIALS }
      : {}),
    ignoreUndefinedProperties: true,
  });
}

export function createStorage(config: Config): Storage {
  return new Storage({
    projectId: config.project,
    ...(config.storageEmulatorHost ? { apiEndpoint: config.storageEmulatorHost } : {}),
  });
}

/** Builds everything the api function needs, once per instance. Tests pass overrides. */
export function createApiDeps(config: Config, overrides: Partial<ApiDeps> = {}): ApiDeps {
  const db = createFirestore(config);
  const objects = new GcsObjectStore(createStorage(config), config.runsBucket);
  return {
    runs: new FirestoreRunStore(db),
    users: new FirestoreUserStore(db, config.userTouchIntervalMs),
    objects,
    clock: systemClock,
    random: systemRandomness,
    identity: { devUser: config.devUser, adminEmails: config.adminEmails },
    logger: jsonLogger(),
    readiness: [
      { name: 'firestore', check: async () => void (await db.collection('runs').limit(1).get()) },
      { name: 'storage', check: () => objects.ping() },
    ],
    version: VERSION,
    ...overrides,
  };
}
