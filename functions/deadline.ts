/** Raised by `before` when a deadline passes first. */
export class DeadlineExceeded extends Error {
  constructor(message = 'deadline exceeded') {
    super(message);
  }
}

/**
 * `promise`, or DeadlineExceeded once `at` (epoch ms) has passed. The work itself is not
 * stopped (a hung peer cannot be asked to stop); `abandon` receives what it yields too late,
 * so a connection that arrives after the caller gave up can be closed rather than leaked.
 */
export function before<T>(promise: Promise<T>, at: number, abandon?: (late: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded()), Math.max(0, at - Date.now()));
  });
  return Promise.race([promise, timeout]).then(
    (value) => {
      clearTimeout(timer);
      return value;
    },
    (error: unknown) => {
      clearTimeout(timer);
      if (error instanceof DeadlineExceeded && abandon) promise.then(abandon, () => {});
      else promise.catch(() => {});
      throw error;
    },
  );
}

/** `promise` within `ms` from now. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return before(promise, Date.now() + ms);
}
