/**
 * The HAYSTACK agent job's composition root (orchestrator/haystack/job.ts is its entry): its
 * run store (publishing status events like every writer's), the bucket, h5ad files, the atlas,
 * Batch for the model jobs, and the one choice of question interpreter, which the command line
 * agent shares.
 */
import { AnthropicClient } from '../adapters/anthropic-chat-model';
import { AnthropicQueryInterpreter } from '../adapters/anthropic-query-interpreter';
import { BatchPredictionModel } from '../adapters/batch-prediction-model';
import { GcsObjectStore } from '../adapters/gcs-object-store';
import { H5wasmAnnDataFiles } from '../adapters/h5wasm-h5ad';
import type { AgentConfig } from '../config';
import type { AnswerDeps } from '../core/haystack/answer';
import { generateDataset } from '../core/haystack/atlas';
import { AtlasCatalog } from '../core/haystack/catalog';
import type { QueryInterpreter } from '../core/haystack/ports';
import { RuleBasedInterpreter } from '../core/haystack/query';
import { DATASETS } from '../core/haystack/vocabulary';
import { batchParent } from '../core/shared/batch';
import { jsonLogger, type Logger, redacting } from '../logging';
import { createHaystackRunStore } from './events';
import { createFirestore, createStorage, systemClock } from './platform';
import { createBatchRunner } from './runs';
import { createSecrets } from './secrets';

/**
 * Claude reads the question when there is an Anthropic key, with `model` (a run's llm_model) or
 * the assistant's configured one; without a key, and whenever Claude's answer does not
 * validate, the rules do, and `log` says which.
 */
export function createQueryInterpreter(
  config: Pick<AgentConfig, 'assistant'>,
  key: string | null,
  model: string | null,
  log: (message: string, fields?: Record<string, unknown>) => void,
): QueryInterpreter {
  if (!key) {
    log('haystack_interpreter', { interpreter: 'rules', reason: 'no Anthropic key' });
    return new RuleBasedInterpreter();
  }
  const client = new AnthropicClient({
    apiKey: async () => key,
    baseUrl: config.assistant.baseUrl,
    maxRetries: config.assistant.maxRetries,
    timeoutMs: Math.min(config.assistant.timeoutMs, 60_000),
  });
  const chosen = model ?? config.assistant.model;
  log('haystack_interpreter', { interpreter: 'claude', model: chosen });
  return new AnthropicQueryInterpreter(client, chosen, (reason) =>
    log('haystack_interpreter_fallback', { reason }),
  );
}

/** The deployment's Anthropic key, read with the job's own service account (never in its environment); null without one. */
async function anthropicKey(config: AgentConfig): Promise<string | null> {
  if (config.assistant.apiKey) return config.assistant.apiKey;
  try {
    return await createSecrets(config).get(config.assistant.keySecret);
  } catch {
    return null;
  }
}

/** What the agent job of `runId` needs (core/haystack/answer.ts), and its logger. */
export function createHaystackAgentDeps(config: AgentConfig, runId: string): AnswerDeps & { logger: Logger } {
  const secrets = createSecrets(config);
  // Whatever the interpreter's client or a model's error says, the key never reaches a log line.
  const logger = redacting(jsonLogger(), (text) => secrets.redact(text));
  const log = (message: string, fields: Record<string, unknown> = {}) => logger.log('INFO', message, fields);
  const objects = new GcsObjectStore(createStorage(config), config.runsBucket);
  const files = new H5wasmAnnDataFiles();
  const jobs = createBatchRunner(config);
  let key: Promise<string | null> | undefined;
  return {
    runs: createHaystackRunStore(config, createFirestore(config), logger),
    objects,
    files,
    catalog: new AtlasCatalog(
      Object.fromEntries(DATASETS.map((d) => [d, generateDataset(d, config.haystack.atlasSeed)])),
    ),
    interpreter: async (run) => {
      key ??= anthropicKey(config);
      return createQueryInterpreter(config, await key, run.llm_model, log);
    },
    model: (progress) =>
      new BatchPredictionModel({
        runId,
        jobs,
        objects,
        files,
        parent: batchParent(config.project, config.region),
        settings: {
          inferenceImage: config.haystack.inferenceImage,
          gpuMachineType: config.haystack.gpuMachineType,
          gpuAccelerator: config.haystack.gpuAccelerator,
          serviceAccount: config.haystack.serviceAccount,
          // Locally the model job reads and writes the bucket's twin.
          environment: {
            GOOGLE_CLOUD_PROJECT: config.project,
            ...(config.storageEmulatorHost ? { STORAGE_EMULATOR_HOST: config.storageEmulatorHost } : {}),
          },
        },
        pollMs: config.haystack.pollMs,
        cancelled: progress.cancelled,
      }),
    clock: systemClock,
    seed: config.haystack.atlasSeed,
    log,
    logger,
  };
}
