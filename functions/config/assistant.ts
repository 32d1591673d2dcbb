/** The assistant (Claude): which model, how it answers, and its limits. */
import { z } from 'zod';
import { DEFAULT_CLAUDE_MODEL, modelTakesTemperature } from '../core/shared/claude-models';
import { fix, PerMinute } from './schema';

export const assistantEnv = z.object({
  ANTHROPIC_MODEL: fix(
    z.string().regex(/^[\w.:-]{1,100}$/, 'must be a model id'),
    `set it to a model id, e.g. ${DEFAULT_CLAUDE_MODEL}`,
  ).default(DEFAULT_CLAUDE_MODEL),
  /** Only models up to Claude Opus 4.6 take one; unset, none is sent (core/shared/claude-models.ts). */
  ANTHROPIC_TEMPERATURE: fix(z.coerce.number().min(0).max(1), 'set it to a number from 0 to 1').optional(),
  ANTHROPIC_MAX_TOKENS: fix(z.coerce.number().int().min(256).max(64_000), 'set it to 256–64000').default(
    6_000,
  ),
  ANTHROPIC_BASE_URL: fix(
    z.url(),
    'set it to the Messages API base URL, e.g. http://127.0.0.1:8123',
  ).optional(),
  ANTHROPIC_API_KEY_SECRET: fix(
    z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a Secret Manager secret id'),
    'set it to the secret id holding the key',
  ).default('anthropic-api-key'),
  /** Locally only: the key itself (in production it comes from Secret Manager). */
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  ANTHROPIC_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(120_000),
  ANTHROPIC_KEY_REQUESTS_PER_MINUTE: PerMinute.default(60),
  ASSISTANT_MAX_STEPS: fix(z.coerce.number().int().min(1).max(20), 'set it to 1–20').default(8),
  /** Shown in the page instead of the model id, e.g. for the local stand-in. */
  ASSISTANT_MODEL_LABEL: z.string().min(1).max(120).optional(),
});

export function assistantConfig(c: z.output<typeof assistantEnv>) {
  return {
    assistant: {
      model: c.ANTHROPIC_MODEL,
      temperature: c.ANTHROPIC_TEMPERATURE,
      maxTokens: c.ANTHROPIC_MAX_TOKENS,
      /** The Messages API; undefined: Anthropic's. The local stack points it at its twin. */
      baseUrl: c.ANTHROPIC_BASE_URL,
      /** Secret Manager secret with the key (SECRET_ANTHROPIC_API_KEY overrides it locally). */
      keySecret: c.ANTHROPIC_API_KEY_SECRET,
      /** A key given directly (local use). */
      apiKey: c.ANTHROPIC_API_KEY,
      /** The SDK's own retries of 429, 529 and 5xx. */
      maxRetries: c.ANTHROPIC_MAX_RETRIES,
      timeoutMs: c.ANTHROPIC_TIMEOUT_MS,
      /** Model requests a minute for the whole key, across instances (0: no limit). */
      keyRequestsPerMinute: c.ANTHROPIC_KEY_REQUESTS_PER_MINUTE,
      /** Model calls a chat turn may make (each tool round trip is one). */
      maxSteps: c.ASSISTANT_MAX_STEPS,
      label: c.ASSISTANT_MODEL_LABEL ?? null,
    },
  };
}

/** Models released after Claude Opus 4.6 refuse a temperature: say so at start, not at the first chat. */
export function temperatureProblem(model: string, temperature: number | undefined): string | null {
  if (temperature === undefined || temperature === 1 || modelTakesTemperature(model)) return null;
  return `ANTHROPIC_TEMPERATURE is set but ${model} does not accept a temperature (models after Claude Opus 4.6 refuse it); unset ANTHROPIC_TEMPERATURE, or choose a model that takes one`;
}
