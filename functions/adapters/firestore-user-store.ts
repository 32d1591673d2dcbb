import type { Firestore } from '@google-cloud/firestore';
import type { User, UserStore } from '../core/ports';

/**
 * `users/{email}`. A touch writes at most once per `minIntervalMs` per user and instance:
 * last_login_at is a "recently seen" mark, and a write on every GET would double the cost
 * of reading the API.
 */
export class FirestoreUserStore implements UserStore {
  private readonly lastTouched = new Map<string, number>();

  constructor(
    private readonly db: Firestore,
    private readonly minIntervalMs: number,
    private readonly collection = 'users',
  ) {}

  async touch(user: User, now: Date): Promise<void> {
    const previous = this.lastTouched.get(user.email);
    if (previous !== undefined && now.getTime() - previous < this.minIntervalMs) return;
    this.lastTouched.set(user.email, now.getTime());
    const ref = this.db.collection(this.collection).doc(user.email);
    const at = now.toISOString();
    await this.db.runTransaction(async (tx) => {
      const snapshot = await tx.get(ref);
      if (snapshot.exists) {
        tx.update(ref, { last_login_at: at, display_name: user.name });
        return;
      }
      tx.create(ref, {
        email: user.email,
        display_name: user.name,
        created_at: at,
        last_login_at: at,
        preferences: {},
        stats: { total_runs: 0, successful_runs: 0, total_samples_processed: 0 },
      });
    });
  }
}
