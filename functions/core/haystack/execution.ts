/**
 * HAYSTACK runs through the platform's machinery: the same Cloud Workflows definition as a
 * Nextflow run (prepare → create the Batch job prepare names → poll → reconcile), with these
 * two steps. The agent job (`haystack-{run_id}`) writes its phase, iterations and scores to
 * the run itself; the workflow's reconcile puts the job's final state on the run. Statuses
 * only move up the platform's one lifecycle (core/shared/run-status); an ended run stays ended.
 */
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../shared/errors';
import { BATCH_JOB_ID_PATTERN, sanitizeLabelValue } from '../shared/ids';
import type { Clock } from '../shared/ports';
import { isTerminal, type RunStatus, STATUS_RANK } from '../shared/run-status';
import type { HaystackRunStore, JobStates } from './ports';
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

/** The Batch job an agent runs in, shaped as the Batch API takes it (jobs.create body). */
export interface HaystackJobSpec {
  taskGroups: {
    taskCount: number;
    taskSpec: {
      runnables: { container: { imageUri: string; commands?: string[] } }[];
      computeResource: { cpuMilli: number; memoryMib: number };
      maxRunDuration: string;
      maxRetryCount: number;
      lifecyclePolicies: never[];
      environment: { variables: Record<string, string> };
    };
  }[];
  allocationPolicy: {
    instances: {
      policy: {
        machineType: string;
        provisioningModel: 'STANDARD';
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

export const agentJobId = (runId: string) => {
  const id = `haystack-${runId}`;
  if (!BATCH_JOB_ID_PATTERN.test(id)) throw new Error(`"${id}" is not a valid Batch job id`);
  return id;
};

export function agentJobSpec(run: HaystackRun, settings: HaystackJobSettings): HaystackJobSpec {
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
  return /^haystack-(hs-[a-z0-9]{12})$/.exec(jobId)?.[1] ?? null;
}

/**
 * A Batch state event of an agent job: the job, read from Batch, is the authority. RUNNING moves
 * the run to running; an ended job ends the run as the workflow's reconcile would.
 */
export async function handleHaystackJobEvent(
  deps: { haystackRuns: HaystackRunStore; jobStates: JobStates; clock: Clock },
  runId: string,
  jobName: string,
): Promise<
  | { outcome: 'applied'; run_id: string; status: RunStatus }
  | { outcome: 'ignored'; run_id: string; reason: string }
> {
  const state = await deps.jobStates.state(jobName);
  if (!state) return { outcome: 'ignored', run_id: runId, reason: `job ${jobName} no longer exists` };
  const now = deps.clock.now().toISOString();
  if (state === 'RUNNING') {
    const before = await deps.haystackRuns.get(runId);
    const after = await deps.haystackRuns.update(runId, (run) => transition(run, 'running', now));
    if (!after) return { outcome: 'ignored', run_id: runId, reason: 'no such run' };
    return after.status !== before?.status
      ? { outcome: 'applied', run_id: runId, status: after.status }
      : { outcome: 'ignored', run_id: runId, reason: `run is ${after.status}` };
  }
  if (!['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(state))
    return { outcome: 'ignored', run_id: runId, reason: `job state ${state} changes nothing` };
  const result = await reconcileHaystackRun(deps, {
    run_id: runId,
    phase: 'final',
    job: { status: { state } },
  });
  return { outcome: 'applied', run_id: runId, status: result.status };
}

/** One model call's job id: stack-{run}-i{n}-treat|ctrl. */
export const inferenceJobId = (runId: string, label: string) => {
  const id = `stack-${runId}-${label}`;
  if (!BATCH_JOB_ID_PATTERN.test(id)) throw new Error(`"${id}" is not a valid Batch job id`);
  return id;
};

/** Every inference job id a run can have (cancel stops them all; ones never made are skipped). */
export function inferenceJobIds(run: Pick<HaystackRun, 'run_id' | 'max_iterations'>): string[] {
  return Array.from({ length: run.max_iterations }, (_, i) => i + 1).flatMap((n) =>
    ['treat', 'ctrl'].map((kind) => inferenceJobId(run.run_id, `i${n}-${kind}`)),
  );
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
): HaystackJobSpec {
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

export interface HaystackExecutionDeps {
  haystackRuns: HaystackRunStore;
  clock: Clock;
  settings: HaystackJobSettings;
}

const TIMESTAMP: Partial<
  Record<RunStatus, 'submitted_at' | 'started_at' | 'completed_at' | 'failed_at' | 'cancelled_at'>
> = {
  submitted: 'submitted_at',
  running: 'started_at',
  completed: 'completed_at',
  failed: 'failed_at',
  cancelled: 'cancelled_at',
};

/** The change that moves a run to `to`, or null: statuses only go up, an ended run stays ended. */
export function transition(
  run: HaystackRun,
  to: RunStatus,
  now: string,
  extra: Partial<HaystackRun> = {},
): Partial<HaystackRun> | null {
  if (isTerminal(run.status) || STATUS_RANK[to] <= STATUS_RANK[run.status]) return null;
  const field = TIMESTAMP[to];
  return {
    status: to,
    updated_at: now,
    ...(field ? { [field]: now } : {}),
    ...(isTerminal(to) ? { current_phase: null } : {}),
    ...extra,
  };
}

export async function prepareHaystackRun(deps: HaystackExecutionDeps, runId: string) {
  const run = await deps.haystackRuns.get(runId);
  if (!run) throw new NotFoundError(`HAYSTACK run ${runId} was not found.`);
  if (run.status !== 'pending')
    throw new ConflictError(`HAYSTACK run ${runId} is ${run.status}; only a pending run is submitted.`, {
      status: run.status,
    });
  const parent = `projects/${deps.settings.project}/locations/${deps.settings.region}`;
  const jobId = agentJobId(run.run_id);
  const jobName = `${parent}/jobs/${jobId}`;
  await deps.haystackRuns.update(runId, () => ({ batch_job_name: jobName }));
  return {
    run_id: run.run_id,
    parent,
    job_id: jobId,
    job_name: jobName,
    request_id: run.batch_request_id,
    job: agentJobSpec(run, deps.settings),
  };
}

export const HaystackReconcileRequest = z.strictObject({
  run_id: z.string(),
  phase: z.enum(['submitted', 'final', 'queued', 'error']),
  job: z
    .looseObject({ status: z.looseObject({ state: z.string().optional() }).optional() })
    .nullable()
    .optional(),
  error: z.looseObject({ message: z.string() }).optional(),
});
export type HaystackReconcileRequest = z.infer<typeof HaystackReconcileRequest>;

/** Applies what the workflow saw of the agent job; `stop` tells it the run has ended. */
export async function reconcileHaystackRun(
  deps: Pick<HaystackExecutionDeps, 'haystackRuns' | 'clock'>,
  request: HaystackReconcileRequest,
) {
  const now = deps.clock.now().toISOString();
  const state = request.job?.status?.state ?? null;
  const updated = await deps.haystackRuns.update(request.run_id, (run) => {
    switch (request.phase) {
      case 'submitted':
        return transition(run, 'submitted', now);
      case 'queued':
        return null;
      case 'error':
        return transition(run, 'failed', now, {
          error_message: `The run could not be executed: ${request.error?.message ?? 'unknown error'}`.slice(
            0,
            2_000,
          ),
          termination_reason: run.termination_reason ?? 'error',
        });
      case 'final':
        if (state === 'SUCCEEDED') return transition(run, 'completed', now);
        if (state === 'CANCELLED')
          return transition(run, 'cancelled', now, { termination_reason: 'cancelled' });
        return transition(run, 'failed', now, {
          termination_reason: run.termination_reason ?? 'error',
          error_message:
            run.error_message ??
            (state === 'FAILED'
              ? 'The HAYSTACK agent job failed before it recorded why (killed, out of memory, or past its hour); its log in Cloud Logging has the cause.'
              : 'The HAYSTACK agent job disappeared before it ended.'),
        });
    }
  });
  if (!updated) throw new NotFoundError(`HAYSTACK run ${request.run_id} was not found.`);
  return {
    run_id: updated.run_id,
    status: updated.status,
    action: isTerminal(updated.status) ? 'stop' : 'continue',
  };
}
