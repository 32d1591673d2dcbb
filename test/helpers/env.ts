import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';

/** A Firestore project id no other test file uses, so files can run in parallel. */
export function uniqueProjectId(prefix = 'arc-test'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export function firestoreEmulatorHost(): string {
  return inject('firestoreEmulatorHost');
}

export function pubsubEmulatorHost(): string {
  return inject('pubsubEmulatorHost');
}

export async function tempDir(prefix = 'arc-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
