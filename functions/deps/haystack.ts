import { FirestoreUserStore } from '../adapters/firestore-user-store';
import { GcsObjectStore } from '../adapters/gcs-object-store';
import type { Config } from '../config';
import { generateDataset } from '../core/haystack/atlas';
import { AtlasCatalog } from '../core/haystack/catalog';
import { type HaystackJobSettings, inferenceJobIds } from '../core/haystack/execution';
import type { HaystackExecutor } from '../core/haystack/ports';
import { RuleBasedInterpreter } from '../core/haystack/query';
import type { HaystackRun } from '../core/haystack/run-model';
import { DATASETS } from '../core/haystack/vocabulary';
import type { HaystackApiDeps } from '../http/haystack-app';
import { jsonLogger } from '../logging';
import { createApiAuthenticator, createRateLimiters } from './access';
import { createHaystackRunStore } from './events';
import { createFirestore, createStorage, systemClock, systemRandomness, VERSION } from './platform';
import { createBatchRunner } from './runs';
import { createWorkflowStarter, workflowArgument } from './workflows';

/** The agent job's settings; locally its environment names the emulators. */
export function haystackJobSettings(config: Config): HaystackJobSettings {
  return {
    project: config.project,
    region: config.region,
    agentImage: config.haystack.agentImage,
    agentMachineType: config.haystack.agentMachineType,
    inferenceImage: config.haystack.inferenceImage,
    gpuMachineType: config.haystack.gpuMachineType,
    gpuAccelerator: config.haystack.gpuAccelerator,
    serviceAccount: config.haystack.serviceAccount,
    runsBucket: config.runsBucket,
    atlasSeed: config.haystack.atlasSeed,
    eventsTopic: `projects/${config.project}/topics/${config.batchEventsTopic}`,
    environment: {
      ...(config.firestore.emulatorHost ? { FIRESTORE_EMULATOR_HOST: config.firestore.emulatorHost } : {}),
      ...(config.storageEmulatorHost ? { STORAGE_EMULATOR_HOST: config.storageEmulatorHost } : {}),
      ...(config.emulators.batch ? { BATCH_EMULATOR_HOST: config.emulators.batch } : {}),
      ...(config.firestore.emulatorHost ? { HAYSTACK_POLL_MS: '200' } : {}),
    },
  };
}

/**
 * A HAYSTACK run executes through the same Cloud Workflows definition as a Nextflow run, with
 * HAYSTACK's prepare and reconcile functions; cancel stops its agent job.
 */
export function createHaystackExecutor(config: Config): HaystackExecutor {
  const workflows = createWorkflowStarter(config);
  const argument = workflowArgument(config);
  const jobs = createBatchRunner(config);
  return {
    async start(runId) {
      await workflows.start({
        ...argument(runId),
        prepare_url: `${config.functionsBaseUrl}/prepareHaystackRun`,
        reconcile_url: `${config.functionsBaseUrl}/reconcileHaystackRun`,
      });
    },
    async stop(run: HaystackRun) {
      const parent = `projects/${config.project}/locations/${config.region}/jobs`;
      const names = [
        ...(run.batch_job_name ? [run.batch_job_name] : []),
        ...inferenceJobIds(run).map((id) => `${parent}/${id}`),
      ];
      await Promise.all(names.map((name) => jobs.cancelJob(name)));
    },
  };
}

/** What the two workflow steps of a HAYSTACK run need. */
export function createHaystackExecutionDeps(
  config: Config,
  overrides: { logger?: ReturnType<typeof jsonLogger> } = {},
) {
  const logger = overrides.logger ?? jsonLogger();
  return {
    haystackRuns: createHaystackRunStore(config, createFirestore(config), logger),
    clock: systemClock,
    settings: haystackJobSettings(config),
    logger,
  };
}

/** The haystack function: the platform's clients and HAYSTACK's own (no Batch, no warehouse). */
export function createHaystackDeps(
  config: Config,
  overrides: Partial<HaystackApiDeps> = {},
): HaystackApiDeps {
  const db = createFirestore(config);
  const objects = new GcsObjectStore(createStorage(config), config.runsBucket);
  let catalog: AtlasCatalog | null = null;
  return {
    haystackRuns: createHaystackRunStore(config, db, overrides.logger ?? jsonLogger()),
    users: new FirestoreUserStore(db, config.userTouchIntervalMs),
    objects,
    clock: systemClock,
    random: systemRandomness,
    interpreter: new RuleBasedInterpreter(),
    catalog: () => {
      catalog ??= new AtlasCatalog(
        Object.fromEntries(DATASETS.map((d) => [d, generateDataset(d, config.haystack.atlasSeed)])),
      );
      return catalog;
    },
    signedUrlTtlSeconds: config.signedUrlTtlSeconds,
    execution: overrides.execution ?? createHaystackExecutor(config),
    authenticator: overrides.authenticator ?? createApiAuthenticator(config),
    adminEmails: config.adminEmails,
    rateLimits: createRateLimiters(config, db),
    corsOrigins: config.corsOrigins,
    logger: jsonLogger(),
    version: VERSION,
    readiness: [
      { name: 'firestore', check: async () => void (await db.collection('haystack_runs').limit(1).get()) },
      { name: 'storage', check: () => objects.ping() },
    ],
    ...overrides,
  };
}
