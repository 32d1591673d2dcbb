import type { TestProject } from 'vitest/node';
import { type RunningEmulator, startFirestoreEmulator } from '../scripts/lib/firestore-emulator';

declare module 'vitest' {
  export interface ProvidedContext {
    firestoreEmulatorHost: string;
  }
}

let emulator: RunningEmulator | null = null;

/** One Firestore emulator for the whole run; every test file uses its own project id in it. */
export async function setup(project: TestProject): Promise<void> {
  const existing = process.env.FIRESTORE_EMULATOR_HOST;
  if (existing) {
    project.provide('firestoreEmulatorHost', existing);
    return;
  }
  emulator = await startFirestoreEmulator();
  project.provide('firestoreEmulatorHost', emulator.host);
}

export async function teardown(): Promise<void> {
  await emulator?.stop();
}
