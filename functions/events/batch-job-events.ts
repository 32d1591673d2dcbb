import { z } from 'zod';
import { handleHaystackJobEvent, haystackRunIdFromJobId } from '../core/haystack/execution';
import type { HaystackRunStore } from '../core/haystack/ports';
import type { ExecutionDeps } from '../core/runs/execution-service';
import {
  BatchEventAttributes,
  type EventOutcome,
  handleBatchJobEvent,
  handleRunArtifact,
  StorageObject,
} from '../core/runs/execution-service';
import type { Logger } from '../logging';

/** What the execution functions need: the core's dependencies and a logger. */
/** HAYSTACK runs share the event: an agent job's state changes update its run. */
type FunctionDeps = ExecutionDeps & { logger: Logger; haystackRuns?: HaystackRunStore };

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

function logOutcome(
  deps: FunctionDeps,
  name: string,
  event: IncomingCloudEvent,
  outcome: EventOutcome,
): void {
  deps.logger.log(outcome.outcome === 'applied' ? 'INFO' : 'DEBUG', `${name}_${outcome.outcome}`, {
    event_id: event.id,
    ...outcome,
  });
}

/**
 * onBatchJobEvent (Pub/Sub messagePublished via Eventarc). Retry semantics: a malformed or
 * foreign message is logged and acknowledged; a failure to reach Firestore or Batch throws
 * so that Eventarc delivers the event again.
 */
export function createBatchJobEventHandler(deps: FunctionDeps) {
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
    const haystackRun = haystackRunIdFromJobId(attributes.data.JobName.split('/').at(-1)!);
    if (haystackRun && deps.haystackRuns && attributes.data.JobName.startsWith('projects/')) {
      const outcome = await handleHaystackJobEvent(
        {
          haystackRuns: deps.haystackRuns,
          jobStates: { state: async (name) => (await deps.jobs.getJob(name))?.status.state ?? null },
          clock: deps.clock,
        },
        haystackRun,
        attributes.data.JobName,
      );
      logOutcome(deps, 'batch_event', event, outcome as EventOutcome);
      return;
    }
    logOutcome(deps, 'batch_event', event, await handleBatchJobEvent(deps, attributes.data));
  };
}

/**
 * onRunArtifact (Cloud Storage object.v1.finalized via Eventarc). Same retry semantics:
 * malformed payloads and unknown runs are acknowledged; storage or Firestore errors throw.
 */
export function createRunArtifactHandler(deps: FunctionDeps) {
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
    logOutcome(deps, 'artifact', event, await handleRunArtifact(deps, object.data));
  };
}
