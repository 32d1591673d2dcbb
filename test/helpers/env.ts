import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { REQUIRED_ON_CLOUD } from '../../functions/config';

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

/** What a deployment sets for each variable the functions need on Google Cloud (REQUIRED_ON_CLOUD). */
export const CLOUD_SAMPLE: Record<(typeof REQUIRED_ON_CLOUD)[number], string> = {
  GOOGLE_CLOUD_PROJECT: 'arc-test-project',
  RUNS_BUCKET: 'arc-test-runs',
  PUBLIC_URL: 'https://arc.example.org',
  NOTIFY_FROM_EMAIL: 'arc@example.org',
  ORCHESTRATOR_IMAGE: 'us-central1-docker.pkg.dev/arc-test-project/arc-reactor/orchestrator:0123abc',
  HAYSTACK_AGENT_IMAGE: 'us-central1-docker.pkg.dev/arc-test-project/arc-reactor/haystack-agent:0123abc',
  HAYSTACK_INFERENCE_IMAGE: 'us-central1-docker.pkg.dev/arc-test-project/arc-reactor/stack-inference:0123abc',
};
