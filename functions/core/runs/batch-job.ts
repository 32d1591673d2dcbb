import { z } from 'zod';
import { SPOT_PREEMPTION_EXIT_CODE } from '../nextflow/exit-codes';

export { SPOT_PREEMPTION_EXIT_CODE };

import { batchJobId, sanitizeLabelValue } from '../shared/ids';
import type { Run, RunStatus } from './run-model';

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

export interface OrchestratorSettings {
  project: string;
  region: string;
  image: string;
  serviceAccount: string;
  eventsTopic: string;
  chunkIntervalSeconds: number;
}

export interface BatchJobSpec {
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
        /** GPUs (HAYSTACK's inference jobs). */
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

export interface RunLocations {
  bucket: string;
  config: string;
  params: string;
  samplesheet: string;
  logsPrefix: string;
  workDir: string;
  cacheDir: string;
}

/** Nextflow's exit code for a pipeline that failed. */
export const NEXTFLOW_FAILURE_EXIT_CODE = 1;

export function batchParent(project: string, region: string): string {
  return `projects/${project}/locations/${region}`;
}

export function batchJobName(project: string, region: string, runId: string): string {
  return `${batchParent(project, region)}/jobs/${batchJobId(runId)}`;
}

/**
 * The orchestrator job of ARCHITECTURE §5: one task running the orchestrator image on a
 * Spot e2-standard-2. A preempted task is retried (it resumes the same session); a failed
 * pipeline is not (rerunning a failed pipeline twice costs money and changes nothing).
 */
export function buildBatchJob(run: Run, where: RunLocations, settings: OrchestratorSettings): BatchJobSpec {
  const gs = (name: string) => `gs://${where.bucket}/${name}`;
  return {
    taskGroups: [
      {
        taskCount: 1,
        taskSpec: {
          runnables: [{ container: { imageUri: settings.image } }],
          computeResource: { cpuMilli: 2000, memoryMib: 4096 },
          maxRunDuration: '604800s',
          maxRetryCount: 2,
          lifecyclePolicies: [
            { action: 'RETRY_TASK', actionCondition: { exitCodes: [SPOT_PREEMPTION_EXIT_CODE] } },
            { action: 'FAIL_TASK', actionCondition: { exitCodes: [NEXTFLOW_FAILURE_EXIT_CODE] } },
          ],
          environment: {
            variables: {
              RUN_ID: run.run_id,
              PIPELINE: run.pipeline,
              PIPELINE_VERSION: run.pipeline_version,
              CONFIG_GCS_PATH: gs(where.config),
              PARAMS_GCS_PATH: gs(where.params),
              SAMPLESHEET_GCS_PATH: gs(where.samplesheet),
              WORK_DIR: gs(where.workDir),
              CACHE_DIR: gs(where.cacheDir),
              SESSION_ID: run.session_id,
              RUN_NAME: run.run_name,
              IS_RECOVERY: String(run.is_recovery),
              LOGS_GCS_PREFIX: gs(where.logsPrefix),
              CHUNK_INTERVAL_SECONDS: String(settings.chunkIntervalSeconds),
            },
          },
        },
      },
    ],
    allocationPolicy: {
      instances: [{ policy: { machineType: 'e2-standard-2', provisioningModel: 'SPOT' } }],
      serviceAccount: { email: settings.serviceAccount },
    },
    labels: {
      // The run's own labels reach the billing export through the job; the platform's come last.
      ...run.labels,
      'run-id': sanitizeLabelValue(run.run_id),
      app: 'arc-reactor',
      pipeline: sanitizeLabelValue(run.pipeline),
      'user-email': sanitizeLabelValue(run.user_email),
    },
    logsPolicy: { destination: 'CLOUD_LOGGING' },
    notifications: [
      {
        pubsubTopic: `projects/${settings.project}/topics/${settings.eventsTopic}`,
        message: { type: 'JOB_STATE_CHANGED' },
      },
    ],
  };
}

/** The run status a Batch job state stands for; null for states that say nothing new. */
export function runStatusForJobState(state: BatchJobState): RunStatus | null {
  switch (state) {
    case 'QUEUED':
    case 'SCHEDULED':
      return 'submitted';
    case 'RUNNING':
      return 'running';
    case 'SUCCEEDED':
      return 'completed';
    case 'FAILED':
      return 'failed';
    case 'CANCELLED':
      return 'cancelled';
    default:
      return null;
  }
}

/** What went wrong, from the job's status events (the newest one that says something). */
export function jobFailure(job: BatchJob): { message: string; exitCode: number | null } {
  const events = [...job.status.statusEvents].reverse();
  const withExit = events.find((e) => e.taskExecution?.exitCode !== undefined);
  const exitCode = withExit?.taskExecution?.exitCode ?? null;
  const described =
    events.find((e) => e.description && /fail|error|exit code|preempt/i.test(e.description)) ?? events[0];
  const description = described?.description ?? 'The Batch job failed without a status message.';
  const hint =
    exitCode === SPOT_PREEMPTION_EXIT_CODE
      ? ' The Spot VM was preempted more often than the retry limit allows.'
      : '';
  return { message: `Batch job failed: ${description}${hint}`, exitCode };
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
