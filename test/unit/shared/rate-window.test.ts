import { describe, expect, it } from 'vitest';
import { MemoryRateLimiter } from '../../../functions/adapters/rate-limiters';
import { slidingLog } from '../../../functions/core/shared/rate-window';

/** The most timestamps any window [t, t + width) holds. */
function maxInAnyWindow(times: number[], width: number): number {
  let most = 0;
  for (const start of times)
    most = Math.max(most, times.filter((t) => t >= start && t < start + width).length);
  return most;
}

describe('the sliding log', () => {
  it('allows the limit, then says when the oldest request leaves the last 60 s', () => {
    let log: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { decision, times } = slidingLog(log, 1_000 + i * 10_000, 3);
      expect(decision).toMatchObject({ allowed: true, remaining: 2 - i });
      log = times;
    }
    const refused = slidingLog(log, 30_000, 3);
    expect(refused.decision).toEqual({ allowed: false, limit: 3, remaining: 0, resetSeconds: 31 });
    expect(refused.times).toEqual(log);
    expect(slidingLog(log, 61_000, 3).decision.allowed).toBe(true);
  });

  it('keeps no more than the limit in the log, and forgets times from the future (a clock step back)', () => {
    const { times } = slidingLog([5_000, 120_000, 90_000], 100_000, 3);
    expect(times).toEqual([90_000, 100_000]);
  });

  it.each([1, 5, 60, 300])(
    'never admits more than %i in any 60 s for a client that retries in bursts',
    async (limit) => {
      let now = 7_000;
      const limiter = new MemoryRateLimiter(limit, () => now);
      const allowed: number[] = [];
      // Five minutes: quiet stretches, then bursts of three times the limit, some at clock-minute edges.
      let seed = limit;
      const random = () => {
        seed = (seed * 48_271) % 2_147_483_647;
        return seed / 2_147_483_647;
      };
      while (now < 300_000) {
        const burst = random() < 0.2 ? limit * 3 : 1;
        for (let i = 0; i < burst; i++) if ((await limiter.consume('u')).allowed) allowed.push(now);
        now += Math.floor(random() * 4_000) + 1;
      }
      expect(maxInAnyWindow(allowed, 60_000)).toBe(limit);
    },
  );

  it('counts each user apart', async () => {
    const limiter = new MemoryRateLimiter(1, () => 0);
    expect((await limiter.consume('a')).allowed).toBe(true);
    expect((await limiter.consume('a')).allowed).toBe(false);
    expect((await limiter.consume('b')).allowed).toBe(true);
  });
});
