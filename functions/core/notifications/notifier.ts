/**
 * The notifier (ARCHITECTURE §7a): subscribed to `arc-run-events`, it tells a run's owner what
 * they asked to hear about, on the channels they chose. It never blocks a run: it only reads
 * events after they are published. A channel is tried a few times with backoff within one
 * delivery; if it still fails the function throws and Pub/Sub delivers the event again later,
 * until `maxDeliveries`, then the notifier gives up and says so in its log. A receiver's 3xx or
 * 4xx (other than 429) is final at once (redirects are not followed). A request that went out
 * whole but got no answer in time is final too, as `unknown`: the receiver may well have it,
 * and sending it again would be the duplicate a receiver must not get. Each (event, channel) is
 * claimed before it is sent, so two deliveries of one event at the same moment send it once;
 * receivers still dedupe on `X-Arc-Event-Id` (a crash between the send and its record).
 */
import type { Clock } from '../shared/ports';
import { RUN_NOTICE, type RunNoticeCloudEvent, type RunStatusCloudEvent } from '../shared/run-events';
import { notificationText, runPageUrl, signatureHeader } from './message';
import {
  type Channel,
  type DeliveryLog,
  type EmailSender,
  type PreferencesStore,
  SEND_TIMEOUT_MS,
  type SendResult,
  type WebhookSender,
} from './ports';

export interface NotifierSettings {
  publicUrl: string;
  /** Pauses before each retry within one delivery (ms): its length + 1 is the attempts per delivery. */
  retryDelaysMs: number[];
  /** Deliveries of one event (Pub/Sub redeliveries included) before a channel is given up. */
  maxDeliveries: number;
}

export interface NotifierDeps {
  preferences: PreferencesStore;
  deliveries: DeliveryLog;
  webhooks: WebhookSender;
  /** Null when SendGrid is not configured. */
  email: EmailSender | null;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  settings: NotifierSettings;
}

export type ChannelOutcome =
  | 'delivered'
  | 'already_delivered'
  | 'unknown'
  | 'gave_up'
  | 'retry'
  | 'not_configured';

/** A delivery failed in a way worth trying again: the function throws it for Pub/Sub to redeliver. */
export class RetryLaterError extends Error {
  constructor(readonly channels: Channel[]) {
    super(
      `notification not delivered yet on ${channels.join(' and ')}; Pub/Sub will deliver the event again`,
    );
    this.name = 'RetryLaterError';
  }
}

const ok = (result: SendResult) => 'status' in result && result.status >= 200 && result.status < 300;
const permanent = (result: SendResult) =>
  'status' in result
    ? result.status >= 300 && result.status < 500 && result.status !== 429
    : 'permanent' in result && result.permanent;
const unanswered = (result: SendResult) => 'unanswered' in result;
const describe = (result: SendResult) =>
  'status' in result ? `answered ${result.status}` : 'error' in result ? result.error : result.unanswered;

/** Longer than one delivery can take: every try waiting out the timeout, and the pauses between. */
export function claimLeaseMs(settings: Pick<NotifierSettings, 'retryDelaysMs'>): number {
  const pauses = settings.retryDelaysMs.reduce((sum, ms) => sum + ms, 0);
  return (settings.retryDelaysMs.length + 1) * SEND_TIMEOUT_MS + pauses + 5_000;
}

async function attempt(
  deps: NotifierDeps,
  send: () => Promise<SendResult>,
): Promise<{ result: SendResult; tries: number }> {
  const delays = [0, ...deps.settings.retryDelaysMs];
  let result: SendResult = { error: 'not sent', permanent: false };
  for (const [index, delay] of delays.entries()) {
    if (delay > 0) await deps.sleep(delay);
    result = await send();
    if (ok(result) || permanent(result) || unanswered(result)) return { result, tries: index + 1 };
  }
  return { result, tries: delays.length };
}

