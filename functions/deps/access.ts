import type { Firestore } from '@google-cloud/firestore';
import { authSdk, onFirstUse } from '../adapters/google-sdks';
import { IamSessionTokens } from '../adapters/iam-session-tokens';
import { FirestoreRateLimiter, MemoryRateLimiter, Unlimited } from '../adapters/rate-limiters';
import type { Config } from '../config';
import { EmulatorSessionTokens, type SessionTokens } from '../core/shared/session';
import type { ApiDeps } from '../http/api-app';
import { type Authenticator, createAuthenticator } from '../http/identity';

/** Who may call the HTTP API, how often, and the page's Firestore session. */

/** Per-user limits, each over any 60 s: launches and chat across instances (Firestore), reads per instance. */
export function createRateLimiters(config: Config, db: Firestore): ApiDeps['rateLimits'] {
  const { launches, haystackLaunches, chat, reads } = config.rateLimits;
  return {
    launch: launches > 0 ? new FirestoreRateLimiter(db, 'launch', launches) : new Unlimited(),
    haystack_launch:
      haystackLaunches > 0
        ? new FirestoreRateLimiter(db, 'haystack-launch', haystackLaunches)
        : new Unlimited(),
    chat: chat > 0 ? new FirestoreRateLimiter(db, 'chat', chat) : new Unlimited(),
    read: reads > 0 ? new MemoryRateLimiter(reads) : new Unlimited(),
  };
}

/** Locally the page reads the emulator with a mock token; on GCP, with a custom token IAM signs. */
export function createSessionTokens(config: Config): SessionTokens {
  if (config.firestore.emulatorHost)
    return new EmulatorSessionTokens(config.firestore.emulatorHost, config.project);
  const auth = onFirstUse(
    () => new (authSdk().GoogleAuth)({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] }),
  );
  return new IamSessionTokens(
    config.functionsServiceAccount,
    config.project,
    async () => {
      const token = await auth.getAccessToken();
      if (!token) throw new Error('no access token for the functions service account');
      return token;
    },
    undefined,
    undefined,
    config.firebaseWebApiKey,
  );
}

/** Verified IAP identity, or in AUTH_MODE=dev the development identity. Throws ConfigError when misconfigured. */
export function createApiAuthenticator(config: Config): Authenticator {
  return createAuthenticator({
    mode: config.auth.mode,
    devUser: config.devUser,
    adminEmails: config.adminEmails,
    audiences: config.auth.audiences,
    jwksUrl: config.auth.jwksUrl,
    hostedDomain: config.auth.hostedDomain,
  });
}
