import type { Firestore } from '@google-cloud/firestore';
import type { Channel, DeliveryLog, DeliveryRecord, PreferencesStore } from '../core/notifications/ports';
import { NotificationPreferences } from '../core/notifications/preferences';

/**
 * `notification_preferences/{email}`: outside `users/{email}`, which the page may read, so a
 * webhook URL and its secret are read only by the functions (the rules deny every client).
 */
export class FirestorePreferencesStore implements PreferencesStore {
  constructor(private readonly db: Firestore) {}

  async get(email: string): Promise<NotificationPreferences | null> {
    const snapshot = await this.db.collection('notification_preferences').doc(email).get();
    return snapshot.exists ? NotificationPreferences.parse(snapshot.data()) : null;
  }

  async put(email: string, preferences: NotificationPreferences): Promise<void> {
    await this.db.collection('notification_preferences').doc(email).set(preferences);
  }
}

/** `notification_deliveries/{event}~{channel}`: what became of each notification. */
export class FirestoreDeliveryLog implements DeliveryLog {
  constructor(private readonly db: Firestore) {}

  private ref(eventId: string, channel: Channel) {
    return this.db.collection('notification_deliveries').doc(`${eventId.replaceAll('/', '~')}~${channel}`);
  }

  async get(eventId: string, channel: Channel): Promise<DeliveryRecord | null> {
    const snapshot = await this.ref(eventId, channel).get();
    return snapshot.exists ? (snapshot.data() as DeliveryRecord) : null;
  }

  async record(
    eventId: string,
    channel: Channel,
    record: DeliveryRecord & { detail: string | null },
  ): Promise<void> {
    await this.ref(eventId, channel).set({ ...record, at: new Date().toISOString() });
  }
}
