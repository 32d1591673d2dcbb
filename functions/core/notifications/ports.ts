import type { NotificationPreferences } from './preferences';

export interface PreferencesStore {
  /** The user's preferences; null when they never set any. */
  get(email: string): Promise<NotificationPreferences | null>;
  put(email: string, preferences: NotificationPreferences): Promise<void>;
}

export type Channel = 'webhook' | 'email';

/**
 * What became of one event on one channel. `unknown`: sent, but the receiver did not answer
 * in time, so it may well have it; final, like `delivered` (never sent again).
 */
export interface DeliveryRecord {
  outcome: 'delivered' | 'gave_up' | 'retrying' | 'unknown';
  attempts: number;
}

/** How long a sender waits for a receiver's answer (webhook and SendGrid alike). */
export const SEND_TIMEOUT_MS = 10_000;

/** The answer to a claim: send it (this caller alone), it is settled, or another caller is sending it now. */
export type DeliveryClaim =
  | { state: 'claimed'; attempts: number }
  | { state: 'settled'; record: DeliveryRecord }
  | { state: 'busy' };

/**
 * What became of each event on each channel, so that an event is sent to a channel once: a
 * delivery claims (event, channel) before it sends, for `leaseMs` (longer than a delivery can
 * take); a second delivery of the same event meanwhile finds it busy. `record` settles the
 * outcome and releases the claim.
 */
export interface DeliveryLog {
  claim(eventId: string, channel: Channel, leaseMs: number): Promise<DeliveryClaim>;
  record(
    eventId: string,
    channel: Channel,
    record: DeliveryRecord & { detail: string | null },
  ): Promise<void>;
}

/**
 * An answer from the receiver; why there was none (unreachable, refused address); or
 * `unanswered`: the request went out whole and no answer came within the timeout.
 */
export type SendResult = { status: number } | { error: string; permanent: boolean } | { unanswered: string };

export interface WebhookSender {
  post(url: string, body: string, headers: Record<string, string>): Promise<SendResult>;
}

export interface EmailSender {
  send(message: { to: string; subject: string; text: string }): Promise<SendResult>;
}
