/** Notifications: where run pages live, the webhook rules, and SendGrid. */
import { z } from 'zod';
import { fix } from './schema';

const Flag = z.enum(['true', 'false']).transform((v) => v === 'true');

export const notificationsEnv = z.object({
  PUBLIC_URL: fix(
    z.url(),
    "set it to the page's address behind the load balancer, e.g. https://arc.example.org",
  ).optional(),
  NOTIFY_ALLOW_LOOPBACK_WEBHOOKS: fix(
    Flag,
    'true only on a local stack (http webhooks on 127.0.0.1 or ::1; every other private address stays refused)',
  ).default(false),
  SENDGRID_API_KEY_SECRET: fix(
    z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a Secret Manager secret id'),
    'set it to the secret id holding the SendGrid key',
  ).default('sendgrid-api-key'),
  SENDGRID_BASE_URL: fix(z.url(), 'set it to the SendGrid API, e.g. https://api.sendgrid.com').default(
    'https://api.sendgrid.com',
  ),
  NOTIFY_FROM_EMAIL: fix(z.email(), 'set it to a sender SendGrid has verified').optional(),
  NOTIFY_RETRY_DELAYS_MS: fix(
    z
      .string()
      .regex(/^\d{1,6}(,\d{1,6}){0,5}$/, 'must be up to 6 comma-separated delays in ms')
      .transform((v) => v.split(',').map(Number)),
    'e.g. 1000,4000',
  ).default([1_000, 4_000]),
  NOTIFY_MAX_DELIVERIES: z.coerce.number().int().min(1).max(100).default(5),
});

export function notificationsConfig(c: z.output<typeof notificationsEnv>, project: string) {
  return {
    notifications: {
      /** The page's address for links in messages (the local stack sets its own). */
      publicUrl: c.PUBLIC_URL ?? 'http://localhost:8080',
      allowLoopbackWebhooks: c.NOTIFY_ALLOW_LOOPBACK_WEBHOOKS,
      sendgrid: {
        secretName: c.SENDGRID_API_KEY_SECRET,
        baseUrl: c.SENDGRID_BASE_URL,
        from: c.NOTIFY_FROM_EMAIL ?? `arc-reactor@${project}.example.org`,
      },
      retryDelaysMs: c.NOTIFY_RETRY_DELAYS_MS,
      maxDeliveries: c.NOTIFY_MAX_DELIVERIES,
    },
  };
}
