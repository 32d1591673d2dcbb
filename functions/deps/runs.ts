import { BatchServiceClient } from '@google-cloud/batch';
import type { Firestore } from '@google-cloud/firestore';
import { BatchJobRunner } from '../adapters/batch-job-runner';
import { FirestoreHaystackRunStore } from '../adapters/firestore-haystack-run-store';
import { FirestoreRunStore } from '../adapters/firestore-run-store';
import { GcsObjectStore } from '../adapters/gcs-object-store';
import type { Config } from '../config';
import type { HaystackRunStore } from '../core/haystack/ports';
import type { ExecutionDeps } from '../core/runs/execution-service';
import { audit } from '../http/audit';
import { jsonLogger, type Logger } from '../logging';
import { createFirestore, createStorage, emulatorEndpoint, systemClock } from './platform';

/** The runs domain's clients the execution functions need: the run store and Batch. */

export function createBatchRunner(config: Config): BatchJobRunner {
  return new BatchJobRunner(
    new BatchServiceClient({
      projectId: config.project,
      ...(config.emulators.batch ? emulatorEndpoint(config.emulators.batch) : {}),
    }),
  );
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

export interface FunctionDeps extends ExecutionDeps {
  logger: Logger;
  /** HAYSTACK's agent jobs publish to the same topic: onBatchJobEvent updates their runs. */
  haystackRuns?: HaystackRunStore;
}

/** What prepareRun, reconcileRun, onBatchJobEvent and onRunArtifact need. */
export function createExecutionDeps(config: Config, overrides: Partial<FunctionDeps> = {}): FunctionDeps {
  const logger = overrides.logger ?? jsonLogger();
  const db = createFirestore(config);
  return {
    runs: createRunStore(db, logger),
    haystackRuns: new FirestoreHaystackRunStore(db),
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
