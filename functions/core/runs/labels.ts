/**
 * Run labels: `key=value` pairs a lab sets for cost allocation and search (ARCHITECTURE §7a).
 * They follow Google Cloud's label rules, because they are copied onto the run's Batch jobs
 * and from there reach the billing export: a key is 1–63 lowercase letters, digits, `_` or
 * `-` starting with a letter; a value is 0–63 of the same. A run has at most 25 of its own;
 * the keys the platform sets on every job are reserved.
 */
import { z } from 'zod';

export const MAX_LABELS = 25;
/** Set by the platform on every Batch job (batch-job.ts). */
export const RESERVED_LABEL_KEYS = ['app', 'run-id', 'pipeline', 'user-email'] as const;

export const LabelKey = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{0,62}$/,
    'a label key is 1–63 lowercase letters, digits, _ or -, starting with a letter (Google Cloud label rules)',
  )
  .refine((key) => !(RESERVED_LABEL_KEYS as readonly string[]).includes(key), {
    message: `${RESERVED_LABEL_KEYS.join(', ')} are set by the platform; choose another key`,
  });
export const LabelValue = z
  .string()
  .regex(
    /^[a-z0-9_-]{0,63}$/,
    'a label value is up to 63 lowercase letters, digits, _ or - (Google Cloud label rules)',
  );

/** Each bad key is named with what is wrong with it (a record's key schema would only say "Invalid key"). */
function checkKeys(labels: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const key of Object.keys(labels)) {
    const checked = LabelKey.safeParse(key);
    if (!checked.success)
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `"${key.slice(0, 70)}": ${checked.error.issues[0]!.message}`,
      });
  }
}

export const Labels = z
  .record(z.string().max(100), LabelValue)
  .superRefine(checkKeys)
  .refine((labels) => Object.keys(labels).length <= MAX_LABELS, {
    message: `a run has at most ${MAX_LABELS} labels`,
  });
export type Labels = z.infer<typeof Labels>;

/** PATCH: a value sets the label, null removes it (JSON Merge Patch). */
export const LabelsPatch = z
  .record(z.string().max(100), LabelValue.nullable())
  .superRefine(checkKeys)
  .refine((labels) => Object.keys(labels).length <= 2 * MAX_LABELS, {
    message: `at most ${2 * MAX_LABELS} labels in one change`,
  });

/** `key=value` as the list filter and the CLI take it. */
export const LabelFilter = z
  .string()
  .max(130)
  .transform((text, ctx) => {
    const at = text.indexOf('=');
    const key = LabelKey.safeParse(at < 0 ? text : text.slice(0, at));
    const value = LabelValue.safeParse(at < 0 ? '' : text.slice(at + 1));
    if (at < 0 || !key.success || !value.success) {
      ctx.addIssue({
        code: 'custom',
        message: `label must be key=value with Google Cloud label rules (lowercase letters, digits, _ or -), e.g. team=genomics`,
      });
      return z.NEVER;
    }
    return `${key.data}=${value.data}`;
  });

/** The form Firestore indexes a run's labels in (`label_pairs`, array-contains). */
export function labelPairs(labels: Labels): string[] {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .sort();
}

/** The labels after a merge patch; ValidationError-ready issues when the result has too many. */
export function mergeLabels(current: Labels, patch: Record<string, string | null>): Labels {
  const next: Labels = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}
