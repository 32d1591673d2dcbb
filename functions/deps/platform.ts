import { randomBytes, randomUUID } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import type { Storage } from '@google-cloud/storage';
import { firestoreSdk, gaxSdk, onFirstUse, storageSdk } from '../adapters/google-sdks';
import type { PlatformConfig } from '../config/platform';
import type { Clock, Randomness } from '../core/shared/ports';

/**
 * What every function uses: Firestore, Cloud Storage, time and randomness. Each other client
 * is built in a file of its own here (secrets.ts, access.ts, runs.ts, workflows.ts,
 * task-logs.ts, benchling.ts), so a function's bundle imports only the clients it uses.
 */

export { VERSION } from '../core/shared/version';

export const systemClock: Clock = { now: () => new Date() };

export const systemRandomness: Randomness = { bytes: (n) => randomBytes(n), uuid: () => randomUUID() };

/**
 * Placeholder credentials for emulators and local twins: they stop the Google clients from
 * probing for Application Default Credentials; the insecure channel never sends them.
 */
export const emulatorCredentials = {
  client_email: 'emulator@localhost',
  private_key: 'not-used-by-emulators',
};

export function emulatorEndpoint(hostPort: string) {
  const [host, port] = hostPort.split(':');
  return {
    apiEndpoint: host!,
    port: Number(port),
    sslCreds: gaxSdk().grpc.credentials.createInsecure(),
    credentials: emulatorCredentials,
  };
}

/** Built on first use, like every client here: a function loads an SDK only when a request needs it. */
export function createFirestore(config: PlatformConfig): Firestore {
  return onFirstUse(() => {
    const { Firestore } = firestoreSdk();
    return new Firestore({
      projectId: config.project,
      databaseId: config.firestore.databaseId,
      ...(config.firestore.emulatorHost
        ? { host: config.firestore.emulatorHost, ssl: false, credentials: emulatorCredentials }
        : {}),
      ignoreUndefinedProperties: true,
    });
  });
}

/**
 * On GCP the function's own service account signs download links through the IAM
 * Credentials API (no key files); the local stack passes a generated key instead.
 */
export function createStorage(config: PlatformConfig): Storage {
  return onFirstUse(() => {
    const { Storage } = storageSdk();
    return new Storage({
      projectId: config.project,
      ...(config.storageEmulatorHost ? { apiEndpoint: config.storageEmulatorHost } : {}),
      ...(config.storageSigner ? { credentials: config.storageSigner } : {}),
    });
  });
}
