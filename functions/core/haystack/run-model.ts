/**
 * A HAYSTACK run on the platform: the request `POST /api/v1/runs` takes (the product spec's
 * shapes), the record kept in Firestore (`haystack_runs/{id}`), and the views the API answers.
 * Statuses are the platform's one lifecycle (core/shared/run-status).
 */
import { z } from 'zod';
import { newId, type RandomBytes } from '../shared/ids';
import { RunStatus } from '../shared/run-status';
import { CONTROL_STRATEGIES, PHASES, TERMINATION_REASONS } from './phases';
import { DATASETS } from './vocabulary';

/** `hs-` + 12 of [a-z0-9]: Batch-safe (the spec's `run_{hex}` has `_`, which Batch job ids refuse). */
export const HaystackRunId = z
  .string()
  .regex(/^hs-[a-z0-9]{12}$/, 'a HAYSTACK run id: hs- and 12 of [a-z0-9]');
export const newHaystackRunId = (bytes: RandomBytes) => newId('hs', bytes);

export const CreateHaystackRunRequest = z.strictObject({
  query: z.string().trim().min(10, 'ask a question of at least 10 characters').max(2_000),
  control_strategy: z.enum(CONTROL_STRATEGIES).default('synthetic_control'),
  max_iterations: z.number().int().min(1).max(10).default(5),
  score_threshold: z.number().int().min(1).max(10).default(7),
  dataset: z.enum(DATASETS).optional(),
  llm_model: z
    .string()
    .regex(/^[\w.:-]{1,100}$/, 'a model id')
    .optional()
    .describe('the Claude model that reads the question (default: the configured one)'),
});
export type CreateHaystackRunRequest = z.infer<typeof CreateHaystackRunRequest>;

export const ValidateControlRequest = z.strictObject({
  query: z.string().trim().min(10, 'ask a question of at least 10 characters').max(2_000),
  dataset: z.enum(DATASETS).optional(),
});

const IsoTime = z.string();

export const IterationScore = z.object({
  iteration: z.number().int(),
  composite: z.number().int(),
  P: z.number().int(),
  T: z.number().int(),
  L: z.number().int(),
  N: z.number().int(),
  strategy: z.string(),
  condition: z.string(),
  cell_type: z.string(),
  control_strategy_effective: z.enum(CONTROL_STRATEGIES),
});

export const HaystackRun = z.object({
  run_id: HaystackRunId,
  user_email: z.string(),
  status: z.enum(RunStatus),
  query: z.string(),
  control_strategy: z.enum(CONTROL_STRATEGIES),
  control_strategy_effective: z.enum(CONTROL_STRATEGIES).nullable(),
  max_iterations: z.number().int(),
  score_threshold: z.number().int(),
  dataset: z.enum(DATASETS).nullable(),
  llm_model: z.string().nullable(),
  current_iteration: z.number().int(),
  current_phase: z.enum(PHASES).nullable(),
  grounding_scores: z.array(IterationScore),
  final_score: z.number().int().nullable(),
  termination_reason: z.enum(TERMINATION_REASONS).nullable(),
  error_message: z.string().nullable(),
  created_at: IsoTime,
  updated_at: IsoTime,
  submitted_at: IsoTime.nullable(),
  started_at: IsoTime.nullable(),
  completed_at: IsoTime.nullable(),
  failed_at: IsoTime.nullable(),
  cancelled_at: IsoTime.nullable(),
  best: z
    .object({
      iteration: z.number().int(),
      de_up: z.array(z.string()),
      de_down: z.array(z.string()),
      pathways: z.array(z.object({ set: z.string(), padj: z.number(), overlap: z.number().int() })),
    })
    .nullable()
    .default(null)
    .describe('the best iteration: its DE genes (25 each way at most) and enriched Hallmark sets'),
  gcs_path: z.string(),
  batch_job_name: z.string().nullable(),
  batch_request_id: z.uuid().describe('the requestId sent with jobs.create, stable across retries'),
  dataset_kind: z.literal('synthetic'),
  model: z.string(),
});
export type HaystackRun = z.infer<typeof HaystackRun>;

export const ListHaystackRunsQuery = z.strictObject({
  scope: z.enum(['mine', 'all']).default('mine').describe("all: every user's runs (administrators only)"),
  status: z.enum(RunStatus).optional(),
  page: z.coerce.number().int().min(1).max(10_000).default(1),
  page_size: z.coerce.number().int().min(1).max(100).default(20),
});
export type ListHaystackRunsQuery = z.infer<typeof ListHaystackRunsQuery>;

/** The run's outputs under its prefix. */
export function haystackPaths(runId: string) {
  const results = `haystack/${runId}/results`;
  return {
    prefix: `haystack/${runId}`,
    predictions: `${results}/${runId}_predictions.h5ad`,
    report: `${results}/${runId}_report.html`,
    log: `${results}/${runId}_log.json`,
  };
}
