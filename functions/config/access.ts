/** Who may call the API and how often: identity (IAP or the development identity), admins, limits, CORS. */
import { z } from 'zod';
import type { PlatformConfig } from './platform';
import { commaList, Email, fix, PerMinute } from './schema';

/** The two audience forms IAP signs for: a backend service, or an App Engine app. */
export const IAP_AUDIENCE =
  /^\/projects\/\d+\/(global\/backendServices\/\d+|apps\/[a-z][a-z0-9-]{4,28}[a-z0-9])$/;

export const accessEnv = z.object({
  AUTH_MODE: z.enum(['iap', 'dev']).default('iap'),
  IAP_AUDIENCE: commaList(
    z
      .string()
      .regex(
        IAP_AUDIENCE,
        'must be /projects/{number}/global/backendServices/{id} or /projects/{number}/apps/{project_id}',
      ),
  ),
  IAP_JWKS_URL: z.url().default('https://www.gstatic.com/iap/verify/public_key-jwk'),
  IAP_HOSTED_DOMAIN: z
    .string()
    .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'must be a domain such as example.org')
    .optional(),
  ALLOW_DEV_AUTH_IN_CLOUD: z.enum(['true', 'false']).default('false'),
  DEV_USER_EMAIL: fix(Email.optional(), 'set it to an email address, or unset it'),
  DEV_USER_NAME: z.string().min(1).optional(),
  ADMIN_EMAILS: z
    .string()
    .default('')
    .transform((list) =>
      list
        .split(',')
        .map((e) => e.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(z.array(Email)),
  USER_TOUCH_INTERVAL_SECONDS: z.coerce.number().int().min(0).default(60),
  RATE_LIMIT_LAUNCHES_PER_MINUTE: PerMinute.default(10),
  RATE_LIMIT_HAYSTACK_LAUNCHES_PER_MINUTE: PerMinute.default(10),
  RATE_LIMIT_CHAT_PER_MINUTE: PerMinute.default(60),
  RATE_LIMIT_READS_PER_MINUTE: PerMinute.default(300),
  CORS_ALLOWED_ORIGINS: commaList(z.url()),
  FIREBASE_WEB_API_KEY: z.string().min(1).optional(),
  WEB_DIR: z.string().min(1).optional(),
});

/** The rules across variables; each names what to change. */
export function accessProblems(c: z.output<typeof accessEnv>, platform: PlatformConfig): string[] {
  const problems: string[] = [];
  if (c.AUTH_MODE === 'dev' && platform.cloudService && c.ALLOW_DEV_AUTH_IN_CLOUD !== 'true') {
    problems.push(
      `AUTH_MODE=dev trusts unverified identity headers, and this function runs on Google Cloud (K_SERVICE=${platform.cloudService}); use AUTH_MODE=iap behind Identity-Aware Proxy, or set ALLOW_DEV_AUTH_IN_CLOUD=true for a throwaway test deployment.`,
    );
  }
  if (c.AUTH_MODE === 'iap' && (c.DEV_USER_EMAIL || c.DEV_USER_NAME)) {
    problems.push(
      'DEV_USER_EMAIL is only used with AUTH_MODE=dev; with AUTH_MODE=iap every caller is identified by a verified IAP token. Unset it, or set AUTH_MODE=dev for local development.',
    );
  }
  return problems;
}

export function accessConfig(c: z.output<typeof accessEnv>) {
  return {
    auth: {
      /** `iap`: only a verified IAP JWT identifies a caller; `dev`: the IAP email header or the dev user. */
      mode: c.AUTH_MODE,
      audiences: c.IAP_AUDIENCE,
      jwksUrl: c.IAP_JWKS_URL,
      hostedDomain: c.IAP_HOSTED_DOMAIN,
    },
    devUser: c.DEV_USER_EMAIL
      ? { email: c.DEV_USER_EMAIL.toLowerCase(), name: c.DEV_USER_NAME ?? c.DEV_USER_EMAIL.split('@')[0]! }
      : undefined,
    adminEmails: c.ADMIN_EMAILS,
    userTouchIntervalMs: c.USER_TOUCH_INTERVAL_SECONDS * 1000,
    /** Requests per user per minute; 0 turns a limit off. */
    rateLimits: {
      launches: c.RATE_LIMIT_LAUNCHES_PER_MINUTE,
      haystackLaunches: c.RATE_LIMIT_HAYSTACK_LAUNCHES_PER_MINUTE,
      chat: c.RATE_LIMIT_CHAT_PER_MINUTE,
      reads: c.RATE_LIMIT_READS_PER_MINUTE,
    },
    /** Origins allowed to call the API from a browser; empty = no CORS headers at all. */
    corsOrigins: c.CORS_ALLOWED_ORIGINS.map((origin) => new URL(origin).origin),
    /** The Firebase web API key the page signs in to Firestore with (not a secret). */
    firebaseWebApiKey: c.FIREBASE_WEB_API_KEY ?? null,
    /** The built page (dist/web) the api function serves beside /api; unset: the API only. */
    webDir: c.WEB_DIR ?? null,
  };
}
