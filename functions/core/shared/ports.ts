/**
 * The platform's ports: what every domain may need from outside (storage, identity, secrets,
 * rate limits, time, randomness). A domain's own ports live in its folder (runs/ports.ts).
 */
import type { RandomBytes } from './ids';

export interface User {
  email: string;
  name: string;
}

export interface SignIn {
  /** `users/{email}.role`: an admin sees and acts on every run. */
  role: 'admin' | 'user';
  /** created: first sight; refreshed: last_login_at written; cached: seen recently by this instance. */
  event: 'created' | 'refreshed' | 'cached';
}

export interface UserStore {
  /** Creates `users/{email}` on first sight, refreshes last_login_at after that; answers the role. */
  signIn(user: User, now: Date): Promise<SignIn>;
}

/** Secret values (warehouse credentials, API keys), resolved once per instance. */
export interface Secrets {
  /** The secret's value; throws a message that names the secret and the fix, never a value. */
  get(name: string): Promise<string>;
  /** Replaces every value resolved so far with [redacted]. */
  redact(text: string): string;
}

/** Allows or refuses one more request of `key` (a user) in the current window. */
export interface RateLimiter {
  consume(key: string): Promise<RateDecision>;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (when refused: when to retry). */
  resetSeconds: number;
}

export interface ObjectInfo {
  name: string;
  size: number;
  updated: string;
  contentType: string | null;
  generation: string;
  /** The object's custom metadata (x-goog-meta-*), as written; absent when it has none. */
  metadata?: Record<string, string>;
}

/** The run bucket. Names are object names inside it (runs/{id}/…); never a user-supplied path. */
export interface ObjectStore {
  readonly bucket: string;
  /** Writes the object, with custom metadata when given (GCS allows 8 KiB of it). */
  write(
    name: string,
    content: string | Uint8Array,
    contentType: string,
    metadata?: Record<string, string>,
  ): Promise<void>;
  read(name: string): Promise<Buffer>;
  /** That generation of the object; null when it is gone (overwritten or deleted). */
  readGeneration(name: string, generation: string): Promise<Buffer | null>;
  /**
   * Bytes [start, end) of an object, fetched with a ranged read; of that generation when one
   * is given (a NotFoundError when it is gone: overwritten or deleted).
   */
  readRange(name: string, start: number, end: number, generation?: string): Promise<Buffer>;
  readStream(name: string): NodeJS.ReadableStream;
  /** Deletes the object; one that is not there is left alone. */
  delete(name: string): Promise<void>;
  exists(name: string): Promise<boolean>;
  /** Null when the object does not exist. */
  stat(name: string): Promise<ObjectInfo | null>;
  /** Objects under a prefix, in name order; at most `limit` (then `truncated`). */
  list(prefix: string, limit: number): Promise<{ objects: ObjectInfo[]; truncated: boolean }>;
  /**
   * One page of the objects under a prefix, in name order (at most `pageSize`, ≤ 1000), and the
   * token of the next page (null on the last): for walking prefixes of any size.
   */
  listPage(
    prefix: string,
    pageToken: string | null,
    pageSize: number,
  ): Promise<{ objects: ObjectInfo[]; nextPageToken: string | null }>;
  /**
   * A V4 signed URL that lets anyone holding it read the object until it expires: a download
   * named `downloadName`, or with `inlineType` shown by the browser as that type (an HTML report).
   */
  signedUrl(
    name: string,
    expiresInSeconds: number,
    downloadName?: string,
    inlineType?: string,
  ): Promise<string>;
  ping(): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export interface Randomness {
  bytes: RandomBytes;
  uuid(): string;
}
