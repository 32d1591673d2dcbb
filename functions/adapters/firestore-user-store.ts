import type { Firestore } from '@google-cloud/firestore';
import type { SignIn, User, UserStore } from '../core/shared/ports';
import { GrpcCode, grpcCodeOf } from './grpc-status';

/**
 * `users/{email}`. A sign-in reads and writes at most once per `minIntervalMs` per user and
 * instance: last_login_at is a "recently seen" mark and the role changes rarely, while a
 * read and a write on every request would triple the cost of reading the API.
 */
export class FirestoreUserStore implements UserStore {
  private readonly seen = new Map<string, { at: number; role: SignIn['role'] }>();

  constructor(
    private readonly db: Firestore,
    private readonly minIntervalMs: number,
    private readonly collection = 'users',
  ) {}

  async signIn(user: User, now: Date): Promise<SignIn> {
    const cached = this.seen.get(user.email);
    if (cached && now.getTime() - cached.at < this.minIntervalMs)
      return { role: cached.role, event: 'cached' };
    const ref = this.db.collection(this.collection).doc(user.email);
    const at = now.toISOString();
    const fields = { email: user.email, last_login_at: at, display_name: user.name };
    const remember = (result: SignIn): SignIn => {
      this.seen.set(user.email, { at: now.getTime(), role: result.role });
      return result;
    };
    const snapshot = await ref.get();
    const roleOf = (data: Record<string, unknown> | undefined) => (data?.role === 'admin' ? 'admin' : 'user');
    if (snapshot.exists) {
      await ref.update(fields).catch((error: unknown) => {
        if (grpcCodeOf(error) !== GrpcCode.NOT_FOUND) throw error;
      });
      return remember({ role: roleOf(snapshot.data()), event: 'refreshed' });
    }
    // No transaction: create the first time; if another request created it in between, update.
    try {
      await ref.create({
        ...fields,
        created_at: at,
        role: 'user',
        preferences: {},
        stats: { total_runs: 0, successful_runs: 0, total_samples_processed: 0 },
      });
      return remember({ role: 'user', event: 'created' });
    } catch (error) {
      if (grpcCodeOf(error) !== GrpcCode.ALREADY_EXISTS) throw error;
      await ref.update(fields);
      return remember({ role: roleOf((await ref.get()).data()), event: 'refreshed' });
    }
  }
}
