/**
 * Google Batch as the platform sees it, for every kind of run: the job spec the API takes
 * (jobs.create's body), the job it answers (only the fields we read), job ids and names, the
 * `JobRunner` port (Batch or its local twin), and what a job's status events say.
 */
import { z } from 'zod';

/** Batch job states (google.cloud.batch.v1.JobStatus.State). */
export const BatchJobState = [
  'STATE_UNSPECIFIED',
  'QUEUED',
  'SCHEDULED',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'DELETION_IN_PROGRESS',
  'CANCELLATION_IN_PROGRESS',
  'CANCELLED',
] as const;
export type BatchJobState = (typeof BatchJobState)[number];

export const TERMINAL_JOB_STATES: readonly BatchJobState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

export const isJobEnded = (state: string): boolean =>
  (TERMINAL_JOB_STATES as readonly string[]).includes(state);

const StatusEvent = z.object({
  type: z.string().optional(),
  description: z.string().optional(),
  eventTime: z.string().optional(),
  taskState: z.string().optional(),
  taskExecution: z.object({ exitCode: z.number().int().optional() }).optional(),
});

/** A Batch job as the REST API (and the Workflows connector) returns it; only the fields we read. */
export const BatchJob = z.object({
  name: z.string(),
  uid: z.string().optional(),
  status: z
    .object({
      state: z.enum(BatchJobState).default('STATE_UNSPECIFIED'),
      statusEvents: z.array(StatusEvent).default([]),
      runDuration: z.string().optional(),
    })
    .default({ state: 'STATE_UNSPECIFIED', statusEvents: [] }),
  labels: z.record(z.string(), z.string()).default({}),
  createTime: z.string().optional(),
  updateTime: z.string().optional(),
});
export type BatchJob = z.infer<typeof BatchJob>;

/** A Batch job as jobs.create takes it (REST shape): every job the platform creates, of any kind. */
export interface JobSpec {
  taskGroups: {
    taskCount: number;
    taskSpec: {
      runnables: { container: { imageUri: string; entrypoint?: string; commands?: string[] } }[];
      computeResource: { cpuMilli: number; memoryMib: number };
      maxRunDuration: string;
      maxRetryCount: number;
      lifecyclePolicies: { action: 'RETRY_TASK' | 'FAIL_TASK'; actionCondition: { exitCodes: number[] } }[];
      environment: { variables: Record<string, string> };
    };
  }[];
  allocationPolicy: {
    instances: {
      policy: {
        machineType: string;
        provisioningModel: 'SPOT' | 'STANDARD';
        /** GPUs (HAYSTACK's model jobs). */
        accelerators?: { type: string; count: number }[];
      };
      installGpuDrivers?: boolean;
    }[];
    serviceAccount: { email: string };
  };
  labels: Record<string, string>;
  logsPolicy: { destination: 'CLOUD_LOGGING' };
  notifications?: { pubsubTopic: string; message: { type: 'JOB_STATE_CHANGED' } }[];
}

export function batchParent(project: string, region: string): string {
  return `projects/${project}/locations/${region}`;
}

/** projects/{p}/locations/{r}/jobs/{id} */
export function jobName(parent: string, jobId: string): string {
  return `${parent}/jobs/${jobId}`;
}

/** The last part of a job's name (its id); a bare id is answered as it is. */
export function jobIdOf(name: string): string {
  return name.split('/').at(-1)!;
}

/** Batch refused to create a job because one with that id exists (ALREADY_EXISTS). */
export class JobExistsError extends Error {
  constructor(readonly jobName: string) {
    super(`Batch job ${jobName} already exists`);
    this.name = 'JobExistsError';
  }
}

/** Batch rejected or failed a call; `status` is the HTTP-style code (400, 403, 429, 500, 503, …). */
export class JobRunnerError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'JobRunnerError';
  }
}

export interface CreateJobInput {
  parent: string;
  jobId: string;
  /** A UUID: Batch ignores a repeated create with the same requestId for 60 minutes. */
  requestId: string;
  job: JobSpec;
  /**
   * On ALREADY_EXISTS, return the existing job instead of throwing JobExistsError (default
   * true: a retried create adopts its first job). The Workflows connector twin sets false,
   * because the real connector reports the 409 and the workflow adopts the job itself.
   */
  adoptExisting?: boolean;
}

/** GCP Batch, or its local twin. */
export interface JobRunner {
  /** Adopts (or with adoptExisting: false, throws JobExistsError for) a taken id; JobRunnerError when Batch refuses. */
  createJob(input: CreateJobInput): Promise<BatchJob>;
  /** Null when the job does not exist (never created, or deleted). */
  getJob(name: string): Promise<BatchJob | null>;
  /** Asks Batch to stop the job; a job that is gone or finished is left alone. */
  cancelJob(name: string): Promise<void>;
}

/** What went wrong, from the job's status events (the newest one that says something). */
export function jobFailure(job: BatchJob): { message: string; exitCode: number | null } {
  const events = [...job.status.statusEvents].reverse();
  const withExit = events.find((e) => e.taskExecution?.exitCode !== undefined);
  const exitCode = withExit?.taskExecution?.exitCode ?? null;
  const described =
    events.find((e) => e.description && /fail|error|exit code|preempt/i.test(e.description)) ?? events[0];
  const description = described?.description ?? 'The Batch job failed without a status message.';
  return { message: `Batch job failed: ${description}`, exitCode };
}

const TRANSITION = /\bto (QUEUED|SCHEDULED|RUNNING|SUCCEEDED|FAILED|CANCELLED)\b/;

/** The state changes a job's status events record ("… from SCHEDULED to RUNNING …"), oldest first. */
export function jobTransitions(job: BatchJob): { state: BatchJobState; at: string }[] {
  const transitions: { state: BatchJobState; at: string }[] = [];
  for (const event of job.status.statusEvents) {
    // A task's own state ("Task state is updated from RUNNING to FAILED … retrying") is not
    // the job's: a task that failed and was retried leaves the job RUNNING.
    const taskEvent =
      (event.taskState !== undefined && event.taskState !== 'STATE_UNSPECIFIED') ||
      /^Task state/i.test(event.description ?? '');
    if (taskEvent) continue;
    const match = event.description ? TRANSITION.exec(event.description) : null;
    if (match && event.eventTime) transitions.push({ state: match[1] as BatchJobState, at: event.eventTime });
  }
  return transitions;
}

/** When the job entered its current state; the job's update time, or `fallback`, when no event says so. */
export function jobStateTime(job: BatchJob, fallback: string): string {
  const entered = jobTransitions(job)
    .filter((t) => t.state === job.status.state)
    .at(-1);
  return entered?.at ?? job.updateTime ?? fallback;
}
