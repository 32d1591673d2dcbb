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
 * requests never both take the last slot. Documents carry `expires_at` for a TTL policy.
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
    const now = this.now();
    const window = Math.floor(now / WINDOW_MS);
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
    const ref = this.db.collection(this.collection).doc(`${this.bucket}:${key}:${window}`);
    const decision = (allowed: boolean, count: number): RateDecision => ({
      allowed,
      limit: this.perMinute,
      remaining: Math.max(0, this.perMinute - count),
      resetSeconds,
    });
    for (let attempt = 1; ; attempt++) {
      const snapshot = await ref.get();
      const count = snapshot.exists ? Number(snapshot.get('count') ?? 0) : 0;
      if (count >= this.perMinute) return decision(false, count);
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
        return decision(true, count + 1);
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
