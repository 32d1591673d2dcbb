import { randomBytes } from 'node:crypto';
import { RunStatusCloudEvent } from '../../functions/core/shared/run-events';
import { emulatorPubSub } from '../../scripts/lib/pubsub-emulator';

export interface ReceivedEvent {
  event: RunStatusCloudEvent;
  attributes: Record<string, string>;
  orderingKey: string;
}

/**
 * A subscriber of the stack's `arc-run-events` topic in the Pub/Sub emulator, as another
 * system would subscribe (an ordered subscription, the real client): what goes out of the platform.
 */
export async function subscribeToRunEvents(
  host: string,
  project: string,
  topic: string,
): Promise<{
  received: ReceivedEvent[];
  /**
   * Resolves once every message published on `orderingKey` before it has been received: a
   * marker goes out on that key after them, and an ordered subscription delivers it last. So
   * "exactly once" is checked with nothing left in flight, without sleeping.
   */
  barrier(orderingKey: string): Promise<void>;
  close(): Promise<void>;
}> {
  const pubsub = emulatorPubSub(host, project);
  const [subscription] = await pubsub
    .topic(topic)
    .createSubscription(`test-${randomBytes(4).toString('hex')}`, { enableMessageOrdering: true });
  const received: ReceivedEvent[] = [];
  const markers = new Map<string, () => void>();
  subscription.on('message', (message) => {
    const marker = message.attributes.barrier;
    if (marker) {
      message.ack();
      markers.get(marker)?.();
      return;
    }
    received.push({
      event: RunStatusCloudEvent.parse(JSON.parse(message.data.toString('utf8'))),
      attributes: message.attributes,
      orderingKey: message.orderingKey ?? '',
    });
    message.ack();
  });
  const publisher = pubsub.topic(topic, { messageOrdering: true });
  return {
    received,
    async barrier(orderingKey) {
      const marker = randomBytes(6).toString('hex');
      const arrived = new Promise<void>((resolve) => markers.set(marker, resolve));
      await publisher.publishMessage({
        data: Buffer.from('{}'),
        attributes: { barrier: marker },
        orderingKey,
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        arrived,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`the barrier on ${orderingKey} did not arrive in 15 s`)),
            15_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    },
    async close() {
      await subscription.close();
      await subscription.delete().catch(() => {});
      await pubsub.close();
    },
  };
}
