/**
 * Live views (server-sent events) hold a request open, and so one of an instance's concurrent
 * request slots (ARCHITECTURE §14, the capacity model). These bounds keep them from filling an
 * instance: at most `perInstance` open streams (the rest of its concurrency stays for ordinary
 * requests), at most `perUser` for one person on it, and none longer than `maxSeconds`, which
 * is inside the function's request timeout: a stream ends itself cleanly and the browser's
 * EventSource reconnects with Last-Event-ID, where the platform would cut it mid-message.
 */
import { RateLimitedError, UpstreamError } from '../core/shared/errors';

export interface StreamLimits {
  perInstance: number;
  perUser: number;
  maxSeconds: number;
}

export class StreamSlots {
  private total = 0;
  private readonly byUser = new Map<string, number>();

  constructor(readonly limits: StreamLimits) {}

  /** Takes a slot for `user`; the returned function gives it back (once, however often called). */
  take(user: string): () => void {
    const mine = this.byUser.get(user) ?? 0;
    if (mine >= this.limits.perUser) {
      throw new RateLimitedError(
        `You have ${mine} live views open on this server (the limit is ${this.limits.perUser}); close some tabs or runs' live logs, then try again.`,
        5,
      );
    }
    if (this.total >= this.limits.perInstance) {
      throw new UpstreamError(
        `This server holds as many live views as it may (${this.limits.perInstance}); the page reconnects by itself in a few seconds.`,
        { retryAfterSeconds: 3, dependency: 'stream_slots' },
      );
    }
    this.total += 1;
    this.byUser.set(user, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.byUser.get(user) ?? 1) - 1;
      if (left > 0) this.byUser.set(user, left);
      else this.byUser.delete(user);
    };
  }

  get open(): number {
    return this.total;
  }
}
