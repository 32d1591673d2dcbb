import { z } from 'zod';
import { UnauthenticatedError } from '../core/errors';
import type { Caller } from '../core/run-service';

export interface IdentityConfig {
  devUser: { email: string; name: string } | undefined;
  adminEmails: string[];
}

const IAP_EMAIL_HEADER = 'x-goog-authenticated-user-email';
const Email = z.email();

function caller(email: string, name: string, config: IdentityConfig): Caller {
  const normalized = email.toLowerCase();
  return { email: normalized, name, is_admin: config.adminEmails.includes(normalized) };
}

/**
 * Who is calling. The one place identity is decided: the IAP-format email header
 * (`accounts.google.com:alice@example.com`), else the configured development user.
 */
export function resolveCaller(
  headers: Record<string, string | string[] | undefined>,
  config: IdentityConfig,
): Caller {
  const header = headers[IAP_EMAIL_HEADER];
  if (typeof header === 'string' && header !== '') {
    const email = header.includes(':') ? header.slice(header.indexOf(':') + 1) : header;
    if (!Email.safeParse(email).success) {
      throw new UnauthenticatedError(
        `${IAP_EMAIL_HEADER} does not carry an email address.`,
        'invalid_identity',
      );
    }
    return caller(email, email.split('@')[0]!, config);
  }
  if (config.devUser) return caller(config.devUser.email, config.devUser.name, config);
  throw new UnauthenticatedError(
    `No identity: send ${IAP_EMAIL_HEADER} (accounts.google.com:you@example.com) or set DEV_USER_EMAIL.`,
    'missing_identity',
  );
}
