/** gRPC status codes by name (google.rpc.Code), named once for every adapter. */
export const GrpcCode = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** gRPC status codes as HTTP statuses, the mapping Google APIs document. */
const HTTP_FOR_GRPC: Record<number, number> = {
  1: 499, // CANCELLED
  2: 500, // UNKNOWN
  3: 400, // INVALID_ARGUMENT
  4: 504, // DEADLINE_EXCEEDED
  5: 404, // NOT_FOUND
  6: 409, // ALREADY_EXISTS
  7: 403, // PERMISSION_DENIED
  8: 429, // RESOURCE_EXHAUSTED
  9: 400, // FAILED_PRECONDITION
  10: 409, // ABORTED
  11: 400, // OUT_OF_RANGE
  12: 501, // UNIMPLEMENTED
  13: 500, // INTERNAL
  14: 503, // UNAVAILABLE
  15: 500, // DATA_LOSS
  16: 401, // UNAUTHENTICATED
};

export function httpStatusForGrpc(code: number): number {
  return HTTP_FOR_GRPC[code] ?? 500;
}

export function grpcCodeOf(error: unknown): number | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : null;
}

/**
 * Asks a Google client's auth for credentials before a call. A gax call made with none (no
 * Application Default Credentials and no emulator) rejects, and also leaves an unhandled
 * rejection behind that the Functions Framework answers with a bare 500 on whatever request is
 * in flight; the auth itself fails cleanly, and caches its client once it has one. Returns why
 * there are no credentials, or null when there are.
 */
export async function missingCredentials(client: {
  auth: { getClient(): Promise<unknown> };
}): Promise<string | null> {
  try {
    await client.auth.getClient();
    return null;
  } catch (error) {
    return `no Google credentials (${error instanceof Error ? error.message.split('.')[0] : String(error)}): run on Google Cloud, or set GOOGLE_APPLICATION_CREDENTIALS or the service's emulator host`;
  }
}