async function deliver(
  deps: NotifierDeps,
  event: RunStatusCloudEvent | RunNoticeCloudEvent,
  channel: Channel,
  send: () => Promise<SendResult>,
): Promise<{ outcome: ChannelOutcome; detail: string | null }> {
  const claim = await deps.deliveries.claim(event.id, channel, claimLeaseMs(deps.settings));
  if (claim.state === 'busy') {
    // Another delivery of this event is sending it now: Pub/Sub brings this one back later,
    // when that one has settled it (or its claim has run out because it died).
    return { outcome: 'retry', detail: 'another delivery of this event is sending it' };
  }
  if (claim.state === 'settled') {
    const { outcome } = claim.record;
    if (outcome === 'delivered') return { outcome: 'already_delivered', detail: null };
    return { outcome: outcome === 'unknown' ? 'unknown' : 'gave_up', detail: null };
  }
  const { result, tries } = await attempt(deps, send);
  const attempts = claim.attempts + tries;
  if (ok(result)) {
    await deps.deliveries.record(event.id, channel, { outcome: 'delivered', attempts, detail: null });
    return { outcome: 'delivered', detail: null };
  }
  if (unanswered(result)) {
    const detail = `${describe(result)}; not sent again (the receiver may have it)`;
    await deps.deliveries.record(event.id, channel, { outcome: 'unknown', attempts, detail });
    return { outcome: 'unknown', detail };
  }
  const deliveries = Math.ceil(attempts / (deps.settings.retryDelaysMs.length + 1));
  const final = permanent(result) || deliveries >= deps.settings.maxDeliveries;
  const detail = `${describe(result)} after ${attempts} attempt(s)`;
  await deps.deliveries.record(event.id, channel, {
    outcome: final ? 'gave_up' : 'retrying',
    attempts,
    detail,
  });
  return { outcome: final ? 'gave_up' : 'retry', detail };
}

/** Sends what the owner asked for; answers each channel's outcome. Throws RetryLaterError to be called again. */
export async function notify(
  deps: NotifierDeps,
  event: RunStatusCloudEvent | RunNoticeCloudEvent,
): Promise<Partial<Record<Channel, { outcome: ChannelOutcome; detail: string | null }>>> {
  const preferences = await deps.preferences.get(event.data.user_email);
  if (!preferences) return {};
  // A notice (80% of a budget, a work dir about to go) goes to every channel the owner set up;
  // a status change only if they chose that status.
  if (event.type !== RUN_NOTICE && !preferences.statuses.includes(event.data.to)) return {};
  const link = runPageUrl(deps.settings.publicUrl, event);
  const { subject, text } = notificationText(event, link);
  const outcomes: Partial<Record<Channel, { outcome: ChannelOutcome; detail: string | null }>> = {};

  if (preferences.webhook_url) {
    const url = preferences.webhook_url;
    const secret = preferences.webhook_secret ?? '';
    // `text` is what Slack shows; the event is there for programs.
    const body = JSON.stringify({ text, event });
    outcomes.webhook = await deliver(deps, event, 'webhook', () =>
      deps.webhooks.post(url, body, {
        'content-type': 'application/json',
        'x-arc-event-id': event.id,
        'x-arc-signature': signatureHeader(secret, Math.floor(deps.clock.now().getTime() / 1000), body),
      }),
    );
  }
  if (preferences.email) {
    const email = deps.email;
    outcomes.email = email
      ? await deliver(deps, event, 'email', () => email.send({ to: event.data.user_email, subject, text }))
      : { outcome: 'not_configured', detail: 'SendGrid is not configured (sendgrid-api-key)' };
  }
  const again = (Object.entries(outcomes) as [Channel, { outcome: ChannelOutcome }][])
    .filter(([, o]) => o.outcome === 'retry')
    .map(([channel]) => channel);
  if (again.length > 0) throw new RetryLaterError(again);
  return outcomes;
}
