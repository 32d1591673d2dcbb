/**
 * The one rate-limit rule (issue 31): a sliding log. A key keeps the times of the requests it
 * was allowed in the last 60 s; a request is allowed while fewer than `limit` are kept. So no
 * 60 s window, wherever it starts, ever holds more than `limit` allowed requests — unlike a fixed
 * window (2× at its reset) or a weighted estimate of the previous window. The log of a key is at
 * most `limit` numbers. Both limiters (in memory, in Firestore) apply this function.
 */
import type { RateDecision } from './ports';

export const RATE_WINDOW_MS = 60_000;

export interface SlidingLogResult {
  decision: RateDecision;
  /** The log to keep: unchanged when refused. */
  times: number[];
}

export function slidingLog(previous: readonly number[], now: number, limit: number): SlidingLogResult {
  const kept = previous.filter((t) => t > now - RATE_WINDOW_MS && t <= now).sort((a, b) => a - b);
  // The oldest request still counted leaves the window at this time; then a slot frees up.
  const freedAt = (times: number[]) => (times.length > 0 ? times[0]! + RATE_WINDOW_MS : now);
  const seconds = (at: number) => Math.max(1, Math.ceil((at - now) / 1000));
  if (kept.length >= limit) {
    const oldest = kept.slice(kept.length - limit);
    return {
      decision: { allowed: false, limit, remaining: 0, resetSeconds: seconds(freedAt(oldest)) },
      times: kept,
    };
  }
  const times = [...kept, now];
  return {
    decision: {
      allowed: true,
      limit,
      remaining: limit - times.length,
      resetSeconds: seconds(freedAt(times)),
    },
    times,
  };
}
