import { randomUUID } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import { AnthropicChatModel } from '../adapters/anthropic-chat-model';
import { FirestoreConversationStore } from '../adapters/firestore-conversation-store';
import { FirestoreRateLimiter, Unlimited } from '../adapters/rate-limiters';
import type { Config } from '../config';
import { ModelError } from '../core/assistant/ports';
import type { AssistantToolDeps } from '../core/assistant/tools';
import { NotConfiguredError, UpstreamError } from '../core/shared/errors';
import type { Secrets } from '../core/shared/ports';
import { audit } from '../http/audit';
import type { AssistantRouteDeps } from '../http/routes/assistant-routes';
import type { ReadinessCheck } from '../http/routes/health-routes';
import type { Logger } from '../logging';
import { systemClock } from './platform';

/** The assistant's clients: Claude through the Anthropic SDK, and conversations in Firestore. */

/** The key: ANTHROPIC_API_KEY locally, else the Secret Manager secret (SECRET_<NAME> overrides it). */
function apiKey(config: Config, secrets: Secrets): () => Promise<string> {
  const { apiKey: direct, keySecret } = config.assistant;
  return async () => {
    if (direct) return direct;
    try {
      return await secrets.get(keySecret);
    } catch (error) {
      throw new NotConfiguredError(
        `The assistant is not configured: no Anthropic API key. ${
          config.firestore.emulatorHost
            ? 'Set ANTHROPIC_API_KEY before npm start (without one, npm start uses its offline demo model).'
            : `Create the secret ${keySecret} (gcloud secrets create ${keySecret} --data-file=-) and give the functions' service account roles/secretmanager.secretAccessor on it.`
        } (${(error as Error).message})`,
      );
    }
  };
}

export function createAssistantDeps(
  config: Config,
  db: Firestore,
  secrets: Secrets,
  tools: AssistantToolDeps,
  logger: Logger,
): AssistantRouteDeps['assistant'] {
  const key = apiKey(config, secrets);
  const settings = config.assistant;
  const model = new AnthropicChatModel({
    apiKey: key,
    model: settings.model,
    temperature: settings.temperature,
    maxTokens: settings.maxTokens,
    baseUrl: settings.baseUrl,
    maxRetries: settings.maxRetries,
    timeoutMs: settings.timeoutMs,
    checkTtlMs: 60_000,
  });
  return {
    ...tools,
    model,
    conversations: new FirestoreConversationStore(db),
    clock: systemClock,
    keyLimit:
      settings.keyRequestsPerMinute > 0
        ? new FirestoreRateLimiter(db, 'anthropic-key', settings.keyRequestsPerMinute)
        : new Unlimited(),
    userKeyShare:
      settings.keyRequestsPerMinute > 0
        ? new FirestoreRateLimiter(db, 'anthropic-key-user', settings.userRequestsPerMinute)
        : new Unlimited(),
    turn: settings.turn,
    keepAliveMs: settings.keepAliveMs,
    maxSteps: settings.maxSteps,
    newId: randomUUID,
    log: (severity, event, fields) => logger.log(severity, event, fields),
    audit: (event, fields) => audit(logger, event, { ...fields, via: 'assistant' }),
    ready: async () => void (await key()),
    label: settings.label,
    standIn: settings.label !== null && /stand-in/i.test(settings.label),
  };
}

/** Readiness: "disabled" (no key) is not a failure; a key Claude refuses or a missing model is. */
export function assistantReadiness(assistant: AssistantRouteDeps['assistant']): ReadinessCheck {
  return {
    name: 'assistant',
    async check() {
      try {
        await assistant.ready();
      } catch (error) {
        if (error instanceof NotConfiguredError) return 'disabled: no Anthropic API key is configured';
        throw error;
      }
      try {
        await assistant.model.check();
      } catch (error) {
        throw new UpstreamError(error instanceof ModelError ? error.message : 'Claude is not answering.', {
          cause: error,
        });
      }
      return undefined;
    },
  };
}
