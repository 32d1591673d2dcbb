import { FirestorePreferencesStore } from '../adapters/firestore-notifications';
import { FirestoreUserStore } from '../adapters/firestore-user-store';
import { GcsInputFiles } from '../adapters/gcs-input-files';
import { GcsObjectStore } from '../adapters/gcs-object-store';
import type { Config } from '../config';
import { BenchlingService } from '../core/benchling/sample-warehouse';
import { TaskCatalog } from '../core/runs/run-tasks';
import { batchParent } from '../core/shared/batch';
import { type ApiDeps, READINESS_TIMEOUT_MS } from '../http/api-app';
import { StreamSlots } from '../http/stream-slots';
import { jsonLogger, redacting } from '../logging';
import { createApiAuthenticator, createRateLimiters, createSessionTokens } from './access';
import { assistantReadiness, createAssistantDeps } from './assistant';
import { createWarehouse } from './benchling';
import { createFirestore, createStorage, systemClock, systemRandomness, VERSION } from './platform';
import { createBatchRunner, createRunStore } from './runs';
import { createSecrets } from './secrets';
import { createTaskLogSources } from './task-logs';
import { createWorkflowStarter, workflowArgument } from './workflows';

/** The api function: the platform, the runs, Benchling and assistant domains, and the HTTP API's own parts. */

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
  const runs = createRunStore(config, db, logger);
  const tasks = new TaskCatalog(objects);
  const taskLogs = createTaskLogSources(config, objects, jobs);
  const assistant =
    overrides.assistant ??
    createAssistantDeps(
      config,
      db,
      secrets,
      { runs, tasks, taskLogs, benchling, bucket: config.runsBucket, prices: config.prices },
      logger,
    );
  return {
    runs,
    assistant,
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
    notificationPreferences: {
      preferences: new FirestorePreferencesStore(db),
      clock: systemClock,
      random: systemRandomness,
      allowLoopbackWebhooks: config.notifications.allowLoopbackWebhooks,
    },
    tasks,
    taskLogs,
    prices: config.prices,
    signedUrlTtlSeconds: config.signedUrlTtlSeconds,
    workRetentionDays: config.workRetentionDays,
    storage: config.storage,
    budgetPolicy: config.budgetPolicy,
    logPollMs: config.logPollMs,
    heartbeatMs: 15_000,
    streams: new StreamSlots(config.streams),
    readiness: [
      { name: 'firestore', check: async () => void (await db.collection('runs').limit(1).get()) },
      { name: 'storage', check: () => objects.ping() },
      {
        name: 'batch',
        check: () => jobs.ping(batchParent(config.project, config.region), READINESS_TIMEOUT_MS),
      },
      ...(benchling.configured ? [{ name: 'warehouse', check: () => benchling.ping() }] : []),
      assistantReadiness(assistant),
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
