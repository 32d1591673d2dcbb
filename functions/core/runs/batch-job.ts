import { SPOT_PREEMPTION_EXIT_CODE } from '../nextflow/exit-codes';
import { type BatchJob, batchParent, type JobSpec, jobFailure, jobName } from '../shared/batch';
import { runPaths } from '../shared/bucket-layout';
import { batchJobId, sanitizeLabelValue } from '../shared/ids';
import type { Run } from './run-model';

export interface OrchestratorSettings {
  project: string;
  region: string;
  image: string;
  serviceAccount: string;
  eventsTopic: string;
  chunkIntervalSeconds: number;
}

/** Nextflow's exit code for a pipeline that failed. */
export const NEXTFLOW_FAILURE_EXIT_CODE = 1;

/** Every Batch job a Nextflow run starts itself: its orchestrator's, once prepared. */
export function nextflowJobs(run: Pick<Run, 'batch_job_name'>): string[] {
  return run.batch_job_name ? [run.batch_job_name] : [];
}

export function batchJobName(project: string, region: string, runId: string): string {
  return jobName(batchParent(project, region), batchJobId(runId));
}

/**
 * The orchestrator job of ARCHITECTURE §5: one task running the orchestrator image on a
 * Spot e2-standard-2. A preempted task is retried (it resumes the same session); a failed
 * pipeline is not (rerunning a failed pipeline twice costs money and changes nothing).
 */
export function buildBatchJob(run: Run, bucket: string, settings: OrchestratorSettings): JobSpec {
  const where = runPaths(bucket, run.run_id, run.root_run_id);
  const gs = (name: string) => `gs://${bucket}/${name}`;
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
              LOGS_GCS_PREFIX: gs(where.logs),
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

/** Why the orchestrator job failed: Batch's words, and for a Spot preemption past the retries, that. */
export function orchestratorFailure(job: BatchJob): { message: string; exitCode: number | null } {
  const failure = jobFailure(job);
  return failure.exitCode === SPOT_PREEMPTION_EXIT_CODE
    ? {
        ...failure,
        message: `${failure.message} The Spot VM was preempted more often than the retry limit allows.`,
      }
    : failure;
}
