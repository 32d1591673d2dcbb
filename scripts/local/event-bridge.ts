/**
 * The local twin of Eventarc: turns Pub/Sub messages and Cloud Storage finalize
 * notifications into CloudEvents and delivers them over HTTP in binary mode (ce-* headers,
 * JSON body), at least once, concurrently, retrying with backoff while the function
 * answers 5xx or 429 or cannot be reached. Tests can drop or capture events to simulate
 * loss, duplication and reordering.
 */
import { randomUUID } from 'node:crypto';
import type { StoredObject } from './gcs-server';
import type { PubSubMessage } from './local-batch';

export interface CloudEvent {
  id: string;
  type: string;
  source: string;
  subject?: string;
  time: string;
  data: unknown;
}

export const PUBSUB_PUBLISHED = 'google.cloud.pubsub.topic.v1.messagePublished';
export const STORAGE_FINALIZED = 'google.cloud.storage.object.v1.finalized';

export type Trigger =
  | { type: typeof PUBSUB_PUBLISHED; topic: string; url: string }
  | { type: typeof STORAGE_FINALIZED; bucket: string; url: string };

export interface Delivery {
  event: CloudEvent;
  url: string;
  attempts: number;
  status: number | null;
  outcome: 'delivered' | 'dropped' | 'gave-up' | 'rejected' | 'captured';
}

export interface EventBridgeOptions {
  project: string;
  maxAttempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  log?: (message: string) => void;
}

type Filter = (event: CloudEvent) => boolean;

export class EventBridge {
  private readonly triggers: Trigger[] = [];
  private readonly drops = new Set<Filter>();
  private captures: { filter: Filter; events: { event: CloudEvent; url: string }[] } | null = null;
  private inFlight = 0;
  private readonly pendingRecords = new Set<Delivery>();
  private idleWaiters: (() => void)[] = [];
  readonly deliveries: Delivery[] = [];

  constructor(private readonly options: EventBridgeOptions) {}

  subscribe(trigger: Trigger): void {
    this.triggers.push(trigger);
  }

  /** Events matching the filter are lost (never delivered) until the returned function is called. */
  drop(filter: Filter): () => void {
    this.drops.add(filter);
    return () => this.drops.delete(filter);
  }

  /** Holds matching events back instead of delivering them; `deliverCaptured` sends them later, in any order. */
  capture(filter: Filter): { event: CloudEvent; url: string }[] {
    this.captures = { filter, events: [] };
    return this.captures.events;
  }

  stopCapturing(): void {
    this.captures = null;
  }

  /** Sends captured events in the given order (duplicates allowed), one after another. */
  async deliverInOrder(events: { event: CloudEvent; url: string }[]): Promise<void> {
    for (const { event, url } of events) await this.deliver(event, url);
  }

  /** Deliveries still being attempted (for diagnostics). */
  inFlightDeliveries(): Delivery[] {
    return [...this.pendingRecords];
  }

  /** Resolves when no delivery is in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  publish(message: PubSubMessage): void {
    const messageId = String(Date.now()) + String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
    const publishTime = new Date().toISOString();
    const event: CloudEvent = {
      id: messageId,
      type: PUBSUB_PUBLISHED,
      source: `//pubsub.googleapis.com/${message.topic}`,
      time: publishTime,
      data: {
        message: {
          attributes: message.attributes,
          data: Buffer.from(message.data).toString('base64'),
          messageId,
          publishTime,
        },
        subscription: `projects/${this.options.project}/subscriptions/eventarc-local-${message.topic.split('/').at(-1)}`,
      },
    };
    for (const trigger of this.triggers) {
      if (trigger.type === PUBSUB_PUBLISHED && trigger.topic === message.topic)
        this.dispatch(event, trigger.url);
    }
  }

  /**
   * A message pulled from a Pub/Sub emulator subscription (the run status events), delivered
   * as Eventarc would push it; true when the function took it (the caller then acks it).
   */
  async deliverPulled(
    message: {
      id: string;
      data: Buffer;
      attributes: Record<string, string>;
      publishTime: string;
      orderingKey?: string;
    },
    subscription: string,
    topic: string,
    url: string,
  ): Promise<boolean> {
    const event: CloudEvent = {
      id: message.id,
      type: PUBSUB_PUBLISHED,
      source: `//pubsub.googleapis.com/${topic}`,
      time: message.publishTime,
      data: {
        message: {
          attributes: message.attributes,
          data: message.data.toString('base64'),
          messageId: message.id,
          publishTime: message.publishTime,
          ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
        },
        subscription,
      },
    };
    return (await this.deliver(event, url)) === 'delivered';
  }

  storageFinalized(object: StoredObject): void {
    const event: CloudEvent = {
      id: randomUUID(),
      type: STORAGE_FINALIZED,
      source: `//storage.googleapis.com/projects/_/buckets/${object.bucket}`,
      subject: `objects/${object.name}`,
      time: object.updated,
      data: object,
    };
    for (const trigger of this.triggers) {
      if (trigger.type === STORAGE_FINALIZED && trigger.bucket === object.bucket)
        this.dispatch(event, trigger.url);
    }
  }

  private dispatch(event: CloudEvent, url: string): void {
    for (const filter of this.drops) {
      if (filter(event)) {
        this.deliveries.push({ event, url, attempts: 0, status: null, outcome: 'dropped' });
        return;
      }
    }
    if (this.captures?.filter(event)) {
      this.captures.events.push({ event, url });
      this.deliveries.push({ event, url, attempts: 0, status: null, outcome: 'captured' });
      return;
    }
    void this.deliver(event, url);
  }

  private async deliver(event: CloudEvent, url: string): Promise<Delivery['outcome']> {
    this.inFlight += 1;
    const record: Delivery = { event, url, attempts: 0, status: null, outcome: 'gave-up' };
    this.deliveries.push(record);
    this.pendingRecords.add(record);
    const maxAttempts = this.options.maxAttempts ?? 8;
    let delay = this.options.initialDelayMs ?? 100;
    try {
      while (record.attempts < maxAttempts) {
        record.attempts += 1;
        const status = await this.post(event, url);
        record.status = status;
        if (status !== null && status >= 200 && status < 300) {
          record.outcome = 'delivered';
          return record.outcome;
        }
        if (status !== null && status >= 400 && status < 500 && status !== 429) {
          record.outcome = 'rejected';
          this.options.log?.(
            `event ${event.type} ${event.subject ?? event.id} rejected by ${url} with ${status}; not retried`,
          );
          return record.outcome;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, this.options.maxDelayMs ?? 5_000);
      }
      this.options.log?.(
        `event ${event.type} ${event.subject ?? event.id} not delivered to ${url} after ${record.attempts} attempts`,
      );
      return record.outcome;
    } finally {
      this.pendingRecords.delete(record);
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async post(event: CloudEvent, url: string): Promise<number | null> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': event.id,
          'ce-type': event.type,
          'ce-source': event.source,
          'ce-time': event.time,
          ...(event.subject ? { 'ce-subject': event.subject } : {}),
        },
        body: JSON.stringify(event.data),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return null;
    }
  }
}
