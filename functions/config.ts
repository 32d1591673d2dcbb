import { z } from 'zod';
import { parseWarehouseMapping, type WarehouseMapping } from './adapters/warehouse-mapping';
import { Executor } from './core/nextflow/executors';

const Email = z.email();
const HostPort = z.string().regex(/^[\w.-]+:\d{1,5}$/, 'must be host:port');
/** The two audience forms IAP signs for: a backend service, or an App Engine app. */
export const IAP_AUDIENCE =
  /^\/projects\/\d+\/(global\/backendServices\/\d+|apps\/[a-z][a-z0-9-]{4,28}[a-z0-9])$/;
const commaList = (item: z.ZodType<string, string>) =>
  z
    .string()
    .default('')
    .transform((list) =>
      list
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item));
const PerMinute = z.coerce.number().int().min(0).max(1_000_000);

/**
 * Every setting the functions read, from one env object, parsed once. Defaults suit the
 * local stack; production sets GOOGLE_CLOUD_PROJECT, RUNS_BUCKET and the rest explicitly.
 */
const ConfigSchema = z.object({
  GOOGLE_CLOUD_PROJECT: z
    .string()
    .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be a GCP project id such as my-lab-prod')
    .default('arc-reactor-local'),
  GCP_REGION: z.string().min(1).default('us-central1'),
  RUNS_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, 'must be a bucket name (no gs:// prefix)')
    .default('arc-nf-pipeline-runs'),
  FIRESTORE_DATABASE: z.string().min(1).default('(default)'),
  FIRESTORE_EMULATOR_HOST: z.string().min(1).optional(),
  STORAGE_EMULATOR_HOST: z.url().optional(),
  DEV_USER_EMAIL: Email.optional(),
  DEV_USER_NAME: z.string().min(1).optional(),
  ADMIN_EMAILS: z
    .string()
    .default('')
    .transform((list) =>
      list
        .split(',')
        .map((e) => e.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(z.array(Email)),
  USER_TOUCH_INTERVAL_SECONDS: z.coerce.number().int().min(0).default(60),
  AUTH_MODE: z.enum(['iap', 'dev']).default('iap'),
  IAP_AUDIENCE: commaList(
    z
      .string()
      .regex(
        IAP_AUDIENCE,
        'must be /projects/{number}/global/backendServices/{id} or /projects/{number}/apps/{project_id}',
      ),
  ),
  IAP_JWKS_URL: z.url().default('https://www.gstatic.com/iap/verify/public_key-jwk'),
  IAP_HOSTED_DOMAIN: z
    .string()
    .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'must be a domain such as example.org')
    .optional(),
  ALLOW_DEV_AUTH_IN_CLOUD: z.enum(['true', 'false']).default('false'),
  K_SERVICE: z.string().optional(),
  RATE_LIMIT_LAUNCHES_PER_MINUTE: PerMinute.default(10),
  RATE_LIMIT_CHAT_PER_MINUTE: PerMinute.default(60),
  RATE_LIMIT_READS_PER_MINUTE: PerMinute.default(300),
  CORS_ALLOWED_ORIGINS: commaList(z.url()),
  FUNCTIONS_SERVICE_ACCOUNT: z.email().optional(),
  FIREBASE_WEB_API_KEY: z.string().min(1).optional(),
  EXECUTOR: z.enum(Executor).default('google-batch'),
  ORCHESTRATOR_IMAGE: z.string().min(1).optional(),
  ORCHESTRATOR_SERVICE_ACCOUNT: z.email().optional(),
  TASKS_SERVICE_ACCOUNT: z.email().optional(),
  RUN_EVENTS_TOPIC: z
    .string()
    .regex(/^[A-Za-z][\w.~+%-]{2,254}$/, 'must be a Pub/Sub topic id')
    .default('arc-run-events'),
  WORKFLOW_NAME: z
    .string()
    .regex(/^[A-Za-z][\w-]{0,63}$/, 'must be a workflow id')
    .default('run-pipeline'),
  FUNCTIONS_BASE_URL: z.url().optional(),
  WORKFLOW_POLL_SECONDS: z.coerce.number().min(0.1).max(3600).default(30),
  MAX_CONCURRENT_JOBS: z.coerce.number().int().min(0).max(100_000).default(100),
  QUEUE_POLL_SECONDS: z.coerce.number().min(0.1).max(3600).default(60),
  QUEUE_MAX_WAIT_SECONDS: z.coerce
    .number()
    .min(1)
    .max(7 * 86_400)
    .default(6 * 3600),
  CHUNK_INTERVAL_SECONDS: z.coerce.number().min(0.1).max(300).default(5),
  SIGNED_URL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(3600),
  STORAGE_SIGNER_CREDENTIALS: z
    .string()
    .transform((text, ctx) => {
      try {
        return z
          .object({ client_email: z.email(), private_key: z.string().includes('PRIVATE KEY') })
          .parse(JSON.parse(text));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON {client_email, private_key}' });
        return z.NEVER;
      }
    })
    .optional(),
  SPOT_PRICE_VCPU_HOUR: z.coerce.number().nonnegative().default(0.00698),
  SPOT_PRICE_GB_HOUR: z.coerce.number().nonnegative().default(0.00094),
  LOG_POLL_SECONDS: z.coerce.number().min(0.1).max(60).default(2),
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
  WAREHOUSE_HOST: z.string().min(1).optional(),
  WAREHOUSE_PORT: z.coerce.number().int().min(1).max(65535).default(5432),
  WAREHOUSE_DATABASE: z.string().min(1).default('warehouse'),
  WAREHOUSE_USER: z.string().min(1).default('arc_reader'),
  WAREHOUSE_PASSWORD_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a Secret Manager secret id')
    .default('warehouse-password'),
  WAREHOUSE_SSL: z.enum(['require', 'verify-full', 'disable']).default('require'),
  WAREHOUSE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  WAREHOUSE_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  WAREHOUSE_MAPPING: z.string().optional(),
  BATCH_EMULATOR_HOST: HostPort.optional(),
  LOGGING_EMULATOR_HOST: HostPort.optional(),
  WORKFLOWS_EMULATOR_HOST: HostPort.optional(),
  SECRET_MANAGER_EMULATOR_HOST: HostPort.optional(),
});

