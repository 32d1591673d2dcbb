import type { Firestore } from '@google-cloud/firestore';
import { BatchJobRunner } from '../adapters/batch-job-runner';
import { FirestoreRunStore } from '../adapters/firestore-run-store';
import { GcsObjectStore } from '../adapters/gcs-object-store';
import { batchSdk, onFirstUse } from '../adapters/google-sdks';
import type { Config } from '../config';
import type { PlatformConfig } from '../config/platform';
import type { ExecutionDeps, ExecutionSettings } from '../core/runs/execution-service';
import { SampleMatchers } from '../core/runs/sample-matchers';
import { audit } from '../http/audit';
import { jsonLogger, type Logger } from '../logging';
import { createStatusEvents } from './events';
import { createFirestore, createStorage, emulatorEndpoint, systemClock } from './platform';

/** The runs domain's clients the execution functions need: the run store and Batch. */

export function createBatchRunner(config: PlatformConfig): BatchJobRunner {
  return new BatchJobRunner(
    onFirstUse(
      () =>
        new (batchSdk().BatchServiceClient)({
          projectId: config.project,
          ...(config.emulators.batch ? emulatorEndpoint(config.emulators.batch) : {}),
        }),
    ),
  );
}

/** The run store every function uses: status changes go to the audit log and to `arc-run-events`. */
export function createRunStore(config: Config, db: Firestore, logger: Logger): FirestoreRunStore {
  return new FirestoreRunStore(db, {
    events: createStatusEvents(config, db, logger),
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

/** How Nextflow runs execute: the orchestrator job, prices, the platform's job limit. */
export function executionSettings(config: Config): ExecutionSettings {
  return {
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
      eventsTopic: config.batchEventsTopic,
      chunkIntervalSeconds: config.orchestrator.chunkIntervalSeconds,
    },
  };
}

export type FunctionDeps = ExecutionDeps & { logger: Logger };

/** What onRunArtifact needs: the run store and the bucket. */
export function createExecutionDeps(config: Config, overrides: Partial<FunctionDeps> = {}): FunctionDeps {
  const logger = overrides.logger ?? jsonLogger();
  const db = createFirestore(config);
  const runs = overrides.runs ?? createRunStore(config, db, logger);
  return {
    runs,
    objects: new GcsObjectStore(createStorage(config), config.runsBucket),
    clock: systemClock,
    logger,
    settings: executionSettings(config),
    samples: new SampleMatchers(runs),
    // A run its budget cancels at ingest has its job stopped there (the client loads on first use).
    jobs: createBatchRunner(config),
    ...overrides,
  };
}
