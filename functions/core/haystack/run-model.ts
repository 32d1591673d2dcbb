/**
 * A HAYSTACK run on the platform: the request `POST /api/v1/runs` takes (the product spec's
 * shapes), the record kept in Firestore (`haystack_runs/{id}`), and the views the API answers.
 * Statuses are the platform's one lifecycle (core/shared/run-status).
 */
import { z } from 'zod';
import { haystackPaths } from '../shared/bucket-layout';
import { HAYSTACK_RUN_ID, newId, type RandomBytes } from '../shared/ids';
import { applyRunEvent, type RunEvent } from '../shared/lifecycle';
import type { RunEventView } from '../shared/run-events';
import { RunQueue } from '../shared/run-kind';
import { isTerminal, RunStatus } from '../shared/run-status';
import { CONTROL_STRATEGIES, PHASES, TERMINATION_REASONS } from './phases';
import { NotUsed } from './query';
import { DATASETS } from './vocabulary';

/** `hs-` + 12 of [a-z0-9]: Batch-safe (the spec's `run_{hex}` has `_`, which Batch job ids refuse). */
export const HAYSTACK_RUN_ID_PATTERN = new RegExp(`^${HAYSTACK_RUN_ID}$`);
export const HaystackRunId = z
  .string()
  .regex(HAYSTACK_RUN_ID_PATTERN, 'a HAYSTACK run id: hs- and 12 of [a-z0-9]');
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
  /** What to know about this iteration's numbers (a model output with non-finite values). */
  warnings: z.array(z.string()).default([]),
});

const Pathway = z.object({ set: z.string(), padj: z.number(), overlap: z.number().int() });

/** How the question was read: said on the form's live check, on the run, in the report and by arc. */
export const Understanding = z.object({
  understood_as: z.string(),
  interpreter: z.enum(['claude', 'rules']),
  perturbation: z.string().nullable(),
  comparison: z.string().nullable(),
  not_used: z.array(NotUsed),
});
export type Understanding = z.infer<typeof Understanding>;

/** A comparison of two conditions: the second's prediction, its response, and the contrast (25 genes each way at most). */
export const ComparisonSummary = z.object({
  perturbation: z.string(),
  best_prompt_condition: z.string(),
  comparison: z.string(),
  prompt: z
    .object({ strategy: z.string(), dataset: z.enum(DATASETS), condition: z.string(), cell_type: z.string() })
    .nullable(),
  prompt_cells: z.number().int(),
  error: z.string().nullable(),
  response: z.object({
    de_up: z.array(z.string()),
    de_down: z.array(z.string()),
    pathways: z.array(Pathway),
  }),
  contrast: z.object({
    higher_under_first: z.array(z.string()),
    higher_under_second: z.array(z.string()),
    pathways: z.array(Pathway),
  }),
});
export type ComparisonSummary = z.infer<typeof ComparisonSummary>;

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
      pathways: z.array(Pathway),
    })
    .nullable()
    .default(null)
    .describe('the best iteration: its DE genes (25 each way at most) and enriched Hallmark sets'),
  understanding: Understanding.nullable()
    .default(null)
    .describe('how the question was read, and what it names that the run does not use; null until read'),
  comparison: ComparisonSummary.nullable()
    .default(null)
    .describe('for a question comparing two conditions: the second prediction and the contrast'),
  gcs_path: z.string(),
  batch_job_name: z.string().nullable(),
  workflow_execution: z
    .string()
    .nullable()
    .default(null)
    .describe('the run-pipeline execution that drives the run (null for runs stored before it was recorded)'),
  queue: RunQueue.nullable()
    .default(null)
    .describe('why the agent job is not created yet (Batch quota); null when it is not waiting'),
  batch_request_id: z.uuid().describe('the requestId sent with jobs.create, stable across retries'),
  dataset_kind: z.literal('synthetic'),
  model: z.string(),
});
export type HaystackRun = z.infer<typeof HaystackRun>;

