/** The one error taxonomy. Mapped to HTTP in functions/http/http-errors.ts, nowhere else. */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A problem detail that points at the input that caused it. */
export interface FieldProblem {
  /** Where: a request field, a param name or a samplesheet column. */
  field?: string;
  /** 1-based data row of the samplesheet (the header is not counted). */
  row?: number;
  column?: string;
  /** The JSON Schema keyword or check that failed (type, pattern, enum, required, …). */
  rule?: string;
  message: string;
}

export class ValidationError extends DomainError {
  readonly code: string;
  constructor(message: string, details?: FieldProblem[] | unknown, code = 'invalid_request') {
    super(message, details);
    this.code = code;
  }
}

export class PayloadTooLargeError extends DomainError {
  readonly code = 'payload_too_large';
}

export class UnauthenticatedError extends DomainError {
  readonly code: string;
  constructor(message: string, code = 'unauthenticated') {
    super(message);
    this.code = code;
  }
}

export class ForbiddenError extends DomainError {
  readonly code = 'forbidden';
}

export class NotFoundError extends DomainError {
  readonly code = 'not_found';
  /** The thing exists but the caller may not see it: answered as missing, audited as denied. */
  accessDenied = false;
}

export class ConflictError extends DomainError {
  readonly code = 'conflict';
}

/** A feature this deployment has not been set up for (the message says how); 503, not a fault. */
export class NotConfiguredError extends DomainError {
  readonly code = 'not_configured';
}

export class RateLimitedError extends DomainError {
  readonly code = 'rate_limited';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, { retry_after_seconds: retryAfterSeconds });
  }
}

/**
 * A dependency (Firestore, GCS, Batch, the warehouse) failed; worth retrying later. The message
 * is for the user and names no internals (no address, no errno); what the dependency said goes
 * in `cause`, which reaches the logs only.
 */
export class UpstreamError extends DomainError {
  readonly code = 'upstream_unavailable';
  /** Sent as Retry-After. */
  readonly retryAfterSeconds: number;
  /** Which dependency failed (`warehouse`, …), logged with the failure for alerting. */
  readonly dependency: string | null;
  constructor(
    message: string,
    options: { cause?: unknown; retryAfterSeconds?: number; details?: unknown; dependency?: string } = {},
  ) {
    super(message, options.details);
    if (options.cause !== undefined) this.cause = options.cause;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 30;
    this.dependency = options.dependency ?? null;
  }
}

export class UnsupportedMediaTypeError extends DomainError {
  readonly code = 'unsupported_media_type';
}
