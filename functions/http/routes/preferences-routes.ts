/** The caller's notification preferences. */
import { NotificationPreferences, PutPreferencesRequest } from '../../core/notifications/preferences';
import {
  getPreferences,
  type PreferencesDeps,
  putPreferences,
} from '../../core/notifications/preferences-service';
import type { Logger } from '../../logging';
import { audit } from '../audit';
import { defineRoute, NoQuery, type Route, requireCaller } from '../router';

export interface PreferencesRouteDeps {
  notificationPreferences: PreferencesDeps;
  logger: Logger;
}

export function preferencesRoutes(deps: PreferencesRouteDeps): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/me/preferences',
      summary: "The caller's notification preferences (their webhook URL and its signing secret included)",
      tags: ['session'],
      auth: true,
      query: NoQuery,
      responses: [{ status: 200, description: 'the preferences', schema: NotificationPreferences }],
      handler: async (ctx) => ({
        body: await getPreferences(deps.notificationPreferences, requireCaller(ctx)),
        headers: { 'cache-control': 'no-store' },
      }),
    }),
    defineRoute({
      method: 'put',
      path: '/api/me/preferences',
      summary:
        'Set how to be told when runs change status: a webhook (Slack incoming webhook or any HTTPS endpoint, signed with X-Arc-Signature), email, and which statuses',
      tags: ['session'],
      auth: true,
      query: NoQuery,
      body: PutPreferencesRequest,
      responses: [
        { status: 200, description: 'the preferences as stored', schema: NotificationPreferences },
        {
          status: 400,
          description: 'a webhook URL that is not https, or points at a private or local address',
        },
      ],
      handler: async (ctx) => {
        const caller = requireCaller(ctx);
        const stored = await putPreferences(deps.notificationPreferences, caller, ctx.body);
        // Never the URL or the secret: only what changed in kind.
        audit(deps.logger, 'preferences_changed', {
          user: caller.email,
          request_id: ctx.requestId,
          webhook: stored.webhook_url !== null,
          email: stored.email,
          statuses: stored.statuses,
        });
        return { body: stored, headers: { 'cache-control': 'no-store' } };
      },
    }),
  ];
}
