/**
 * HAYSTACK runs through the platform's machinery (the run kernel, core/shared/kernel.ts): the
 * same Cloud Workflows definition as a Nextflow run (prepare → create the Batch job prepare
 * names → poll → reconcile). What is HAYSTACK's own is here: the agent job
 * (`haystack-{run_id}`, whose state is the run's) and the model jobs it starts
 * (`stack-{run}-i{n}-treat|ctrl`), their specs, and why an agent job failed.
 */
import { type BatchJob, batchParent, type JobSpec, jobFailure, jobName } from '../shared/batch';
import { checkedJobId, HAYSTACK_RUN_ID, sanitizeLabelValue } from '../shared/ids';
import type { PreparedJob } from '../shared/run-kind';
import { COMPARISON_LABEL } from './phases';
import type { HaystackRunStore } from './ports';
import type { HaystackRun } from './run-model';

export interface HaystackJobSettings {
  project: string;
  region: string;
  agentImage: string;
  agentMachineType: string;
  inferenceImage: string;
  gpuMachineType: string;
  gpuAccelerator: string;
  serviceAccount: string;
  runsBucket: string;
  atlasSeed: number;
  /** Extra environment for the agent (locally: the emulators' addresses). */
  environment: Record<string, string>;
  /** Where Batch publishes the agent job's state changes (the runs' topic). */
  eventsTopic: string;
}

export const agentJobId = (runId: string) => checkedJobId('haystack', runId);

export function agentJobSpec(run: HaystackRun, settings: HaystackJobSettings): JobSpec {
  return {
    taskGroups: [
      {
        taskCount: 1,
        taskSpec: {
          runnables: [{ container: { imageUri: settings.agentImage } }],
          // 4 vCPU and 16 GiB (e2-standard-4), one hour at most, no task retries: a rerun is a new run.
          computeResource: { cpuMilli: 4000, memoryMib: 16_384 },
          maxRunDuration: '3600s',
          maxRetryCount: 0,
          lifecyclePolicies: [],
          environment: {
            variables: {
              HAYSTACK_RUN_ID: run.run_id,
              GOOGLE_CLOUD_PROJECT: settings.project,
              GCP_REGION: settings.region,
              RUNS_BUCKET: settings.runsBucket,
              HAYSTACK_ATLAS_SEED: String(settings.atlasSeed),
              HAYSTACK_INFERENCE_IMAGE: settings.inferenceImage,
              HAYSTACK_GPU_MACHINE_TYPE: settings.gpuMachineType,
              HAYSTACK_GPU_ACCELERATOR: settings.gpuAccelerator,
              HAYSTACK_SERVICE_ACCOUNT: settings.serviceAccount,
              ...settings.environment,
            },
          },
        },
      },
    ],
    allocationPolicy: {
      instances: [{ policy: { machineType: settings.agentMachineType, provisioningModel: 'STANDARD' } }],
      serviceAccount: { email: settings.serviceAccount },
    },
    labels: {
      app: 'arc-reactor',
      component: 'haystack-agent',
      run_id: run.run_id,
      user: sanitizeLabelValue(run.user_email),
    },
    logsPolicy: { destination: 'CLOUD_LOGGING' },
    // Its state changes reach onBatchJobEvent like a pipeline job's.
    notifications: [{ pubsubTopic: settings.eventsTopic, message: { type: 'JOB_STATE_CHANGED' } }],
  };
}

/** The run a HAYSTACK agent job belongs to, from its id; null for any other job. */
export function haystackRunIdFromJobId(jobId: string): string | null {
  return new RegExp(`^haystack-(${HAYSTACK_RUN_ID})$`).exec(jobId)?.[1] ?? null;
}

/** One model call's job id: stack-{run}-i{n}-treat|ctrl. */
export const inferenceJobId = (runId: string, label: string) => checkedJobId('stack', `${runId}-${label}`);

