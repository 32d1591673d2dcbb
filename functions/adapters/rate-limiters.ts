import type { Firestore } from '@google-cloud/firestore';
import RateLimiterMemory from 'rate-limiter-flexible/lib/RateLimiterMemory.js';
import RateLimiterRes from 'rate-limiter-flexible/lib/RateLimiterRes.js';
import type { RateDecision, RateLimiter } from '../core/shared/ports';
import { GrpcCode } from './grpc-status';

const WINDOW_MS = 60_000;
const MAX_ATTEMPTS = 20;

/** Per instance, in memory (GET limits: an instance's share is enough to stop a runaway client). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(private readonly perMinute: number) {
    this.limiter = new RateLimiterMemory({ points: perMinute, duration: WINDOW_MS / 1000 });
  }

  async consume(key: string): Promise<RateDecision> {
    try {
      const result = await this.limiter.consume(key);
      return {
        allowed: true,
        limit: this.perMinute,
        remaining: result.remainingPoints,
        resetSeconds: Math.ceil(result.msBeforeNext / 1000),
      };
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      return {
        allowed: false,
        limit: this.perMinute,
        remaining: 0,
        resetSeconds: Math.max(1, Math.ceil(error.msBeforeNext / 1000)),
      };
    }
  }
}

/**
 * Across every instance: one Firestore document per user and one-minute window
 * (`rate_limits/{bucket}:{key}:{window}`), counted with conditional writes so that concurrent
 * requests never both take the last slot. A request counts against the last 60 s, estimated as
 * this window's count plus the previous window's weighted by how much of it those 60 s still
 * cover (Cloudflare's sliding-window estimate): a full burst at the end of one clock minute
 * leaves room for about one more at the start of the next, and the room comes back over that
 * minute, instead of a second full burst a moment later. Documents carry `expires_at` for a
 * TTL policy.
 */
export class FirestoreRateLimiter implements RateLimiter {
  constructor(
    private readonly db: Firestore,
    private readonly bucket: string,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly collection = 'rate_limits',
  ) {}

  private ref(key: string, window: number) {
    return this.db.collection(this.collection).doc(`${this.bucket}:${key}:${window}`);
  }

  async consume(key: string): Promise<RateDecision> {
    const now = this.now();
    const window = Math.floor(now / WINDOW_MS);
    const elapsed = now - window * WINDOW_MS;
    const ref = this.ref(key, window);
    // The previous window is closed: read once (with the first read of this one, in one
    // round trip), it no longer changes.
    const [previous, first] = await this.db.getAll(this.ref(key, window - 1), ref);
    const carried = previous!.exists ? Number(previous!.get('count') ?? 0) : 0;
    const weight = 1 - elapsed / WINDOW_MS;
    const estimate = (count: number) => carried * weight + count;
    const refused = (count: number): RateDecision => {
      // When the estimate first drops below the limit: later in this window as the previous
      // one's weight falls, or just after it ends, when this window's count is all that remains.
      const within =
        carried > 0 && count < this.perMinute
          ? (WINDOW_MS * (carried - (this.perMinute - count))) / carried - elapsed
          : WINDOW_MS - elapsed;
      return {
        allowed: false,
        limit: this.perMinute,
        remaining: 0,
        // The first whole second strictly after: at `within` itself the estimate is still the limit.
        resetSeconds: Math.max(1, Math.floor(within / 1000) + 1),
      };
    };
    for (let attempt = 1; ; attempt++) {
      const snapshot = attempt === 1 ? first! : await ref.get();
      const count = snapshot.exists ? Number(snapshot.get('count') ?? 0) : 0;
      if (estimate(count) >= this.perMinute) return refused(count);
      try {
        if (snapshot.exists) {
          await ref.update({ count: count + 1 }, { lastUpdateTime: snapshot.updateTime! });
        } else {
          await ref.create({
            count: 1,
            bucket: this.bucket,
            key,
            window_start: new Date(window * WINDOW_MS).toISOString(),
            expires_at: new Date((window + 2) * WINDOW_MS),
          });
        }
        return {
          allowed: true,
          limit: this.perMinute,
          remaining: Math.max(0, Math.floor(this.perMinute - estimate(count + 1))),
          resetSeconds: Math.max(1, Math.ceil((WINDOW_MS - elapsed) / 1000)),
        };
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
