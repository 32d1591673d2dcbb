import type { Firestore } from '@google-cloud/firestore';
import type { RateDecision, RateLimiter } from '../core/shared/ports';
import { RATE_WINDOW_MS, slidingLog } from '../core/shared/rate-window';
import { GrpcCode } from './grpc-status';

const MAX_ATTEMPTS = 20;
/** Keys kept in memory before the idle ones are dropped. */
const MAX_MEMORY_KEYS = 10_000;

/**
 * Per instance, in memory (GET limits: an instance's share is enough to stop a runaway client),
 * by the sliding log of core/shared/rate-window.ts.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly logs = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  async consume(key: string): Promise<RateDecision> {
    const now = this.now();
    const { decision, times } = slidingLog(this.logs.get(key) ?? [], now, this.perMinute);
    this.logs.set(key, times);
    if (this.logs.size > MAX_MEMORY_KEYS) {
      for (const [other, log] of this.logs)
        if ((log.at(-1) ?? 0) <= now - RATE_WINDOW_MS) this.logs.delete(other);
    }
    return decision;
  }
}

/**
 * Across every instance: one Firestore document per bucket and key (`rate_limits/{bucket}:{key}`)
 * holding the key's sliding log (core/shared/rate-window.ts), written with conditional writes
 * (create, or update at the read's update time) so that concurrent requests never both take
 * the last slot. Documents carry `expires_at` for a TTL policy.
 */
export class FirestoreRateLimiter implements RateLimiter {
  constructor(
    private readonly db: Firestore,
    private readonly bucket: string,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly collection = 'rate_limits',
  ) {}

  async consume(key: string): Promise<RateDecision> {
    const ref = this.db.collection(this.collection).doc(`${this.bucket}:${key}`);
    for (let attempt = 1; ; attempt++) {
      const snapshot = await ref.get();
      const now = this.now();
      const stored = snapshot.exists ? snapshot.get('times') : null;
      const previous = Array.isArray(stored) ? stored.filter((t): t is number => typeof t === 'number') : [];
      const { decision, times } = slidingLog(previous, now, this.perMinute);
      if (!decision.allowed) return decision;
      const document = { times, expires_at: new Date(now + 2 * RATE_WINDOW_MS) };
      try {
        if (snapshot.exists) await ref.update(document, { lastUpdateTime: snapshot.updateTime! });
        else await ref.create({ bucket: this.bucket, key, ...document });
        return decision;
      } catch (error) {
        const code = (error as { code?: number }).code;
        if (
          (code !== GrpcCode.FAILED_PRECONDITION && code !== GrpcCode.ALREADY_EXISTS) ||
          attempt >= MAX_ATTEMPTS
        )
          throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }
}

/** A limit of 0 means no limit. */
export class Unlimited implements RateLimiter {
  async consume(): Promise<RateDecision> {
    return { allowed: true, limit: 0, remaining: 0, resetSeconds: 0 };
  }
}
