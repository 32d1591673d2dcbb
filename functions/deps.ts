import { randomBytes, randomUUID } from 'node:crypto';
import { BatchServiceClient } from '@google-cloud/batch';
import { Firestore } from '@google-cloud/firestore';
import { Logging } from '@google-cloud/logging';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { Storage } from '@google-cloud/storage';
import { ExecutionsClient } from '@google-cloud/workflows';
import { GoogleAuth } from 'google-auth-library';
import { grpc } from 'google-gax';
import { BatchJobRunner } from './adapters/batch-job-runner';
import { CloudLoggingTaskLogs } from './adapters/cloud-logging-task-logs';
import { FirestoreRunStore } from './adapters/firestore-run-store';
import { FirestoreUserStore } from './adapters/firestore-user-store';
import { GcsInputFiles } from './adapters/gcs-input-files';
import { GcsObjectStore } from './adapters/gcs-object-store';
import { IamSessionTokens } from './adapters/iam-session-tokens';
import { PgSampleWarehouse } from './adapters/pg-warehouse';
import { FirestoreRateLimiter, MemoryRateLimiter, Unlimited } from './adapters/rate-limiters';
import { SecretManagerSecrets } from './adapters/secret-manager-secrets';
import { CloudWorkflowsStarter } from './adapters/workflows-starter';
import type { Config } from './config';
import { BenchlingService } from './core/benchling/sample-warehouse';
import { batchParent } from './core/runs/batch-job';
import type { ExecutionDeps } from './core/runs/execution-service';
import type { JobRunner, WorkflowArgument } from './core/runs/ports';
import { TaskCatalog } from './core/runs/run-tasks';
import type { SweepDeps } from './core/runs/sweeper';
import { type TaskLogSource, WorkDirTaskLogs } from './core/runs/task-logs';
import type { Clock, ObjectStore, Randomness, Secrets } from './core/shared/ports';
import { EmulatorSessionTokens, type SessionTokens } from './core/shared/session';
import { type ApiDeps, READINESS_TIMEOUT_MS } from './http/api-app';
import { audit } from './http/audit';
import { type Authenticator, createAuthenticator } from './http/identity';
import { jsonLogger, type Logger, redacting } from './logging';

export const VERSION = '0.1.0';

export const systemClock: Clock = { now: () => new Date() };
export const systemRandomness: Randomness = { bytes: (n) => randomBytes(n), uuid: () => randomUUID() };

/**
 * Placeholder credentials for emulators and local twins: they stop the Google clients from
 * probing for Application Default Credentials; the insecure channel never sends them.
 */
const EMULATOR_CREDENTIALS = { client_email: 'emulator@localhost', private_key: 'not-used-by-emulators' };

function emulatorEndpoint(hostPort: string) {
  const [host, port] = hostPort.split(':');
  return {
    apiEndpoint: host!,
    port: Number(port),
    sslCreds: grpc.credentials.createInsecure(),
    credentials: EMULATOR_CREDENTIALS,
  };
}

export function createFirestore(config: Config): Firestore {
  return new Firestore({
    projectId: config.project,
    databaseId: config.firestore.databaseId,
    ...(config.firestore.emulatorHost
      ? { host: config.firestore.emulatorHost, ssl: false, credentials: EMULATOR_CREDENTIALS }
      : {}),
    ignoreUndefinedProperties: true,
  });
}

/**
 * On GCP the function's own service account signs download links through the IAM
 * Credentials API (no key files); the local stack passes a generated key instead.
 */
export function createStorage(config: Config): Storage {
  return new Storage({
    projectId: config.project,
    ...(config.storageEmulatorHost ? { apiEndpoint: config.storageEmulatorHost } : {}),
    ...(config.storageSigner ? { credentials: config.storageSigner } : {}),
  });
}

export function createBatchRunner(config: Config): BatchJobRunner {
  return new BatchJobRunner(
    new BatchServiceClient({
      projectId: config.project,
      ...(config.emulators.batch ? emulatorEndpoint(config.emulators.batch) : {}),
    }),
  );
}

export function createWorkflowStarter(config: Config): CloudWorkflowsStarter {
  return new CloudWorkflowsStarter(
    new ExecutionsClient({
      projectId: config.project,
      ...(config.emulators.workflows ? emulatorEndpoint(config.emulators.workflows) : {}),
    }),
    config.workflow.parent,
  );
}

