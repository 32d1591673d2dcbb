import type { NotificationPreferences } from './preferences';

export interface PreferencesStore {
  /** The user's preferences; null when they never set any. */
  get(email: string): Promise<NotificationPreferences | null>;
  put(email: string, preferences: NotificationPreferences): Promise<void>;
}

export type Channel = 'webhook' | 'email';

export interface DeliveryRecord {
  outcome: 'delivered' | 'gave_up' | 'retrying';
  attempts: number;
}

/** What became of each event on each channel, so a redelivered event is not sent twice. */
export interface DeliveryLog {
  get(eventId: string, channel: Channel): Promise<DeliveryRecord | null>;
  record(
    eventId: string,
    channel: Channel,
    record: DeliveryRecord & { detail: string | null },
  ): Promise<void>;
}

/** An answer from the receiver, or why there was none (unreachable, refused address, timeout). */
export type SendResult = { status: number } | { error: string; permanent: boolean };

export interface WebhookSender {
  post(url: string, body: string, headers: Record<string, string>): Promise<SendResult>;
}

export interface EmailSender {
  send(message: { to: string; subject: string; text: string }): Promise<SendResult>;
}
