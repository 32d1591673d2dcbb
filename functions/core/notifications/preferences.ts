/**
 * A user's notification preferences (`GET/PUT /api/me/preferences`): a Slack-compatible
 * incoming webhook or any HTTPS endpoint, email through SendGrid, and which statuses to hear
 * about. A webhook URL is a secret of its user: checked here (https, no private or local
 * address, no credentials), stored where only the functions read it, never logged.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { RunStatus } from '../shared/run-status';

export const DEFAULT_STATUSES: RunStatus[] = ['completed', 'failed', 'cancelled'];

export const NotificationPreferences = z.object({
  webhook_url: z.string().nullable(),
  /** Signs each webhook body (X-Arc-Signature); shown to its user so the receiver can verify. */
  webhook_secret: z.string().nullable(),
  email: z.boolean(),
  statuses: z.array(z.enum(RunStatus)),
  updated_at: z.string().nullable(),
});
export type NotificationPreferences = z.infer<typeof NotificationPreferences>;

export const DEFAULT_PREFERENCES: NotificationPreferences = {
  webhook_url: null,
  webhook_secret: null,
  email: false,
  statuses: DEFAULT_STATUSES,
  updated_at: null,
};

export const PutPreferencesRequest = z.strictObject({
  webhook_url: z
    .string()
    .max(2048, 'a webhook URL is at most 2,048 characters')
    .nullable()
    .default(null)
    .describe('a Slack incoming-webhook URL or any HTTPS endpoint; null for none'),
  email: z.boolean().default(false).describe('also email the run owner (through SendGrid)'),
  statuses: z
    .array(z.enum(RunStatus))
    .min(1, 'choose at least one status')
    .max(RunStatus.length)
    .default(DEFAULT_STATUSES)
    .describe('the statuses to be told about (default: completed, failed, cancelled)'),
  rotate_secret: z.boolean().default(false).describe('issue a new webhook signing secret'),
});
export type PutPreferencesRequest = z.infer<typeof PutPreferencesRequest>;

/** Addresses a webhook may not reach in production: anything but the public internet. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress())
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

/** Why a webhook URL cannot be used, or null. `allowPrivate`: the local stack (http, loopback). */
export function webhookUrlProblem(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL; paste the full address, e.g. https://hooks.slack.com/services/…';
  }
  if (url.username || url.password) return 'must not carry a user name or password';
  if (allowPrivate) {
    return url.protocol === 'https:' || url.protocol === 'http:' ? null : 'must be an http(s) URL';
  }
  if (url.protocol !== 'https:') return 'must be an https:// URL';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host.endsWith('.internal') ||
    host.endsWith('.local')
  )
    return 'must be a public address, not a local or internal name';
  if (ipaddr.isValid(host) && !isPublicAddress(host))
    return 'must be a public address, not a private or local one';
  return null;
}