/**
 * Where task stdout/stderr is read from: Cloud Logging (live, Google Batch tasks) then the
 * task work dir. The local stack has no Cloud Logging: work dir only.
 */
export function createTaskLogSources(config: Config, objects: ObjectStore, jobs: JobRunner): TaskLogSource[] {
  const workDir = new WorkDirTaskLogs(objects);
  if (config.storageEmulatorHost && !config.emulators.logging) return [workDir];
  const logging = new Logging({
    projectId: config.project,
    ...(config.emulators.logging ? emulatorEndpoint(config.emulators.logging) : {}),
  });
  return [new CloudLoggingTaskLogs(logging, jobs, config.project, config.region), workDir];
}

/** The run-pipeline argument for a run: where the workflow finds the step functions. */
export function workflowArgument(config: Config): (runId: string) => WorkflowArgument {
  return (runId) => ({
    run_id: runId,
    project: config.project,
    region: config.region,
    prepare_url: `${config.functionsBaseUrl}/prepareRun`,
    reconcile_url: `${config.functionsBaseUrl}/reconcileRun`,
    poll_seconds: config.workflow.pollSeconds,
    queue_poll_seconds: config.workflow.queuePollSeconds,
    max_queue_polls: Math.max(
      1,
      Math.ceil(config.workflow.queueMaxWaitSeconds / config.workflow.queuePollSeconds),
    ),
  });
}

/**
 * Secret Manager on GCP (or its twin); locally, without either, only the SECRET_<NAME>
 * overrides of the configuration's environment.
 */
export function createSecrets(
  config: Config,
  env: Record<string, string | undefined> = config.secretOverrides,
): SecretManagerSecrets {
  const local = Boolean(config.firestore.emulatorHost || config.storageEmulatorHost);
  const client =
    config.emulators.secretManager || !local
      ? new SecretManagerServiceClient({
          projectId: config.project,
          ...(config.emulators.secretManager ? emulatorEndpoint(config.emulators.secretManager) : {}),
        })
      : null;
  return new SecretManagerSecrets(client, config.project, env);
}

/** The run store every function uses: status changes go to the audit log. */
export function createRunStore(db: Firestore, logger: Logger): FirestoreRunStore {
  return new FirestoreRunStore(db, {
    onStatusChange: (change) =>
      audit(logger, 'run_status_changed', {
        user: change.user_email,
        run_id: change.run_id,
        from: change.from,
        to: change.to,
        source: change.source,
      }),
  });
}

/** Per-user limits: launches and chat across instances (Firestore), reads per instance. */
export function createRateLimiters(config: Config, db: Firestore): ApiDeps['rateLimits'] {
  const { launches, chat, reads } = config.rateLimits;
  return {
    launch: launches > 0 ? new FirestoreRateLimiter(db, 'launch', launches) : new Unlimited(),
    chat: chat > 0 ? new FirestoreRateLimiter(db, 'chat', chat) : new Unlimited(),
    read: reads > 0 ? new MemoryRateLimiter(reads) : new Unlimited(),
  };
}

/** Locally the page reads the emulator with a mock token; on GCP, with a custom token IAM signs. */
export function createSessionTokens(config: Config): SessionTokens {
  if (config.firestore.emulatorHost)
    return new EmulatorSessionTokens(config.firestore.emulatorHost, config.project);
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  return new IamSessionTokens(
    config.functionsServiceAccount,
    config.project,
    async () => {
      const token = await auth.getAccessToken();
      if (!token) throw new Error('no access token for the functions service account');
      return token;
    },
    undefined,
    undefined,
    config.firebaseWebApiKey,
  );
}

/** Verified IAP identity, or in AUTH_MODE=dev the development identity. Throws ConfigError when misconfigured. */
export function createApiAuthenticator(config: Config): Authenticator {
  return createAuthenticator({
    mode: config.auth.mode,
    devUser: config.devUser,
    adminEmails: config.adminEmails,
    audiences: config.auth.audiences,
    jwksUrl: config.auth.jwksUrl,
    hostedDomain: config.auth.hostedDomain,
  });
}

