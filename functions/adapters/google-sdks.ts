/**
 * Google's SDKs, each loaded when a request first needs it rather than when a function's
 * bundle loads. Loading them all cost an instance most of its cold start (issue 22: the api
 * function answered its first request 5× later than a bare Functions Framework). `npm run
 * build` keeps these packages external, so the require here resolves the copy installed
 * beside the bundle; Node caches each after its first load.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/** The packages loaded here, by name: `npm run build` lists each one a bundle can load. */
export const LAZY_SDKS = [
  '@google-cloud/firestore',
  '@google-cloud/storage',
  '@google-cloud/batch',
  '@google-cloud/workflows',
  '@google-cloud/logging',
  '@google-cloud/secret-manager',
  '@google-cloud/pubsub',
  'google-gax',
  'google-auth-library',
] as const;

// One function per SDK (not one object), so a bundle keeps only the loaders it calls.
export const firestoreSdk = () => load('@google-cloud/firestore') as typeof import('@google-cloud/firestore');
export const storageSdk = () => load('@google-cloud/storage') as typeof import('@google-cloud/storage');
export const batchSdk = () => load('@google-cloud/batch') as typeof import('@google-cloud/batch');
export const workflowsSdk = () => load('@google-cloud/workflows') as typeof import('@google-cloud/workflows');
export const loggingSdk = () => load('@google-cloud/logging') as typeof import('@google-cloud/logging');
export const secretManagerSdk = () =>
  load('@google-cloud/secret-manager') as typeof import('@google-cloud/secret-manager');
export const pubsubSdk = () => load('@google-cloud/pubsub') as typeof import('@google-cloud/pubsub');
export const gaxSdk = () => load('google-gax') as typeof import('google-gax');
export const authSdk = () => load('google-auth-library') as typeof import('google-auth-library');

/**
 * `build()`'s value, built when one of its properties is first read: a client handed to the
 * adapters at start costs nothing until a request uses it. Methods run on the built value
 * (`this` is the client, not this wrapper).
 */
export function onFirstUse<T extends object>(build: () => T): T {
  let built: T | undefined;
  const target = () => (built ??= build());
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy({} as T, {
    get(_, key) {
      const real = target();
      const value: unknown = Reflect.get(real, key, real);
      if (typeof value !== 'function') return value;
      let method = bound.get(key);
      if (method === undefined || (method as { original?: unknown }).original !== value) {
        method = Object.assign((value as (...args: unknown[]) => unknown).bind(real), { original: value });
        bound.set(key, method);
      }
      return method;
    },
    set: (_, key, value) => Reflect.set(target(), key, value),
    has: (_, key) => Reflect.has(target(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(target()),
  });
}
