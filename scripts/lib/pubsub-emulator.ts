/**
 * Google's official Pub/Sub emulator (the Cloud SDK's `pubsub-emulator` component) as a child
 * process: `npm start` and the test suite publish run status events to it with the real
 * `@google-cloud/pubsub` client.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Message, PubSub } from '@google-cloud/pubsub';
import { emulatorCredentials } from '../../functions/deps/platform';
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

/** The real Pub/Sub client, pointed at the emulator (scripts and tests; functions build their own). */
export function emulatorPubSub(host: string, project: string): PubSub {
  return new PubSub({
    projectId: project,
    apiEndpoint: host,
    emulatorMode: true,
    credentials: emulatorCredentials,
  });
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

export interface PulledMessage {
  id: string;
  data: Buffer;
  attributes: Record<string, string>;
  publishTime: string;
  orderingKey?: string;
}

/**
 * Eventarc's push subscription, locally: an ordered subscription to `topic` in the emulator
 * whose messages go to `deliver`, acked when it answers true and nacked (redelivered) when
 * not. Answers a function that stops it.
 */
export async function pushSubscription(
  host: string,
  project: string,
  topic: string,
  deliver: (message: PulledMessage, subscription: string, topic: string) => Promise<boolean>,
  onError: (error: Error) => void = () => {},
): Promise<() => Promise<void>> {
  const pubsub = emulatorPubSub(host, project);
  const name = `eventarc-local-${topic}`;
  const subscription = pubsub.subscription(name);
  const [exists] = await subscription.exists();
  if (!exists)
    await pubsub
      .topic(topic)
      .createSubscription(name, { enableMessageOrdering: true, ackDeadlineSeconds: 60 });
  subscription.on('message', (message: Message) => {
    deliver(
      {
        id: message.id,
        data: message.data,
        attributes: message.attributes,
        publishTime: message.publishTime.toISOString(),
        ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
      },
      subscription.name,
      `projects/${project}/topics/${topic}`,
    ).then(
      (taken) => (taken ? message.ack() : message.nack()),
      () => message.nack(),
    );
  });
  subscription.on('error', onError);
  return async () => {
    await subscription.close();
    await pubsub.close();
  };
}
