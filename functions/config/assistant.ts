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
  /** The most of the key's requests one user's turns may take in any 60 s, as a fraction. */
  ASSISTANT_USER_SHARE: fix(
    z.coerce.number().gt(0).max(1),
    'set it to a fraction above 0, up to 1, e.g. 0.5',
  ).default(0.5),
  /** A chat turn's whole time; it must end inside the api function's 120 s request timeout. */
  ASSISTANT_TURN_DEADLINE_SECONDS: fix(
    z.coerce.number().int().min(2).max(110),
    'set it to 2–110 s (the api function stops a request at 120 s)',
  ).default(100),
  /** A model call that has sent nothing for this long is given up. */
  ASSISTANT_FIRST_TOKEN_SECONDS: fix(z.coerce.number().min(0.5).max(110), 'set it to 0.5–110 s').default(30),
  /** A comment on the chat stream this often, so that proxies keep a quiet stream open. */
  ASSISTANT_KEEPALIVE_SECONDS: fix(z.coerce.number().min(0.1).max(60), 'set it to 0.1–60 s').default(15),
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
      /** One user's model requests in any 60 s: their share of the key's (at least 1). */
      userRequestsPerMinute: Math.max(
        1,
        Math.floor(c.ANTHROPIC_KEY_REQUESTS_PER_MINUTE * c.ASSISTANT_USER_SHARE),
      ),
      turn: {
        deadlineMs: c.ASSISTANT_TURN_DEADLINE_SECONDS * 1000,
        firstTokenMs: Math.min(c.ASSISTANT_FIRST_TOKEN_SECONDS, c.ASSISTANT_TURN_DEADLINE_SECONDS) * 1000,
      },
      keepAliveMs: c.ASSISTANT_KEEPALIVE_SECONDS * 1000,
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
