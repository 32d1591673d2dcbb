/**
 * The event functions' handlers: Batch job state changes (every kind of run, through the
 * kernel) and a Nextflow run's artifacts in the bucket. Retry semantics, for both: a malformed
 * or foreign event is logged and acknowledged; a failure to reach Firestore, Cloud Storage or
 * Batch throws so that Eventarc delivers the event again.
 */
import { z } from 'zod';
import { type ExecutionDeps, handleRunArtifact, StorageObject } from '../core/runs/execution-service';
import { BatchEventAttributes, handleBatchJobEvent, type KernelDeps } from '../core/shared/kernel';
import type { EventOutcome } from '../core/shared/run-kind';
import type { Logger } from '../logging';

/** The CloudEvent the Functions Framework hands us: only the fields we read. */
export interface IncomingCloudEvent {
  id: string;
  type: string;
  subject?: string;
  data?: unknown;
}

export const PubSubEventData = z.object({
  message: z.object({
    attributes: z.record(z.string(), z.string()).default({}),
    data: z.string().optional(),
    messageId: z.string().optional(),
  }),
});

function logOutcome(logger: Logger, name: string, event: IncomingCloudEvent, outcome: EventOutcome): void {
  logger.log(outcome.outcome === 'applied' ? 'INFO' : 'DEBUG', `${name}_${outcome.outcome}`, {
    event_id: event.id,
    ...outcome,
  });
}

/** onBatchJobEvent (Pub/Sub messagePublished via Eventarc): the job's kind of run is looked up by the kernel. */
export function createBatchJobEventHandler(deps: KernelDeps & { logger: Logger }) {
  return async (event: IncomingCloudEvent): Promise<void> => {
    const data = PubSubEventData.safeParse(event.data);
    const attributes = data.success ? BatchEventAttributes.safeParse(data.data.message.attributes) : null;
    if (!attributes?.success) {
      deps.logger.log('WARNING', 'batch_event_malformed', {
        event_id: event.id,
        type: event.type,
        reason: 'no Batch JobName attribute',
      });
      return;
    }
    logOutcome(deps.logger, 'batch_event', event, await handleBatchJobEvent(deps, attributes.data));
  };
}

/** onRunArtifact (Cloud Storage object.v1.finalized via Eventarc): what a Nextflow run's orchestrator wrote. */
export function createRunArtifactHandler(deps: ExecutionDeps & { logger: Logger }) {
  return async (event: IncomingCloudEvent): Promise<void> => {
    const object = StorageObject.safeParse(event.data);
    if (!object.success) {
      deps.logger.log('WARNING', 'artifact_event_malformed', {
        event_id: event.id,
        subject: event.subject,
        reason: object.error.issues[0]?.message,
      });
      return;
    }
    logOutcome(deps.logger, 'artifact', event, await handleRunArtifact(deps, object.data));
  };
}
