import type { PubSub, Topic } from '@google-cloud/pubsub';
import type { MessagePublisher, OutgoingMessage } from '../core/shared/run-events';

/**
 * One Pub/Sub topic, with message ordering: messages of one ordering key (a run) reach an
 * ordered subscription in the order they were published. After a failed publish the client
 * pauses the key; it is resumed here so that the caller's retry can go out.
 */
export class PubSubPublisher implements MessagePublisher {
  private readonly topic: Topic;

  constructor(pubsub: PubSub, topic: string) {
    this.topic = pubsub.topic(topic, {
      messageOrdering: true,
      // Each event is published on its own, as soon as it is committed.
      batching: { maxMessages: 1, maxMilliseconds: 0 },
      // A publish that cannot get through fails soon: the event stays staged for the sweeper.
      gaxOpts: { timeout: 10_000 },
    });
  }

  async publish(message: OutgoingMessage): Promise<string> {
    try {
      return await this.topic.publishMessage({
        data: Buffer.from(message.data),
        attributes: message.attributes,
        orderingKey: message.orderingKey,
      });
    } catch (error) {
      this.topic.resumePublishing(message.orderingKey);
      throw error;
    }
  }
}