export interface Config {
  project: string;
  region: string;
  runsBucket: string;
  firestore: { databaseId: string; emulatorHost: string | undefined };
  storageEmulatorHost: string | undefined;
  devUser: { email: string; name: string } | undefined;
  adminEmails: string[];
  userTouchIntervalMs: number;
  executor: Executor;
  orchestrator: { image: string; serviceAccount: string; chunkIntervalSeconds: number };
  tasksServiceAccount: string;
  runEventsTopic: string;
  workflow: {
    name: string;
    parent: string;
    pollSeconds: number;
    /** While a run waits for Batch capacity: how often to try again, and for how long in all. */
    queuePollSeconds: number;
    queueMaxWaitSeconds: number;
  };
  /** Batch jobs the platform keeps going at once (0: no limit). */
  maxConcurrentJobs: number;
  functionsBaseUrl: string;
  emulators: {
    batch: string | undefined;
    workflows: string | undefined;
    logging: string | undefined;
    secretManager: string | undefined;
  };
  /** How often a live log stream looks for new lines. */
  logPollMs: number;
  prices: { vcpu_hour: number; gb_hour: number };
  signedUrlTtlSeconds: number;
  /** Only for local stacks: a key to sign download links with (on GCP, the IAM Credentials API signs). */
  storageSigner: { client_email: string; private_key: string } | undefined;
  auth: {
    /** `iap`: only a verified IAP JWT identifies a caller; `dev`: the IAP email header or the dev user. */
    mode: 'iap' | 'dev';
    audiences: string[];
    jwksUrl: string;
    hostedDomain: string | undefined;
  };
  /** Requests per user per minute; 0 turns a limit off. */
  rateLimits: { launches: number; chat: number; reads: number };
  /** Origins allowed to call the API from a browser; empty = no CORS headers at all. */
  corsOrigins: string[];
  /** The functions' own service account: it signs Firebase custom tokens through IAM. */
  functionsServiceAccount: string;
  /** The Firebase web API key the page signs in to Firestore with (not a secret). */
  firebaseWebApiKey: string | null;
  /** SECRET_<NAME> variables: local values for Secret Manager secrets (never logged). */
  secretOverrides: Record<string, string>;
  /** The Benchling warehouse (read-only PostgreSQL); undefined when WAREHOUSE_HOST is not set. */
  warehouse:
    | {
        host: string;
        port: number;
        database: string;
        user: string;
        /** Secret Manager secret holding the password (SECRET_<NAME> overrides it locally). */
        passwordSecret: string;
        ssl: 'require' | 'verify-full' | 'disable';
        statementTimeoutMs: number;
        acquireTimeoutMs: number;
        mapping: WarehouseMapping;
      }
    | undefined;
  /** Days the bucket keeps work/ and cache/ (its lifecycle rule); named in recovery errors. */
  workRetentionDays: number;
  sweep: {
    /** A submitted or running run untouched this long has its Batch job checked. */
    staleAfterMs: number;
    /** A pending run this old whose workflow never started or ended is failed. */
    pendingTimeoutMs: number;
    /** Local stack only: how often it runs the sweeper (Cloud Scheduler does in production); 0 = never. */
    intervalMs: number;
  };
}

