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

export class RateLimitedError extends DomainError {
  readonly code = 'rate_limited';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, { retry_after_seconds: retryAfterSeconds });
  }
}

/** A dependency (Firestore, GCS, Batch, the warehouse) failed; worth retrying later. */
export class UpstreamError extends DomainError {
  readonly code = 'upstream_unavailable';
}

export class UnsupportedMediaTypeError extends DomainError {
  readonly code = 'unsupported_media_type';
}
