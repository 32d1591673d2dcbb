import { describe, expect, it } from 'vitest';
import { batchJobName, buildBatchJob, orchestratorFailure } from '../../../functions/core/runs/batch-job';
import type { Run } from '../../../functions/core/runs/run-model';
import { BatchJob, type BatchJobState, jobFailure, jobStateTime } from '../../../functions/core/shared/batch';
import { runStatusForJobState } from '../../../functions/core/shared/lifecycle';

const run = {
  run_id: 'run-abc123def456',
  pipeline: 'nf-core/scrnaseq',
  pipeline_version: '4.0.0',
  user_email: 'Alice.Smith@Example.com',
  session_id: '0b5d7c9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e',
  run_name: 'run-abc123def456',
  is_recovery: false,
  root_run_id: 'run-root00000001',
} as Run;

const settings = {
  project: 'lab-prod',
  region: 'europe-west4',
  image: 'europe-west4-docker.pkg.dev/lab-prod/arc-reactor/orchestrator:1.2.3',
  serviceAccount: 'arc-orchestrator@lab-prod.iam.gserviceaccount.com',
  eventsTopic: 'arc-batch-events',
  chunkIntervalSeconds: 5,
};

describe('buildBatchJob (ARCHITECTURE §5)', () => {
  const job = buildBatchJob(run, 'arc-runs', settings);
  const task = job.taskGroups[0]!.taskSpec;

  it('has one task group with one task running the orchestrator image', () => {
    expect(job.taskGroups).toHaveLength(1);
    expect(job.taskGroups[0]!.taskCount).toBe(1);
    expect(task.runnables).toEqual([{ container: { imageUri: settings.image } }]);
  });

  it('asks for 2 vCPU, 4 GiB, 7 days and 2 retries', () => {
    expect(task.computeResource).toEqual({ cpuMilli: 2000, memoryMib: 4096 });
    expect(task.maxRunDuration).toBe('604800s');
    expect(task.maxRetryCount).toBe(2);
  });

  it('retries a preempted task (50001) but not a failed pipeline (exit 1)', () => {
    expect(task.lifecyclePolicies).toEqual([
      { action: 'RETRY_TASK', actionCondition: { exitCodes: [50001] } },
      { action: 'FAIL_TASK', actionCondition: { exitCodes: [1] } },
    ]);
  });

  it('passes the run to the orchestrator in exactly the documented variables', () => {
    expect(task.environment.variables).toEqual({
      RUN_ID: 'run-abc123def456',
      PIPELINE: 'nf-core/scrnaseq',
      PIPELINE_VERSION: '4.0.0',
      CONFIG_GCS_PATH: 'gs://arc-runs/runs/run-abc123def456/inputs/nextflow.config',
      PARAMS_GCS_PATH: 'gs://arc-runs/runs/run-abc123def456/inputs/params.yaml',
      SAMPLESHEET_GCS_PATH: 'gs://arc-runs/runs/run-abc123def456/inputs/samplesheet.csv',
      WORK_DIR: 'gs://arc-runs/work/run-root00000001/',
      CACHE_DIR: 'gs://arc-runs/cache/run-root00000001/',
      SESSION_ID: run.session_id,
      RUN_NAME: 'run-abc123def456',
      IS_RECOVERY: 'false',
      LOGS_GCS_PREFIX: 'gs://arc-runs/runs/run-abc123def456/logs/',
      CHUNK_INTERVAL_SECONDS: '5',
    });
  });

  it('runs on a Spot e2-standard-2 as the orchestrator service account', () => {
    expect(job.allocationPolicy).toEqual({
      instances: [{ policy: { machineType: 'e2-standard-2', provisioningModel: 'SPOT' } }],
      serviceAccount: { email: settings.serviceAccount },
    });
  });

  it('labels the job with sanitized values', () => {
    expect(job.labels).toEqual({
      'run-id': 'run-abc123def456',
      app: 'arc-reactor',
      pipeline: 'nf-core_scrnaseq',
      'user-email': 'alice_smith_example_com',
    });
    for (const value of Object.values(job.labels)) expect(value).toMatch(/^[a-z0-9_-]{0,63}$/);
  });

  it("copies the run's labels onto the job, so they reach the billing export", () => {
    const labelled = buildBatchJob(
      { ...run, labels: { team: 'genomics', 'cost-center': 'cc-42' } },
      'arc-runs',
      settings,
    );
    expect(labelled.labels).toMatchObject({ team: 'genomics', 'cost-center': 'cc-42', app: 'arc-reactor' });
  });

  it('logs to Cloud Logging and notifies state changes to the Batch events topic', () => {
    expect(job.logsPolicy).toEqual({ destination: 'CLOUD_LOGGING' });
    expect(job.notifications).toEqual([
      { pubsubTopic: 'projects/lab-prod/topics/arc-batch-events', message: { type: 'JOB_STATE_CHANGED' } },
    ]);
  });

  it('names the job nf-{run_id} under the project and region', () => {
    expect(batchJobName('lab-prod', 'europe-west4', run.run_id)).toBe(
      'projects/lab-prod/locations/europe-west4/jobs/nf-run-abc123def456',
    );
  });
});

