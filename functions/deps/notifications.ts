import { FirestoreDeliveryLog, FirestorePreferencesStore } from '../adapters/firestore-notifications';
import { GcsObjectStore } from '../adapters/gcs-object-store';
import { HttpsWebhookSender } from '../adapters/https-webhook-sender';
import { SendGridEmailSender } from '../adapters/sendgrid-email-sender';
import type { Config } from '../config';
import type { NotifierDeps } from '../core/notifications/notifier';
import type { RunEventReaction } from '../events/run-status-notifier';
import { measureWorkDirWhenRunEnds } from '../events/run-work-dir';
import { jsonLogger, type Logger } from '../logging';
import { createFirestore, createStorage, systemClock } from './platform';
import { createRunStore } from './runs';
import { createSecrets } from './secrets';

/** What onRunEvent needs: preferences, the delivery log, the webhook and SendGrid senders. */
export function createNotifierDeps(
  config: Config,
  overrides: { logger?: Logger } = {},
): NotifierDeps & { logger: Logger } {
  const db = createFirestore(config);
  const { notifications } = config;
  return {
    preferences: new FirestorePreferencesStore(db),
    deliveries: new FirestoreDeliveryLog(db),
    webhooks: new HttpsWebhookSender(notifications.allowLoopbackWebhooks),
    email: new SendGridEmailSender(createSecrets(config), {
      baseUrl: notifications.sendgrid.baseUrl,
      secretName: notifications.sendgrid.secretName,
      from: notifications.sendgrid.from,
    }),
    clock: systemClock,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    settings: {
      publicUrl: notifications.publicUrl,
      retryDelaysMs: notifications.retryDelaysMs,
      maxDeliveries: notifications.maxDeliveries,
    },
    logger: overrides.logger ?? jsonLogger(),
  };
}

/** onRunEvent's other reactions: a Nextflow run's end measures its chain's work dir. */
export function createRunEventReactions(config: Config, logger: Logger): RunEventReaction[] {
  const db = createFirestore(config);
  return [
    measureWorkDirWhenRunEnds({
      runs: createRunStore(config, db, logger),
      objects: new GcsObjectStore(createStorage(config), config.runsBucket),
      clock: systemClock,
      logger,
    }),
  ];
}