/** The Benchling warehouse when WAREHOUSE_HOST is set; its password comes from Secret Manager. */
export function createWarehouse(config: Config, secrets: Secrets): PgSampleWarehouse | null {
  const w = config.warehouse;
  if (!w) return null;
  return new PgSampleWarehouse({
    host: w.host,
    port: w.port,
    database: w.database,
    user: w.user,
    password: () => secrets.get(w.passwordSecret),
    ssl: w.ssl,
    statementTimeoutMs: w.statementTimeoutMs,
    acquireTimeoutMs: w.acquireTimeoutMs,
    mapping: w.mapping,
  });
}

/** Builds everything the api function needs, once per instance. Tests pass overrides. */
export function createApiDeps(config: Config, overrides: Partial<ApiDeps> = {}): ApiDeps {
  const db = createFirestore(config);
  const storage = createStorage(config);
  const objects = new GcsObjectStore(storage, config.runsBucket);
  const jobs = createBatchRunner(config);
  const secrets = overrides.secrets ?? createSecrets(config);
  const benchling =
    overrides.benchling ?? new BenchlingService(createWarehouse(config, secrets), systemClock);
  const logger = redacting(overrides.logger ?? jsonLogger(), (text) => secrets.redact(text));
  return {
    runs: createRunStore(db, logger),
    users: new FirestoreUserStore(db, config.userTouchIntervalMs),
    secrets,
    objects,
    inputFiles: new GcsInputFiles(storage),
    benchling,
    jobs,
    workflows: createWorkflowStarter(config),
    workflowArgument: workflowArgument(config),
    clock: systemClock,
    random: systemRandomness,
    authenticator: overrides.authenticator ?? createApiAuthenticator(config),
    adminEmails: config.adminEmails,
    rateLimits: createRateLimiters(config, db),
    corsOrigins: config.corsOrigins,
    sessionTokens: createSessionTokens(config),
    tasks: new TaskCatalog(objects),
    taskLogs: createTaskLogSources(config, objects, jobs),
    signedUrlTtlSeconds: config.signedUrlTtlSeconds,
    workRetentionDays: config.workRetentionDays,
    logPollMs: config.logPollMs,
    heartbeatMs: 15_000,
    readiness: [
      { name: 'firestore', check: async () => void (await db.collection('runs').limit(1).get()) },
      { name: 'storage', check: () => objects.ping() },
      {
        name: 'batch',
        check: () => jobs.ping(batchParent(config.project, config.region), READINESS_TIMEOUT_MS),
      },
      ...(benchling.configured ? [{ name: 'warehouse', check: () => benchling.ping() }] : []),
    ],
    version: VERSION,
    nextflowSettings: {
      project: config.project,
      region: config.region,
      tasksServiceAccount: config.tasksServiceAccount,
    },
    ...overrides,
    // The logger given (or the default) behind the redaction of secret values.
    logger,
  };
}

/** What sweepStaleRuns needs. */
export function createSweepDeps(config: Config, overrides: Partial<SweepDeps & { logger: Logger }> = {}) {
  const logger = overrides.logger ?? jsonLogger();
  return {
    runs: createRunStore(createFirestore(config), logger),
    jobs: createBatchRunner(config),
    workflows: createWorkflowStarter(config),
    clock: systemClock,
    logger,
    settings: { staleAfterMs: config.sweep.staleAfterMs, pendingTimeoutMs: config.sweep.pendingTimeoutMs },
    ...overrides,
  };
}

export interface FunctionDeps extends ExecutionDeps {
  logger: Logger;
}

/** What prepareRun, reconcileRun, onBatchJobEvent and onRunArtifact need. */
export function createExecutionDeps(config: Config, overrides: Partial<FunctionDeps> = {}): FunctionDeps {
  const logger = overrides.logger ?? jsonLogger();
  return {
    runs: createRunStore(createFirestore(config), logger),
    objects: new GcsObjectStore(createStorage(config), config.runsBucket),
    jobs: createBatchRunner(config),
    clock: systemClock,
    logger,
    settings: {
      prices: config.prices,
      project: config.project,
      region: config.region,
      executor: config.executor,
      maxConcurrentJobs: config.maxConcurrentJobs,
      tasksServiceAccount: config.tasksServiceAccount,
      orchestrator: {
        project: config.project,
        region: config.region,
        image: config.orchestrator.image,
        serviceAccount: config.orchestrator.serviceAccount,
        eventsTopic: config.runEventsTopic,
        chunkIntervalSeconds: config.orchestrator.chunkIntervalSeconds,
      },
    },
    ...overrides,
  };
}