describe('job states', () => {
  it.each<[BatchJobState, string | null]>([
    ['QUEUED', 'submitted'],
    ['SCHEDULED', 'submitted'],
    ['RUNNING', 'running'],
    ['SUCCEEDED', 'completed'],
    ['FAILED', 'failed'],
    ['CANCELLED', 'cancelled'],
    ['CANCELLATION_IN_PROGRESS', null],
    ['DELETION_IN_PROGRESS', null],
    ['STATE_UNSPECIFIED', null],
  ])('%s → %s', (state, status) => {
    expect(runStatusForJobState(state)).toBe(status);
  });

  it('explains a failure from the newest status event that says something, with the exit code', () => {
    const job = BatchJob.parse({
      name: 'projects/p/locations/r/jobs/nf-run-abc123def456',
      status: {
        state: 'FAILED',
        statusEvents: [
          { description: 'Job state is set from QUEUED to SCHEDULED' },
          {
            description: 'Task state is updated from RUNNING to FAILED with exit code 137',
            taskExecution: { exitCode: 137 },
          },
          { description: 'Job state is set from RUNNING to FAILED' },
        ],
      },
    });
    expect(jobFailure(job)).toEqual({
      message: 'Batch job failed: Job state is set from RUNNING to FAILED',
      exitCode: 137,
    });
  });

  it('says so when Spot preemptions used up the retries', () => {
    const job = BatchJob.parse({
      name: 'n',
      status: {
        state: 'FAILED',
        statusEvents: [{ description: 'Task failed: preempted', taskExecution: { exitCode: 50001 } }],
      },
    });
    expect(orchestratorFailure(job).message).toMatch(/Spot VM was preempted more often than the retry limit/);
    expect(jobFailure(job).message).not.toMatch(/retry limit/);
  });
});

describe('jobStateTime', () => {
  it('is when the job entered its current state, not when we heard about it', () => {
    const job = BatchJob.parse({
      name: 'n',
      updateTime: '2026-11-01T10:09:00.000Z',
      status: {
        state: 'RUNNING',
        statusEvents: [
          {
            description: 'Job state is set from QUEUED to SCHEDULED for job n.',
            eventTime: '2026-11-01T10:01:00.000Z',
          },
          {
            description: 'Job state is set from SCHEDULED to RUNNING for job n.',
            eventTime: '2026-11-01T10:02:00.000Z',
          },
          { description: 'Task 0 log line', eventTime: '2026-11-01T10:05:00.000Z' },
        ],
      },
    });
    expect(jobStateTime(job, 'now')).toBe('2026-11-01T10:02:00.000Z');
    expect(
      jobStateTime(
        BatchJob.parse({ name: 'n', updateTime: '2026-11-01T10:09:00.000Z', status: { state: 'FAILED' } }),
        'now',
      ),
    ).toBe('2026-11-01T10:09:00.000Z');
    expect(jobStateTime(BatchJob.parse({ name: 'n', status: { state: 'FAILED' } }), 'now')).toBe('now');
  });
});
