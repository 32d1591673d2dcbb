import type { Firestore } from '@google-cloud/firestore';
import { FirestoreHaystackRunStore } from '../adapters/firestore-haystack-run-store';
import type { StatusEvents } from '../adapters/firestore-run-event-outbox';
import { FirestoreRunEventOutbox } from '../adapters/firestore-run-event-outbox';
import { onFirstUse, pubsubSdk } from '../adapters/google-sdks';
import { PubSubPublisher } from '../adapters/pubsub-publisher';
import type { PlatformConfig } from '../config/platform';
import { describeError, type Logger } from '../logging';
import { emulatorCredentials } from './platform';

/** Run status events: the Firestore outbox and the `arc-run-events` topic it publishes to. */
export function createRunEventOutbox(config: PlatformConfig, db: Firestore): FirestoreRunEventOutbox {
  const emulator = config.emulators.pubsub;
  const publisher = onFirstUse(() => {
    const pubsub = new (pubsubSdk().PubSub)({
      projectId: config.project,
      ...(emulator ? { apiEndpoint: emulator, emulatorMode: true, credentials: emulatorCredentials } : {}),
    });
    return new PubSubPublisher(pubsub, config.runEventsTopic);
  });
  return new FirestoreRunEventOutbox(db, publisher);
}

/** What the run stores need to publish status events; failures are logged (the sweeper republishes). */
export function createStatusEvents(config: PlatformConfig, db: Firestore, logger: Logger): StatusEvents {
  return {
    outbox: createRunEventOutbox(config, db),
    project: config.project,
    onPublishError: (runId, error) =>
      logger.log('WARNING', 'run status event not published yet; the sweeper will retry', {
        run_id: runId,
        error: describeError(error),
      }),
  };
}

/** HAYSTACK's run store, publishing its status changes like the run store does. */
export function createHaystackRunStore(
  config: PlatformConfig,
  db: Firestore,
  logger: Logger,
): FirestoreHaystackRunStore {
  return new FirestoreHaystackRunStore(db, createStatusEvents(config, db, logger));
}
