/**
 * What the platform tells other systems about its runs: one CloudEvent (structured JSON,
 * CloudEvents 1.0) per applied status change of a run, of either kind, published to the
 * `arc-run-events` topic with attributes to filter on. A run enters each status at most once
 * (statuses only move forward, ARCHITECTURE §3), so `{run_id}/{status}` identifies the event:
 * a republished event keeps its id and subscribers drop what they have seen.
 */
import { z } from 'zod';
import { isTerminal, RunStatus, STATUS_RANK } from './run-status';

export const RUN_STATUS_CHANGED = 'com.arcreactor.run.status.changed.v1';

/** A kind of run's name (`nextflow`, `haystack`): the list of kinds says which exist (ARCHITECTURE §3a). */
export const KindName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,30}$/, 'a kind of run: lowercase letters, digits, -');

/** How the platform names a run to a person, whatever its kind: its title and its page. */
export interface RunEventView {
  kind: string;
  /** What the run is: `nf-core/scrnaseq 4.0.0`, `Cell prompting run`. */
  title: string;
  /** The run's page in the web app, from its root: `/runs/run-…`, `/haystack/hs-…`. */
  page: string;
}

export const RunStatusEventData = z.object({
  run_id: z.string(),
  kind: KindName,
  title: z.string().optional().describe('what the run is, as a person reads it (nf-core/scrnaseq 4.0.0)'),
  page: z.string().optional().describe("the run's page in the web app, from its root (/runs/run-…)"),
  from: z.enum(RunStatus),
  to: z.enum(RunStatus),
  at: z.string().describe('when the run entered `to` (ISO 8601, UTC)'),
  user_email: z.string(),
  /** The pipeline (`nf-core/scrnaseq`) or `haystack`. */
  pipeline: z.string(),
  pipeline_version: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  created_at: z.string(),
  /** From start (or creation) to `at`, once the run has ended. */
  duration_seconds: z.number().nullable(),
  error_message: z.string().nullable(),
  error_task: z.string().nullable(),
});
export type RunStatusEventData = z.infer<typeof RunStatusEventData>;

/** A structured CloudEvent 1.0 of `type` carrying `data`: the envelope both kinds of event share. */
function cloudEvent<T extends string, D extends z.ZodType>(type: T, data: D) {
  return z.object({
    specversion: z.literal('1.0'),
    id: z.string(),
    source: z.string(),
    type: z.literal(type),
    subject: z.string(),
    time: z.string(),
    datacontenttype: z.literal('application/json'),
    data,
  });
}

export const RunStatusCloudEvent = cloudEvent(RUN_STATUS_CHANGED, RunStatusEventData);
export type RunStatusCloudEvent = z.infer<typeof RunStatusCloudEvent>;

export const RUN_NOTICE = 'com.arcreactor.run.notice.v1';

/**
 * What the platform tells a run's owner beside its status changes, on the same topic and channels:
 * the run reached 80% of its budget; the work dir of a run that could be resumed is about to be
 * deleted. Each at most once per run (`{run_id}/notice/{notice}`).
 */
export const RunNotice = z.enum(['budget_warning', 'work_dir_expiring']);
export type RunNotice = z.infer<typeof RunNotice>;

export const RunNoticeCloudEvent = cloudEvent(
  RUN_NOTICE,
  z.object({
    run_id: z.string(),
    kind: KindName,
    title: z.string(),
    page: z.string(),
    notice: RunNotice,
    /** What happened and what to do, in words (a person reads it). */
    message: z.string(),
    at: z.string(),
    user_email: z.string(),
    pipeline: z.string(),
    labels: z.record(z.string(), z.string()),
  }),
);
export type RunNoticeCloudEvent = z.infer<typeof RunNoticeCloudEvent>;

/** What every run event's envelope says besides its id, type and data. */
function envelope(project: string, runId: string, at: string) {
  return {
    specversion: '1.0' as const,
    source: `//arcreactor/projects/${project}/runs`,
    subject: runId,
    time: at,
    datacontenttype: 'application/json' as const,
  };
}

