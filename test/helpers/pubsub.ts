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
): Promise<{ received: ReceivedEvent[]; close(): Promise<void> }> {
  const pubsub = emulatorPubSub(host, project);
  const [subscription] = await pubsub
    .topic(topic)
    .createSubscription(`test-${randomBytes(4).toString('hex')}`, { enableMessageOrdering: true });
  const received: ReceivedEvent[] = [];
  subscription.on('message', (message) => {
    received.push({
      event: RunStatusCloudEvent.parse(JSON.parse(message.data.toString('utf8'))),
      attributes: message.attributes,
      orderingKey: message.orderingKey ?? '',
    });
    message.ack();
  });
  return {
    received,
    async close() {
      await subscription.close();
      await subscription.delete().catch(() => {});
      await pubsub.close();
    },
  };
}
