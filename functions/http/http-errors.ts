import {
  ConflictError,
  DomainError,
  ForbiddenError,
  NotConfiguredError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthenticatedError,
  UnsupportedMediaTypeError,
  UpstreamError,
  ValidationError,
} from '../core/shared/errors';

export interface HttpError {
  status: number;
  headers: Record<string, string>;
  body: { error: { code: string; message: string; details?: unknown } };
}

/**
 * By class, never by class name: the deployed bundles are minified, and a name such as
 * `NotFoundError` becomes `Ie` there (test/integration/built-functions.test.ts runs them).
 */
const STATUS: [abstract new (...args: never[]) => DomainError, number][] = [
  [ValidationError, 400],
  [UnauthenticatedError, 401],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [ConflictError, 409],
  [PayloadTooLargeError, 413],
  [UnsupportedMediaTypeError, 415],
  [RateLimitedError, 429],
  [UpstreamError, 503],
  [NotConfiguredError, 503],
];

export function statusOf(error: DomainError): number {
  return STATUS.find(([type]) => error instanceof type)?.[1] ?? 400;
}

/** The one mapping from errors to HTTP. Unknown errors become an opaque 500 with a reference. */
export function toHttp(error: unknown, requestId: string): HttpError {
  if (error instanceof DomainError) {
    const headers: Record<string, string> = {};
    if (error instanceof RateLimitedError || error instanceof UpstreamError)
      headers['retry-after'] = String(error.retryAfterSeconds);
    return {
      status: statusOf(error),
      headers,
      body: {
        error: {
          code: error.code,
          message: error.message,
          ...(error.details === undefined ? {} : { details: error.details }),
        },
      },
    };
  }
  return {
    status: 500,
    headers: {},
    body: {
      error: {
        code: 'internal',
        message: `Something went wrong on our side. Retry shortly; if it persists, report reference ${requestId}.`,
        details: { request_id: requestId },
      },
    },
  };
}