/** The notice event for `run`. */
export function runNoticeEvent(
  view: RunEventView,
  run: Pick<RunForEvent, 'run_id' | 'user_email' | 'pipeline' | 'labels'>,
  notice: { notice: RunNotice; message: string; at: string },
  project: string,
): RunNoticeCloudEvent {
  return {
    ...envelope(project, run.run_id, notice.at),
    id: `${run.run_id}/notice/${notice.notice}`,
    type: RUN_NOTICE,
    data: {
      run_id: run.run_id,
      kind: view.kind,
      title: view.title,
      page: view.page,
      notice: notice.notice,
      message: notice.message,
      at: notice.at,
      user_email: run.user_email,
      pipeline: run.pipeline,
      labels: run.labels ?? {},
    },
  };
}

/** A message for a topic: the body, attributes subscribers can filter on, and the per-run order key. */
export interface OutgoingMessage {
  data: string;
  attributes: Record<string, string>;
  orderingKey: string;
}

/** Pub/Sub (or its emulator): publishes one message, resolving with its id once the topic has it. */
export interface MessagePublisher {
  publish(message: OutgoingMessage): Promise<string>;
}

/** Status changes committed but not yet published (the outbox), published again by the sweeper. */
export interface RunEventOutbox {
  /** Publishes, in order, what runs staged before `before` (ISO 8601) and nobody published; answers how many. */
  drainStale(before: string, limit: number): Promise<number>;
}

export interface RunForEvent {
  run_id: string;
  user_email: string;
  created_at: string;
  started_at?: string | null;
  pipeline: string;
  pipeline_version?: string | null;
  labels?: Record<string, string> | null;
  error_message?: string | null;
  error_task?: string | null;
}

function durationSeconds(run: RunForEvent, to: RunStatus, at: string): number | null {
  if (!isTerminal(to)) return null;
  const start = Date.parse(run.started_at ?? run.created_at);
  const end = Date.parse(at);
  return Number.isFinite(start) && Number.isFinite(end)
    ? Math.max(0, Math.round((end - start) / 1000))
    : null;
}

/** The event for `run` (as it is after the change) moving `from` → `to` at `at`. */
export function runStatusEvent(
  view: RunEventView,
  run: RunForEvent,
  change: { from: RunStatus; to: RunStatus; at: string },
  project: string,
): RunStatusCloudEvent {
  return {
    ...envelope(project, run.run_id, change.at),
    id: `${run.run_id}/${change.to}`,
    type: RUN_STATUS_CHANGED,
    data: {
      run_id: run.run_id,
      kind: view.kind,
      title: view.title,
      page: view.page,
      from: change.from,
      to: change.to,
      at: change.at,
      user_email: run.user_email,
      pipeline: run.pipeline,
      pipeline_version: run.pipeline_version ?? null,
      labels: run.labels ?? {},
      created_at: run.created_at,
      duration_seconds: durationSeconds(run, change.to, change.at),
      error_message: isTerminal(change.to) ? (run.error_message ?? null) : null,
      error_task: isTerminal(change.to) ? (run.error_task ?? null) : null,
    },
  };
}

/** Attributes subscribers filter on (`attributes.status = "failed"`, `attributes.notice`), and the per-run ordering key. */
export function toMessage(event: RunStatusCloudEvent | RunNoticeCloudEvent): OutgoingMessage {
  if (event.type === RUN_NOTICE)
    return {
      data: JSON.stringify(event),
      attributes: {
        type: event.type,
        kind: event.data.kind,
        notice: event.data.notice,
        pipeline: event.data.pipeline,
        user: event.data.user_email,
      },
      orderingKey: event.data.run_id,
    };
  return {
    data: JSON.stringify(event),
    attributes: {
      type: event.type,
      kind: event.data.kind,
      status: event.data.to,
      pipeline: event.data.pipeline,
      user: event.data.user_email,
    },
    orderingKey: event.data.run_id,
  };
}

/**
 * Where an event sits in its run's stream: later statuses publish after earlier ones; a budget
 * warning (while running) before the end, a work dir's expiry (long after it) last.
 */
export const eventSequence = (to: RunStatus) => STATUS_RANK[to];
export const NOTICE_SEQUENCE: Record<RunNotice, number> = { budget_warning: 2.5, work_dir_expiring: 4 };
