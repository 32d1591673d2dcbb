import { type NotifierDeps, notify, RetryLaterError } from '../core/notifications/notifier';
import { RUN_STATUS_CHANGED, RunNoticeCloudEvent, RunStatusCloudEvent } from '../core/shared/run-events';
import type { Logger } from '../logging';
import { type IncomingCloudEvent, PubSubEventData } from './batch-job-events';

/** The run status event or notice a Pub/Sub message of `arc-run-events` carries; null when it is neither. */
export function runEventOf(event: IncomingCloudEvent): RunStatusCloudEvent | RunNoticeCloudEvent | null {
  const data = PubSubEventData.safeParse(event.data);
  if (!data.success || !data.data.message.data) return null;
  try {
    const body: unknown = JSON.parse(Buffer.from(data.data.message.data, 'base64').toString('utf8'));
    const status = RunStatusCloudEvent.safeParse(body);
    if (status.success) return status.data;
    const notice = RunNoticeCloudEvent.safeParse(body);
    return notice.success ? notice.data : null;
  } catch {
    return null;
  }
}

/** What else reacts to a run status event beside the notifications (each idempotent per event). */
export type RunEventReaction = (event: RunStatusCloudEvent) => Promise<void>;

/**
 * onRunEvent (Pub/Sub messagePublished on arc-run-events via Eventarc): notifies the run's
 * owner, and runs the other reactions (a Nextflow run's end measures its work dir). A message
 * that is not a run status event is logged and acknowledged; a channel still failing after its
 * retries, or a reaction that failed, throws once all have run, so that the event is delivered
 * again (notifier.ts; each reaction does its work once per event).
 */
export function createRunEventNotifierHandler(
  deps: NotifierDeps & { logger: Logger },
  reactions: RunEventReaction[] = [],
) {
  return async (incoming: IncomingCloudEvent): Promise<void> => {
    const event = runEventOf(incoming);
    if (!event) {
      deps.logger.log('WARNING', 'run_event_malformed', { event_id: incoming.id, type: incoming.type });
      return;
    }
    const fields = {
      event_id: event.id,
      run_id: event.data.run_id,
      ...('to' in event.data ? { status: event.data.to } : { notice: event.data.notice }),
    };
    const notifying = (async () => {
      try {
        const outcomes = await notify(deps, event);
        if (Object.keys(outcomes).length > 0)
          deps.logger.log('INFO', 'notification_done', { ...fields, ...outcomes });
      } catch (error) {
        if (error instanceof RetryLaterError)
          deps.logger.log('WARNING', 'notification_retry', { ...fields, channels: error.channels });
        throw error;
      }
    })();
    const reacting = event.type === RUN_STATUS_CHANGED ? reactions.map((react) => react(event)) : [];
    const results = await Promise.allSettled([notifying, ...reacting]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
}
