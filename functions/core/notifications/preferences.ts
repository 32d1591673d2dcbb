/**
 * A user's notification preferences (`GET/PUT /api/me/preferences`): a Slack-compatible
 * incoming webhook or any HTTPS endpoint, email through SendGrid, and which statuses to hear
 * about. A webhook URL is a secret of its user: checked here (https, no private or local
 * address, no credentials), stored where only the functions read it, never logged.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { addressProblem, isLocalName } from '../shared/addresses';
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

/**
 * Why a webhook URL cannot be used, or null. Checked when it is saved and again before each
 * send; a name is checked again when it resolves (the sender's lookup hook). `allowLoopback`:
 * the local stack, whose sinks listen on loopback over http; every other private, link-local
 * or metadata address stays refused there too.
 */
export function webhookUrlProblem(raw: string, allowLoopback: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL; paste the full address, e.g. https://hooks.slack.com/services/…';
  }
  if (url.username || url.password) return 'must not carry a user name or password';
  if (allowLoopback) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http(s) URL';
  } else if (url.protocol !== 'https:') return 'must be an https:// URL';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host)) {
    const problem = addressProblem(host, allowLoopback);
    return problem ? `must be a public address: ${host} ${problem}` : null;
  }
  if (allowLoopback && (host === 'localhost' || host.endsWith('.localhost'))) return null;
  if (isLocalName(host)) return 'must be a public address, not a local or internal name';
  return null;
}
