const RUN_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const RUN_ID_LENGTH = 12;
// 252 = 7 × 36: bytes at or above it are dropped so every character is equally likely.
const UNBIASED_LIMIT = 252;

export type RandomBytes = (size: number) => Uint8Array;

/** An id's body: 12 characters of [a-z0-9] (RegExp source). */
export const ID_BODY = '[a-z0-9]{12}';
/** A run id (RegExp source), for patterns that contain one: `run-` + the body. */
export const RUN_ID = `run-${ID_BODY}`;
export const RUN_ID_PATTERN = new RegExp(`^${RUN_ID}$`);
/** A HAYSTACK run id (RegExp source): `hs-` + the body (the spec's `run_{hex}` has `_`, which Batch refuses). */
export const HAYSTACK_RUN_ID = `hs-${ID_BODY}`;

/** `{prefix}-` + 12 characters of [a-z0-9], drawn without modulo bias from a CSPRNG. */
export function newId(prefix: string, randomBytes: RandomBytes): string {
  let id = '';
  while (id.length < RUN_ID_LENGTH) {
    for (const byte of randomBytes(RUN_ID_LENGTH * 2)) {
      if (byte >= UNBIASED_LIMIT) continue;
      id += RUN_ID_ALPHABET[byte % RUN_ID_ALPHABET.length];
      if (id.length === RUN_ID_LENGTH) break;
    }
  }
  return `${prefix}-${id}`;
}

/** `run-` + 12 characters: a Nextflow run's id. */
export function newRunId(randomBytes: RandomBytes): string {
  return newId('run', randomBytes);
}

/** Batch job ids must match ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$ (no underscores, at most 63). */
export const BATCH_JOB_ID_PATTERN = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** `{prefix}-{rest}` as a Batch job id; throws when Batch would refuse it. */
export function checkedJobId(prefix: string, rest: string): string {
  const id = `${prefix}-${rest}`;
  if (!BATCH_JOB_ID_PATTERN.test(id)) throw new Error(`"${id}" is not a valid Batch job id`);
  return id;
}

/** `nf-{run}`: a Nextflow run's orchestrator job. */
export function batchJobId(runId: string): string {
  return checkedJobId('nf', runId);
}

export function runIdFromBatchJobId(jobId: string): string | null {
  const match = new RegExp(`^nf-(${RUN_ID})$`).exec(jobId);
  return match?.[1] ?? null;
}

const LABEL_MAX = 63;

/**
 * GCP label values: lowercase letters, digits, `_` and `-`, at most 63 characters.
 * Anything else becomes `_` so distinct inputs stay readable (alice@example.com → alice_example_com).
 */
export function sanitizeLabelValue(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_')
    .slice(0, LABEL_MAX);
}

/** Label keys follow the value rules and must also start with a lowercase letter. */
export function sanitizeLabelKey(key: string): string {
  const value = sanitizeLabelValue(key);
  return /^[a-z]/.test(value) ? value : `k${value}`.slice(0, LABEL_MAX);
}