/** A new run, pending, as `POST /api/v1/runs` stores it. */
export function newHaystackRun(input: {
  run_id: string;
  user_email: string;
  request: CreateHaystackRunRequest;
  created_at: string;
  bucket: string;
  batch_request_id: string;
  model: string;
}): HaystackRun {
  const { request } = input;
  return {
    run_id: input.run_id,
    user_email: input.user_email,
    status: 'pending',
    query: request.query,
    control_strategy: request.control_strategy,
    control_strategy_effective: null,
    max_iterations: request.max_iterations,
    score_threshold: request.score_threshold,
    dataset: request.dataset ?? null,
    llm_model: request.llm_model ?? null,
    current_iteration: 0,
    current_phase: null,
    grounding_scores: [],
    final_score: null,
    termination_reason: null,
    error_message: null,
    created_at: input.created_at,
    updated_at: input.created_at,
    submitted_at: null,
    started_at: null,
    completed_at: null,
    failed_at: null,
    cancelled_at: null,
    best: null,
    understanding: null,
    comparison: null,
    gcs_path: `gs://${input.bucket}/${haystackPaths(input.run_id).prefix}`,
    batch_job_name: null,
    workflow_execution: null,
    queue: null,
    batch_request_id: input.batch_request_id,
    dataset_kind: 'synthetic',
    model: input.model,
  };
}

/** What only the lifecycle writes (core/shared/lifecycle.ts): a run's status and the times it entered each. */
type LifecycleOwned =
  | 'run_id'
  | 'status'
  | 'submitted_at'
  | 'started_at'
  | 'completed_at'
  | 'failed_at'
  | 'cancelled_at';

/** Fields of a run written outside the lifecycle: the agent's progress and its answer. */
export type HaystackFields = Partial<Omit<HaystackRun, LifecycleOwned>>;

/**
 * What entering a status means for a HAYSTACK run beyond the lifecycle's own fields: an ended
 * run has no current phase, and says why it ended (a cancel, or an error unless the agent
 * already named its reason).
 */
export function onEnteringStatus(run: HaystackRun, to: RunStatus): HaystackFields {
  if (!isTerminal(to)) return {};
  if (to === 'cancelled') return { current_phase: null, termination_reason: 'cancelled' };
  if (to === 'failed') return { current_phase: null, termination_reason: run.termination_reason ?? 'error' };
  return { current_phase: null };
}

export const ListHaystackRunsQuery = z.strictObject({
  scope: z.enum(['mine', 'all']).default('mine').describe("all: every user's runs (administrators only)"),
  status: z.enum(RunStatus).optional(),
  page: z.coerce.number().int().min(1).max(10_000).default(1),
  page_size: z.coerce.number().int().min(1).max(100).default(20),
});
export type ListHaystackRunsQuery = z.infer<typeof ListHaystackRunsQuery>;

/**
 * The lifecycle's reducer for a HAYSTACK run: each event in order through `applyRunEvent`, with
 * what entering a status means for the run (`onEnteringStatus`). Null when nothing changed;
 * `entered` lists each status change, for its status event.
 */
export function applyHaystackEvents(
  run: HaystackRun,
  events: readonly RunEvent[],
): { run: HaystackRun; entered: { from: RunStatus; to: RunStatus; at: string }[] } | null {
  let current = run;
  const entered: { from: RunStatus; to: RunStatus; at: string }[] = [];
  for (const event of events) {
    const patch = applyRunEvent(current, event);
    if (!patch) continue;
    const next: HaystackRun = { ...current, ...patch };
    if (next.status !== current.status) {
      entered.push({ from: current.status, to: next.status, at: event.at });
      current = { ...next, ...onEnteringStatus(current, next.status) };
    } else current = next;
  }
  return current === run ? null : { run: current, entered };
}

/** How a HAYSTACK run is named to a person in its status events. */
export function haystackEventView(run: Pick<HaystackRun, 'run_id'>): RunEventView {
  return {
    kind: 'haystack',
    title: 'Cell prompting run',
    page: `/haystack/${encodeURIComponent(run.run_id)}`,
  };
}
