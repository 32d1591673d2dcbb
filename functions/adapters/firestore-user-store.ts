import type { Firestore } from '@google-cloud/firestore';
import type { User, UserStore } from '../core/ports';

const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;

function codeOf(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}

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
    const seen = { email: user.email, last_login_at: at, display_name: user.name };
    // No transaction: update the common case, create the first time, and if another request
    // created it in between, update after all.
    try {
      await ref.update(seen);
      return;
    } catch (error) {
      if (codeOf(error) !== NOT_FOUND) throw error;
    }
    try {
      await ref.create({
        ...seen,
        created_at: at,
        preferences: {},
        stats: { total_runs: 0, successful_runs: 0, total_samples_processed: 0 },
      });
    } catch (error) {
      if (codeOf(error) !== ALREADY_EXISTS) throw error;
      await ref.update(seen);
    }
  }
}
