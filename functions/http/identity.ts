/**
 * Who is calling (ARCHITECTURE §11). In production the only proof is the JWT Identity-Aware
 * Proxy puts in `X-Goog-IAP-JWT-Assertion`: ES256, signed with one of Google's IAP keys,
 * issued by https://cloud.google.com/iap for this backend's audience. A development
 * identity (the IAP email header, or the configured dev user) exists only in AUTH_MODE=dev.
 */
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { z } from 'zod';
import { ConfigError } from '../config';
import { UnauthenticatedError, UpstreamError } from '../core/shared/errors';
import type { User } from '../core/shared/ports';

export interface IdentityConfig {
  mode: 'iap' | 'dev';
  devUser: { email: string; name: string } | undefined;
  adminEmails: string[];
  audiences: string[];
  jwksUrl: string;
  hostedDomain: string | undefined;
}

export interface Authenticated extends User {
  /** How the caller was identified. */
  via: 'iap' | 'dev';
}

export interface Authenticator {
  authenticate(headers: Record<string, string | string[] | undefined>): Promise<Authenticated>;
}

export const IAP_ISSUER = 'https://cloud.google.com/iap';
export const IAP_JWT_HEADER = 'x-goog-iap-jwt-assertion';
const IAP_EMAIL_HEADER = 'x-goog-authenticated-user-email';
/** Clocks of IAP and of the function may disagree by this much. */
const CLOCK_SKEW_SECONDS = 30;
/** IAP tokens live 10 minutes; anything issued longer ago than this is refused. */
const MAX_TOKEN_AGE_SECONDS = 3600;
const MAX_TOKEN_LENGTH = 8192;

const Email = z.email();

