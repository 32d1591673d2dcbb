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

/**
 * Why a webhook may not connect to this IP address, or null when it may: only the public
 * internet. IPv4 must be ipaddr.js's `unicast` (every IANA special-purpose block is named
 * otherwise). An IPv6 address that carries an IPv4 one in its low 32 bits, IPv4-mapped
 * (`::ffff:a.b.c.d`) or IPv4-compatible (`::a.b.c.d`, deprecated), is judged as that IPv4
 * address first; any other IPv6 address must be global unicast (2000::/3) outside every
 * special-purpose block, which refuses site-local `fec0::/10`, NAT64, 6to4, Teredo and the
 * rest. `allowLoopback` (the local stack's sinks) admits 127.0.0.0/8 and ::1, nothing else.
 */
export function addressProblem(address: string, allowLoopback = false): string | null {
  if (!ipaddr.isValid(address)) return 'is not an IP address';
  const parsed = ipaddr.parse(address);
  let v4: ipaddr.IPv4 | null = parsed.kind() === 'ipv4' ? (parsed as ipaddr.IPv4) : null;
  if (!v4) {
    const v6 = parsed as ipaddr.IPv6;
    const high = v6.parts.slice(0, 6);
    if (v6.isIPv4MappedAddress()) v4 = v6.toIPv4Address();
    else if (high.every((part) => part === 0) && v6.range() !== 'loopback') {
      const [a, b] = v6.parts.slice(6) as [number, number];
      v4 = new ipaddr.IPv4([a >> 8, a & 0xff, b >> 8, b & 0xff]);
    } else {
      const range = v6.range();
      if (allowLoopback && range === 'loopback') return null;
      if (range !== 'unicast' || !v6.match(ipaddr.IPv6.parse('2000::'), 3))
        return `is a ${range === 'unicast' ? 'non-global' : range} IPv6 address, not a public one`;
      return null;
    }
  }
  const range = v4.range();
  if (allowLoopback && range === 'loopback') return null;
  return range === 'unicast' ? null : `is a ${range} address (${v4.toString()}), not a public one`;
}

/** Whether a webhook may connect to this address in production. */
export function isPublicAddress(address: string): boolean {
  return addressProblem(address) === null;
}

const LOCAL_NAMES = (host: string) =>
  host === 'localhost' ||
  host.endsWith('.localhost') ||
  host.endsWith('.internal') ||
  host.endsWith('.local');

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
  if (LOCAL_NAMES(host)) return 'must be a public address, not a local or internal name';
  return null;
}
