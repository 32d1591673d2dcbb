/**
 * The list of run kinds (ARCHITECTURE §3a): the one place a kind of run joins the platform. The
 * workflow's step functions, onBatchJobEvent and the stale-run sweep are built from it, and do
 * for each kind what the kernel (core/shared/kernel.ts) says. A new kind is its folder under
 * functions/core/ and one entry here (docs/CONVENTIONS.md, "Adding a kind of run").
 */
import type { Firestore } from '@google-cloud/firestore';
import { GcsObjectStore } from '../adapters/gcs-object-store';
import type { Config } from '../config';
import type { HaystackJobSettings } from '../core/haystack/execution';
import { haystackRunKind } from '../core/haystack/kind';
import { nextflowRunKind } from '../core/runs/kind';
import { noticeExpiringWorkDirs } from '../core/runs/work-dir';
import type { KernelDeps, SweepDeps } from '../core/shared/kernel';
import type { RunKind } from '../core/shared/run-kind';
import { jsonLogger, type Logger } from '../logging';
import { createHaystackRunStore, createRunEventOutbox } from './events';
import { createFirestore, createStorage, systemClock } from './platform';
import { createBatchRunner, createRunStore, executionSettings } from './runs';
import { createWorkflowStarter } from './workflows';

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
      // The agent publishes its run's status events, and reads questions with the assistant's model.
      RUN_EVENTS_TOPIC: config.runEventsTopic,
      ANTHROPIC_MODEL: config.assistant.model,
      ANTHROPIC_API_KEY_SECRET: config.assistant.keySecret,
      ...(config.assistant.baseUrl ? { ANTHROPIC_BASE_URL: config.assistant.baseUrl } : {}),
      ...(config.firestore.emulatorHost ? { FIRESTORE_EMULATOR_HOST: config.firestore.emulatorHost } : {}),
      ...(config.storageEmulatorHost ? { STORAGE_EMULATOR_HOST: config.storageEmulatorHost } : {}),
      ...(config.emulators.batch ? { BATCH_EMULATOR_HOST: config.emulators.batch } : {}),
      ...(config.emulators.pubsub ? { PUBSUB_EMULATOR_HOST: config.emulators.pubsub } : {}),
      ...(config.firestore.emulatorHost ? { HAYSTACK_POLL_MS: '200' } : {}),
    },
  };
}

/** Every kind of run the platform runs, each with its store (publishing status events). */
export function createRunKinds(config: Config, db: Firestore, logger: Logger): RunKind[] {
  return [
    nextflowRunKind({
      runs: createRunStore(config, db, logger),
      objects: new GcsObjectStore(createStorage(config), config.runsBucket),
      clock: systemClock,
      settings: executionSettings(config),
    }),
    haystackRunKind({
      haystackRuns: createHaystackRunStore(config, db, logger),
      settings: haystackJobSettings(config),
    }),
  ];
}

/** What prepareRun, reconcileRun and onBatchJobEvent need: the kinds, Batch, and a logger. */
export function createKernelDeps(
  config: Config,
  overrides: Partial<KernelDeps & { logger: Logger }> = {},
): KernelDeps & { logger: Logger } {
  const logger = overrides.logger ?? jsonLogger();
  return {
    kinds: overrides.kinds ?? createRunKinds(config, createFirestore(config), logger),
    jobs: createBatchRunner(config),
    clock: systemClock,
    settings: { project: config.project, region: config.region },
    logger,
    ...overrides,
  };
}

/** What sweepStaleRuns needs: every kind of run, Batch, Workflows and the status-event outbox. */
export function createSweepDeps(
  config: Config,
  overrides: Partial<SweepDeps & { logger: Logger }> = {},
): SweepDeps & { logger: Logger } {
  const logger = overrides.logger ?? jsonLogger();
  const db = createFirestore(config);
  // The passes read the sweep's clock: a test's advanced clock makes a work dir look older.
  const clock = overrides.clock ?? systemClock;
  return {
    kinds: createRunKinds(config, db, logger),
    // One outbox holds every kind's staged status events.
    events: createRunEventOutbox(config, db),
    passes: [
      {
        name: 'work_dir_notices',
        run: (limit) =>
          noticeExpiringWorkDirs(
            { runs: createRunStore(config, db, logger), clock, storage: config.storage },
            limit,
          ),
      },
    ],
    jobs: createBatchRunner(config),
    workflows: createWorkflowStarter(config),
    clock,
    logger,
    settings: {
      staleAfterMs: config.sweep.staleAfterMs,
      pendingTimeoutMs: config.sweep.pendingTimeoutMs,
    },
    ...overrides,
  };
}