/** Every inference job id a run can have (cancel stops them all; ones never made are skipped). */
export function inferenceJobIds(run: Pick<HaystackRun, 'run_id' | 'max_iterations'>): string[] {
  return [
    ...Array.from({ length: run.max_iterations }, (_, i) => i + 1).flatMap((n) =>
      ['treat', 'ctrl'].map((kind) => inferenceJobId(run.run_id, `i${n}-${kind}`)),
    ),
    inferenceJobId(run.run_id, COMPARISON_LABEL),
  ];
}

/**
 * A model call as a GPU Batch job: the inference image with the stand-in's (and STACK's
 * wrapper's) contract as its arguments; one accelerator, drivers installed, 30 minutes at most.
 */
export function inferenceJobSpec(
  runId: string,
  settings: Pick<
    HaystackJobSettings,
    'inferenceImage' | 'gpuMachineType' | 'gpuAccelerator' | 'serviceAccount' | 'environment'
  >,
  args: { prompt: string; query: string; output: string; seed: number },
): JobSpec {
  return {
    taskGroups: [
      {
        taskCount: 1,
        taskSpec: {
          runnables: [
            {
              container: {
                imageUri: settings.inferenceImage,
                commands: [
                  '--prompt',
                  args.prompt,
                  '--query',
                  args.query,
                  '--output',
                  args.output,
                  '--seed',
                  String(args.seed),
                ],
              },
            },
          ],
          computeResource: { cpuMilli: 8000, memoryMib: 65_536 },
          maxRunDuration: '1800s',
          maxRetryCount: 0,
          lifecyclePolicies: [],
          environment: { variables: { ...settings.environment } },
        },
      },
    ],
    allocationPolicy: {
      instances: [
        {
          policy: {
            machineType: settings.gpuMachineType,
            provisioningModel: 'STANDARD',
            accelerators: [{ type: settings.gpuAccelerator, count: 1 }],
          },
          installGpuDrivers: true,
        },
      ],
      serviceAccount: { email: settings.serviceAccount },
    },
    labels: { app: 'arc-reactor', component: 'haystack-inference', run_id: runId },
    logsPolicy: { destination: 'CLOUD_LOGGING' },
  };
}

/**
 * Every Batch job a run may have started: its agent's and every model job its iterations can
 * make (the ones never made are skipped by Batch's cancel). None before it was prepared.
 */
export function haystackJobs(
  run: Pick<HaystackRun, 'run_id' | 'max_iterations' | 'batch_job_name'>,
): string[] {
  if (!run.batch_job_name) return [];
  const parent = run.batch_job_name.slice(0, run.batch_job_name.lastIndexOf('/jobs/'));
  return [run.batch_job_name, ...inferenceJobIds(run).map((id) => jobName(parent, id))];
}

/** Why an agent job failed, when the agent did not record it itself (it was killed, or ran out of memory or time). */
export function agentFailure(job: BatchJob): { message: string; exitCode: number | null } {
  const failure = jobFailure(job);
  return {
    message: `The HAYSTACK agent job failed before it recorded why (killed, out of memory, or past its hour); its log in Cloud Logging has the cause. ${failure.message}`,
    exitCode: failure.exitCode,
  };
}

export interface HaystackExecutionDeps {
  haystackRuns: HaystackRunStore;
  settings: HaystackJobSettings;
}

/** Workflow step 1 for a pending HAYSTACK run: names its agent job and returns it to create. */
export async function prepareHaystackRun(
  deps: HaystackExecutionDeps,
  run: HaystackRun,
): Promise<PreparedJob> {
  const parent = batchParent(deps.settings.project, deps.settings.region);
  const jobId = agentJobId(run.run_id);
  const name = jobName(parent, jobId);
  await deps.haystackRuns.setFields(run.run_id, { batch_job_name: name });
  return {
    run_id: run.run_id,
    parent,
    job_id: jobId,
    job_name: name,
    request_id: run.batch_request_id,
    job: agentJobSpec(run, deps.settings),
  };
}