function unauthenticated(reason: string, message: string): UnauthenticatedError {
  return new UnauthenticatedError(message, reason);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Fetching Google's keys failed (unreachable, a non-200 answer, not a key set): nothing is known about the token. */
class KeysUnavailable extends Error {}

/** What the key set itself says about a token; anything else it throws comes from fetching it. */
const KEY_SET_VERDICTS = [
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
  errors.JOSEAlgNotAllowed,
];

/** Maps jose's failures to a reason a client can act on; never the library's internals. */
function explain(error: unknown): Error {
  if (error instanceof errors.JWTExpired) {
    return unauthenticated('token_expired', 'The IAP token has expired; reload the page to sign in again.');
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    const reasons: Record<string, [string, string]> = {
      aud: ['wrong_audience', 'The IAP token was issued for another application (audience).'],
      iss: ['wrong_issuer', `The token was not issued by ${IAP_ISSUER}.`],
      nbf: ['token_not_yet_valid', 'The IAP token is not valid yet (issued in the future).'],
      iat: ['token_not_yet_valid', 'The IAP token is not valid yet (issued in the future).'],
    };
    const [reason, message] = reasons[error.claim] ?? [
      'invalid_claims',
      `The IAP token is missing or has an invalid "${error.claim}" claim.`,
    ];
    return unauthenticated(reason, message);
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return unauthenticated('algorithm_not_allowed', 'The IAP token is not signed with ES256.');
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return unauthenticated('unknown_key', 'The IAP token is signed with a key Google does not publish.');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return unauthenticated('bad_signature', 'The IAP token signature does not verify.');
  }
  if (
    error instanceof KeysUnavailable ||
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid
  ) {
    return new UpstreamError('Google’s IAP signing keys could not be fetched; retry in a moment.');
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return unauthenticated('malformed_token', 'The IAP token is not a well-formed JWT.');
  }
  if (error instanceof errors.JOSEError) {
    return unauthenticated('invalid_token', 'The IAP token could not be verified.');
  }
  if (error instanceof TypeError || (error as { name?: string }).name === 'AbortError') {
    // fetch() failed: the key endpoint is unreachable.
    return new UpstreamError('Google’s IAP signing keys could not be fetched; retry in a moment.');
  }
  return error as Error;
}

function userFromClaims(payload: JWTPayload, hostedDomain: string | undefined): Authenticated {
  const email = typeof payload.email === 'string' ? payload.email.toLowerCase() : '';
  if (!Email.safeParse(email).success || typeof payload.sub !== 'string') {
    throw unauthenticated('invalid_claims', 'The IAP token carries no email address.');
  }
  if (hostedDomain && payload.hd !== hostedDomain) {
    throw unauthenticated(
      'wrong_domain',
      `Only accounts of ${hostedDomain} may use this platform; ${email} is not one.`,
    );
  }
  const name =
    typeof payload.name === 'string' && payload.name.trim() ? payload.name.trim() : email.split('@')[0]!;
  return { email, name, via: 'iap' };
}

/** Verifies IAP JWTs; keys are fetched once, cached, and fetched again for an unknown `kid`. */
export class IapAuthenticator implements Authenticator {
  private readonly keys: JWTVerifyGetKey;

  constructor(
    private readonly config: IdentityConfig,
    keys: { cooldownMs?: number; cacheMaxAgeMs?: number } = {},
  ) {
    if (config.audiences.length === 0) {
      throw new ConfigError(
        'Invalid configuration: IAP_AUDIENCE is required with AUTH_MODE=iap (the audience IAP signs for: /projects/{number}/global/backendServices/{id} or /projects/{number}/apps/{project_id}).',
      );
    }
    const remote = createRemoteJWKSet(new URL(config.jwksUrl), {
      timeoutDuration: 5_000,
      // An unknown kid fetches the keys again, but not more often than this: a flood of
      // made-up kids must not turn into a flood of requests to Google.
      cooldownDuration: keys.cooldownMs ?? 30_000,
      cacheMaxAge: keys.cacheMaxAgeMs ?? 6 * 3600_000,
    });
    // A new kid while the key endpoint fails (a 5xx answers as a plain JOSEError) is "cannot
    // verify now", never "invalid": the key may well be one Google has just started using.
    this.keys = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        if (KEY_SET_VERDICTS.some((verdict) => error instanceof verdict)) throw error;
        throw new KeysUnavailable('IAP key set unavailable', { cause: error });
      }
    };
  }

  async authenticate(headers: Record<string, string | string[] | undefined>): Promise<Authenticated> {
    const token = single(headers[IAP_JWT_HEADER]);
    if (!token) {
      throw unauthenticated(
        'missing_token',
        'No identity: this API is reached through Identity-Aware Proxy, which sends X-Goog-IAP-JWT-Assertion. Sign in through the platform URL.',
      );
    }
    if (token.length > MAX_TOKEN_LENGTH)
      throw unauthenticated('malformed_token', 'The IAP token is too long.');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        algorithms: ['ES256'],
        issuer: IAP_ISSUER,
        audience: this.config.audiences,
        clockTolerance: CLOCK_SKEW_SECONDS,
        maxTokenAge: MAX_TOKEN_AGE_SECONDS,
        requiredClaims: ['exp', 'iat', 'sub', 'email'],
      }));
    } catch (error) {
      throw explain(error);
    }
    return userFromClaims(payload, this.config.hostedDomain);
  }
}

/** AUTH_MODE=dev: trusts the IAP email header, else uses the configured development user. */
export class DevAuthenticator implements Authenticator {
  constructor(private readonly config: IdentityConfig) {}

  async authenticate(headers: Record<string, string | string[] | undefined>): Promise<Authenticated> {
    const header = single(headers[IAP_EMAIL_HEADER]);
    if (header) {
      const email = (header.includes(':') ? header.slice(header.indexOf(':') + 1) : header).toLowerCase();
      if (!Email.safeParse(email).success) {
        throw unauthenticated('invalid_identity', `${IAP_EMAIL_HEADER} does not carry an email address.`);
      }
      return { email, name: email.split('@')[0]!, via: 'dev' };
    }
    if (this.config.devUser) return { ...this.config.devUser, via: 'dev' };
    throw unauthenticated(
      'missing_identity',
      `No identity: send ${IAP_EMAIL_HEADER} (accounts.google.com:you@example.com) or set DEV_USER_EMAIL.`,
    );
  }
}

export function createAuthenticator(config: IdentityConfig): Authenticator {
  return config.mode === 'iap' ? new IapAuthenticator(config) : new DevAuthenticator(config);
}
