/**
 * Google's official Pub/Sub emulator (the Cloud SDK's `pubsub-emulator` component) as a child
 * process: `npm start` and the test suite publish run status events to it with the real
 * `@google-cloud/pubsub` client.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { findSdkFile, type JavaEmulator, spawnJavaEmulator } from './firestore-emulator';

export type { JavaEmulator };

export const PUBSUB_INSTALL_HELP = [
  'The Pub/Sub emulator was not found. Install it with one of:',
  '  sudo apt-get install google-cloud-cli-pubsub-emulator openjdk-17-jre-headless   (Debian/Ubuntu, Google Cloud apt repo)',
  '  gcloud components install pubsub-emulator                                      (SDK installed with the installer)',
  'Or point PUBSUB_EMULATOR_HOST at an emulator that is already running.',
].join('\n');

export function findPubSubEmulatorJar(): string | null {
  const lib = findSdkFile('platform/pubsub-emulator/lib');
  if (!lib) return null;
  const jar = readdirSync(lib).find((name) => /^cloud-pubsub-emulator-.*\.jar$/.test(name));
  return jar ? join(lib, jar) : null;
}

export async function startPubSubEmulator(): Promise<JavaEmulator> {
  const jar = findPubSubEmulatorJar();
  if (!jar) throw new Error(PUBSUB_INSTALL_HELP);
  return spawnJavaEmulator('Pub/Sub emulator', (port) => [
    '-Duser.language=en',
    '-jar',
    jar,
    '--host=127.0.0.1',
    `--port=${port}`,
  ]);
}

/** Creates the topic in the emulator's project unless it exists (the emulator starts empty). */
export async function ensureTopic(host: string, project: string, topic: string): Promise<void> {
  const response = await fetch(
    `http://${host}/v1/projects/${encodeURIComponent(project)}/topics/${encodeURIComponent(topic)}`,
    { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' },
  );
  if (!response.ok && response.status !== 409)
    throw new Error(
      `The Pub/Sub emulator refused topic ${topic}: ${response.status} ${await response.text()}`,
    );
}
