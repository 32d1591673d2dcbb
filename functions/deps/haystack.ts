import { FirestoreUserStore } from '../adapters/firestore-user-store';
import { GcsObjectStore } from '../adapters/gcs-object-store';
import type { Config } from '../config';
import { generateDataset } from '../core/haystack/atlas';
import { AtlasCatalog } from '../core/haystack/catalog';
import { RuleBasedInterpreter } from '../core/haystack/query';
import { DATASETS } from '../core/haystack/vocabulary';
import type { HaystackApiDeps } from '../http/haystack-app';
import { jsonLogger } from '../logging';
import { createApiAuthenticator, createRateLimiters } from './access';
import { createHaystackRunStore } from './events';
import { createFirestore, createStorage, systemClock, systemRandomness, VERSION } from './platform';
import { createBatchRunner } from './runs';
import { createWorkflowStarter, workflowArgument } from './workflows';

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
    workflows: createWorkflowStarter(config),
    workflowArgument: workflowArgument(config),
    jobs: createBatchRunner(config),
    authenticator: overrides.authenticator ?? createApiAuthenticator(config),
    adminEmails: config.adminEmails,
    rateLimits: createRateLimiters(config, db),
    corsOrigins: config.corsOrigins,
    logger: overrides.logger ?? jsonLogger(),
    version: VERSION,
    readiness: [
      { name: 'firestore', check: async () => void (await db.collection('haystack_runs').limit(1).get()) },
      { name: 'storage', check: () => objects.ping() },
    ],
    ...overrides,
  };
}
