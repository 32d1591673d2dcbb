import type { Firestore } from '@google-cloud/firestore';
import type {
  Channel,
  DeliveryClaim,
  DeliveryLog,
  DeliveryRecord,
  PreferencesStore,
} from '../core/notifications/ports';
import { NotificationPreferences } from '../core/notifications/preferences';
import { GrpcCode } from './grpc-status';

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

  /**
   * Claimed with a conditional write (create, or update at the read's update time), so that of
   * two deliveries at the same moment exactly one claims; the other reads again and finds it
   * busy. An expired claim (its delivery died) can be taken over.
   */
  async claim(eventId: string, channel: Channel, leaseMs: number): Promise<DeliveryClaim> {
    const ref = this.ref(eventId, channel);
    for (let attempt = 1; ; attempt++) {
      const snapshot = await ref.get();
      const now = Date.now();
      const record = snapshot.exists
        ? (snapshot.data() as DeliveryRecord & { claimed_until?: number })
        : null;
      if (record && record.outcome !== 'retrying') return { state: 'settled', record };
      if (record?.claimed_until && record.claimed_until > now) return { state: 'busy' };
      const claimed = { claimed_until: now + leaseMs };
      try {
        if (snapshot.exists) await ref.update(claimed, { lastUpdateTime: snapshot.updateTime! });
        else await ref.create({ outcome: 'retrying', attempts: 0, detail: null, ...claimed });
        return { state: 'claimed', attempts: record?.attempts ?? 0 };
      } catch (error) {
        const code = (error as { code?: number }).code;
        if ((code !== GrpcCode.FAILED_PRECONDITION && code !== GrpcCode.ALREADY_EXISTS) || attempt >= 5)
          throw error;
      }
    }
  }

  async record(
    eventId: string,
    channel: Channel,
    record: DeliveryRecord & { detail: string | null },
  ): Promise<void> {
    // A whole new document: the claim goes with the old one.
    await this.ref(eventId, channel).set({ ...record, at: new Date().toISOString() });
  }
}
