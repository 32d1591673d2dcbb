import type { Caller } from '../shared/caller';
import { ValidationError } from '../shared/errors';
import type { Clock, Randomness } from '../shared/ports';
import { parseOrThrow } from '../shared/validation';
import type { PreferencesStore } from './ports';
import {
  DEFAULT_PREFERENCES,
  type NotificationPreferences,
  PutPreferencesRequest,
  webhookUrlProblem,
} from './preferences';

export interface PreferencesDeps {
  preferences: PreferencesStore;
  clock: Clock;
  random: Randomness;
  /** The local stack: http and loopback webhooks are allowed. */
  allowLoopbackWebhooks: boolean;
}

export async function getPreferences(
  deps: PreferencesDeps,
  caller: Caller,
): Promise<NotificationPreferences> {
  return (await deps.preferences.get(caller.email)) ?? DEFAULT_PREFERENCES;
}

/** Replaces the caller's preferences (PUT: what is left out takes its default). */
export async function putPreferences(
  deps: PreferencesDeps,
  caller: Caller,
  body: unknown,
): Promise<NotificationPreferences> {
  const request = parseOrThrow(PutPreferencesRequest, body, 'preferences');
  if (request.webhook_url !== null) {
    const problem = webhookUrlProblem(request.webhook_url, deps.allowLoopbackWebhooks);
    if (problem) {
      throw new ValidationError(`webhook_url ${problem}.`, [
        { field: 'webhook_url', rule: 'webhook_url', message: `webhook_url ${problem}` },
      ]);
    }
  }
  const current = await deps.preferences.get(caller.email);
  const secret =
    request.webhook_url === null
      ? null
      : request.rotate_secret || !current?.webhook_secret
        ? `whsec_${Buffer.from(deps.random.bytes(32)).toString('base64url')}`
        : current.webhook_secret;
  const next: NotificationPreferences = {
    webhook_url: request.webhook_url,
    webhook_secret: secret,
    email: request.email,
    statuses: [...new Set(request.statuses)],
    updated_at: deps.clock.now().toISOString(),
  };
  await deps.preferences.put(caller.email, next);
  return next;
}
