/**
 * What the Claude models the platform may be configured with accept. Per the Messages API
 * (and `@anthropic-ai/sdk`'s own types), models released after Claude Opus 4.6 refuse a
 * `temperature` other than 1.0; the older families (Claude 3, the 4.x models up to 4.5, and
 * Opus 4.6) take 0–1. An unknown model is treated as new: no temperature is sent.
 */
const TAKES_TEMPERATURE = /^claude-(3[-.]|(sonnet|opus|haiku)-4(-[0-5])?(-\d{8})?$|opus-4-6)/;

export function modelTakesTemperature(model: string): boolean {
  return TAKES_TEMPERATURE.test(model);
}

/** The assistant's default: the current Sonnet (claude-sonnet-4-5-20250929 is retired on 2026-11-30). */
export const DEFAULT_CLAUDE_MODEL = 'claude-sonnet-5-5';
