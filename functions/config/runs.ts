/** How runs execute: the orchestrator job, the workflow, capacity, costs, monitoring and the sweeper. */
import { z } from 'zod';
import { Executor } from '../core/nextflow/executors';
import { BudgetPolicy } from '../core/runs/budget-policy';
import type { PlatformConfig } from './platform';
import { fix } from './schema';

export const runsEnv = z.object({
  EXECUTOR: fix(
    z.enum(Executor).default('google-batch'),
    'google-batch in production; the local stack sets local or replay',
  ),
  ORCHESTRATOR_IMAGE: z.string().min(1).optional(),
  ORCHESTRATOR_SERVICE_ACCOUNT: z.email().optional(),
  TASKS_SERVICE_ACCOUNT: z.email().optional(),
  BATCH_EVENTS_TOPIC: z
    .string()
    .regex(/^[A-Za-z][\w.~+%-]{2,254}$/, 'must be a Pub/Sub topic id')
    .default('arc-batch-events'),
  WORKFLOW_NAME: z
    .string()
    .regex(/^[A-Za-z][\w-]{0,63}$/, 'must be a workflow id')
    .default('run-pipeline'),
  FUNCTIONS_BASE_URL: z.url().optional(),
  WORKFLOW_POLL_SECONDS: z.coerce.number().min(0.1).max(3600).default(30),
  MAX_CONCURRENT_JOBS: fix(
    z.coerce.number().int().min(0).max(100_000).default(100),
    'set it to the most Batch jobs to run at once (the product spec: 100), or 0 for no limit',
  ),
  QUEUE_POLL_SECONDS: z.coerce.number().min(0.1).max(3600).default(60),
  QUEUE_MAX_WAIT_SECONDS: fix(
    z.coerce
      .number()
      .min(1)
      .max(7 * 86_400)
      .default(6 * 3600),
    'set it to how long a run may wait for Batch capacity before it fails, in seconds',
  ),
  CHUNK_INTERVAL_SECONDS: z.coerce.number().min(0.1).max(300).default(5),
  SPOT_PRICE_VCPU_HOUR: z.coerce.number().nonnegative().default(0.00698),
  SPOT_PRICE_GB_HOUR: z.coerce.number().nonnegative().default(0.00094),
  /** Cloud Storage Standard, regional (us-central1): $0.000027397 per GiB-hour × 730 hours. */
  /** Budgets an administrator sets: JSON, core/runs/budget-policy.ts (README: A budget that stops a run). */
  BUDGET_POLICY: z
    .string()
    .default('{}')
    .transform((text, ctx) => {
      try {
        return BudgetPolicy.parse(JSON.parse(text));
      } catch (error) {
        const detail =
          error instanceof z.ZodError
            ? error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
            : 'not JSON';
        ctx.addIssue({
          code: 'custom',
          message: `must be JSON {default_run_usd?, default_monthly_usd?, users?: {email: {run_usd?, monthly_usd?}}, labels?: {"key=value": {run_usd}}} (${detail})`,
        });
        return z.NEVER;
      }
    }),
  STORAGE_PRICE_GIB_MONTH: z.coerce.number().nonnegative().default(0.02),
  LOG_POLL_SECONDS: z.coerce.number().min(0.1).max(60).default(2),
  /** A live view (SSE) ends itself after this and the browser reconnects: inside the 120 s request timeout. */
  SSE_MAX_SECONDS: fix(
    z.coerce.number().min(1).max(110),
    'set it to 1–110 s (the function stops a request at 120 s)',
  ).default(100),
  /** Live views one instance holds at once: below its request concurrency (80), leaving room for requests. */
  SSE_STREAMS_PER_INSTANCE: z.coerce.number().int().min(1).max(1000).default(60),
  /** Live views one user holds on one instance. */
  SSE_STREAMS_PER_USER: z.coerce.number().int().min(1).max(1000).default(10),
  WORK_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  STALE_RUN_SECONDS: z.coerce
    .number()
    .min(1)
    .max(7 * 86_400)
    .default(900),
  PENDING_TIMEOUT_SECONDS: z.coerce
    .number()
    .min(1)
    .max(7 * 86_400)
    .default(600),
  SWEEP_INTERVAL_SECONDS: z.coerce.number().min(0).max(86_400).default(60),
});

export function runsConfig(c: z.output<typeof runsEnv>, platform: PlatformConfig) {
  const { project, region } = platform;
  return {
    executor: c.EXECUTOR,
    orchestrator: {
      image: c.ORCHESTRATOR_IMAGE ?? `${region}-docker.pkg.dev/${project}/arc-reactor/orchestrator:latest`,
      serviceAccount: c.ORCHESTRATOR_SERVICE_ACCOUNT ?? `arc-orchestrator@${project}.iam.gserviceaccount.com`,
      chunkIntervalSeconds: c.CHUNK_INTERVAL_SECONDS,
    },
    tasksServiceAccount: c.TASKS_SERVICE_ACCOUNT ?? `arc-tasks@${project}.iam.gserviceaccount.com`,
    batchEventsTopic: c.BATCH_EVENTS_TOPIC,
    workflow: {
      name: c.WORKFLOW_NAME,
      parent: `projects/${project}/locations/${region}/workflows/${c.WORKFLOW_NAME}`,
      pollSeconds: c.WORKFLOW_POLL_SECONDS,
      /** While a run waits for Batch capacity: how often to try again, and for how long in all. */
      queuePollSeconds: c.QUEUE_POLL_SECONDS,
      queueMaxWaitSeconds: c.QUEUE_MAX_WAIT_SECONDS,
    },
    /** Batch jobs the platform keeps going at once (0: no limit). */
    maxConcurrentJobs: c.MAX_CONCURRENT_JOBS,
    functionsBaseUrl: (c.FUNCTIONS_BASE_URL ?? `https://${region}-${project}.cloudfunctions.net`).replace(
      /\/$/,
      '',
    ),
    /** How often a live log stream looks for new lines. */
    logPollMs: c.LOG_POLL_SECONDS * 1000,
    streams: {
      perInstance: c.SSE_STREAMS_PER_INSTANCE,
      perUser: c.SSE_STREAMS_PER_USER,
      maxSeconds: c.SSE_MAX_SECONDS,
    },
    prices: { vcpu_hour: c.SPOT_PRICE_VCPU_HOUR, gb_hour: c.SPOT_PRICE_GB_HOUR },
    /** Default budgets and monthly caps (BUDGET_POLICY). */
    budgetPolicy: c.BUDGET_POLICY,
    /** Days the bucket keeps work/ and cache/ (its lifecycle rule); named in recovery errors. */
    workRetentionDays: c.WORK_RETENTION_DAYS,
    /** What keeping a chain's work dir costs, and for how long it is kept (work-dir-model.ts). */
    storage: { priceGibMonth: c.STORAGE_PRICE_GIB_MONTH, retentionDays: c.WORK_RETENTION_DAYS },
    sweep: {
      /** A submitted or running run untouched this long has its Batch job checked. */
      staleAfterMs: c.STALE_RUN_SECONDS * 1000,
      /** A pending run this old whose workflow never started or ended is failed. */
      pendingTimeoutMs: c.PENDING_TIMEOUT_SECONDS * 1000,
      /** Local stack only: how often it runs the sweeper (Cloud Scheduler does in production); 0 = never. */
      intervalMs: c.SWEEP_INTERVAL_SECONDS * 1000,
    },
  };
}