export class ConfigError extends Error {}

const FIXES: Record<string, string> = {
  GOOGLE_CLOUD_PROJECT: 'set it to the project that runs Arc Reactor',
  RUNS_BUCKET: 'set it to the bucket that holds run inputs, logs and results',
  STORAGE_EMULATOR_HOST: 'set it to the local GCS server URL, e.g. http://127.0.0.1:4443, or unset it',
  DEV_USER_EMAIL: 'set it to an email address, or unset it',
  EXECUTOR: 'google-batch in production; the local stack sets local or replay',
  BATCH_EMULATOR_HOST: 'set it to the local Batch twin, e.g. 127.0.0.1:8790, or unset it',
  WORKFLOWS_EMULATOR_HOST: 'set it to the local Workflows twin, e.g. 127.0.0.1:8791, or unset it',
  MAX_CONCURRENT_JOBS:
    'set it to the most Batch jobs to run at once (the product spec: 100), or 0 for no limit',
  QUEUE_MAX_WAIT_SECONDS: 'set it to how long a run may wait for Batch capacity before it fails, in seconds',
};

export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable counts as unset (Terraform and shells set optional ones to "").
  const parsed = ConfigSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      const fix = FIXES[name] ? ` (${FIXES[name]})` : '';
      return `${name} ${issue.message}${fix}`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const c = parsed.data;
  let mapping: WarehouseMapping;
  try {
    mapping = parseWarehouseMapping(c.WAREHOUSE_MAPPING);
  } catch (error) {
    throw new ConfigError(`Invalid configuration: ${(error as Error).message}`);
  }
  if (c.AUTH_MODE === 'dev' && c.K_SERVICE && c.ALLOW_DEV_AUTH_IN_CLOUD !== 'true') {
    throw new ConfigError(
      `Invalid configuration: AUTH_MODE=dev trusts unverified identity headers, and this function runs on Google Cloud (K_SERVICE=${c.K_SERVICE}); use AUTH_MODE=iap behind Identity-Aware Proxy, or set ALLOW_DEV_AUTH_IN_CLOUD=true for a throwaway test deployment.`,
    );
  }
  if (c.AUTH_MODE === 'iap' && (c.DEV_USER_EMAIL || c.DEV_USER_NAME)) {
    throw new ConfigError(
      'Invalid configuration: DEV_USER_EMAIL is only used with AUTH_MODE=dev; with AUTH_MODE=iap every caller is identified by a verified IAP token. Unset it, or set AUTH_MODE=dev for local development.',
    );
  }
  return {
    project: c.GOOGLE_CLOUD_PROJECT,
    region: c.GCP_REGION,
    runsBucket: c.RUNS_BUCKET,
    firestore: { databaseId: c.FIRESTORE_DATABASE, emulatorHost: c.FIRESTORE_EMULATOR_HOST },
    storageEmulatorHost: c.STORAGE_EMULATOR_HOST,
    devUser: c.DEV_USER_EMAIL
      ? { email: c.DEV_USER_EMAIL.toLowerCase(), name: c.DEV_USER_NAME ?? c.DEV_USER_EMAIL.split('@')[0]! }
      : undefined,
    adminEmails: c.ADMIN_EMAILS,
    userTouchIntervalMs: c.USER_TOUCH_INTERVAL_SECONDS * 1000,
    executor: c.EXECUTOR,
    orchestrator: {
      image:
        c.ORCHESTRATOR_IMAGE ??
        `${c.GCP_REGION}-docker.pkg.dev/${c.GOOGLE_CLOUD_PROJECT}/arc-reactor/orchestrator:latest`,
      serviceAccount:
        c.ORCHESTRATOR_SERVICE_ACCOUNT ??
        `arc-orchestrator@${c.GOOGLE_CLOUD_PROJECT}.iam.gserviceaccount.com`,
      chunkIntervalSeconds: c.CHUNK_INTERVAL_SECONDS,
    },
    tasksServiceAccount:
      c.TASKS_SERVICE_ACCOUNT ?? `arc-tasks@${c.GOOGLE_CLOUD_PROJECT}.iam.gserviceaccount.com`,
    runEventsTopic: c.RUN_EVENTS_TOPIC,
    workflow: {
      name: c.WORKFLOW_NAME,
      parent: `projects/${c.GOOGLE_CLOUD_PROJECT}/locations/${c.GCP_REGION}/workflows/${c.WORKFLOW_NAME}`,
      pollSeconds: c.WORKFLOW_POLL_SECONDS,
      queuePollSeconds: c.QUEUE_POLL_SECONDS,
      queueMaxWaitSeconds: c.QUEUE_MAX_WAIT_SECONDS,
    },
    maxConcurrentJobs: c.MAX_CONCURRENT_JOBS,
    functionsBaseUrl: (
      c.FUNCTIONS_BASE_URL ?? `https://${c.GCP_REGION}-${c.GOOGLE_CLOUD_PROJECT}.cloudfunctions.net`
    ).replace(/\/$/, ''),
    emulators: {
      batch: c.BATCH_EMULATOR_HOST,
      workflows: c.WORKFLOWS_EMULATOR_HOST,
      logging: c.LOGGING_EMULATOR_HOST,
      secretManager: c.SECRET_MANAGER_EMULATOR_HOST,
    },
    logPollMs: c.LOG_POLL_SECONDS * 1000,
    prices: { vcpu_hour: c.SPOT_PRICE_VCPU_HOUR, gb_hour: c.SPOT_PRICE_GB_HOUR },
    signedUrlTtlSeconds: c.SIGNED_URL_TTL_SECONDS,
    storageSigner: c.STORAGE_SIGNER_CREDENTIALS,
    auth: {
      mode: c.AUTH_MODE,
      audiences: c.IAP_AUDIENCE,
      jwksUrl: c.IAP_JWKS_URL,
      hostedDomain: c.IAP_HOSTED_DOMAIN,
    },
    rateLimits: {
      launches: c.RATE_LIMIT_LAUNCHES_PER_MINUTE,
      chat: c.RATE_LIMIT_CHAT_PER_MINUTE,
      reads: c.RATE_LIMIT_READS_PER_MINUTE,
    },
    corsOrigins: c.CORS_ALLOWED_ORIGINS.map((origin) => new URL(origin).origin),
    functionsServiceAccount:
      c.FUNCTIONS_SERVICE_ACCOUNT ?? `arc-functions@${c.GOOGLE_CLOUD_PROJECT}.iam.gserviceaccount.com`,
    firebaseWebApiKey: c.FIREBASE_WEB_API_KEY ?? null,
    secretOverrides: Object.fromEntries(
      Object.entries(env).filter(
        (entry): entry is [string, string] => /^SECRET_[A-Z0-9_]+$/.test(entry[0]) && entry[1] !== undefined,
      ),
    ),
    warehouse: c.WAREHOUSE_HOST
      ? {
          host: c.WAREHOUSE_HOST,
          port: c.WAREHOUSE_PORT,
          database: c.WAREHOUSE_DATABASE,
          user: c.WAREHOUSE_USER,
          passwordSecret: c.WAREHOUSE_PASSWORD_SECRET,
          ssl: c.WAREHOUSE_SSL,
          statementTimeoutMs: c.WAREHOUSE_STATEMENT_TIMEOUT_MS,
          acquireTimeoutMs: c.WAREHOUSE_ACQUIRE_TIMEOUT_MS,
          mapping,
        }
      : undefined,
    workRetentionDays: c.WORK_RETENTION_DAYS,
    sweep: {
      staleAfterMs: c.STALE_RUN_SECONDS * 1000,
      pendingTimeoutMs: c.PENDING_TIMEOUT_SECONDS * 1000,
      intervalMs: c.SWEEP_INTERVAL_SECONDS * 1000,
    },
  };
}
