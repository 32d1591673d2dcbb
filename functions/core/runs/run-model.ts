import { z } from 'zod';
import { Executor } from '../nextflow/executors';

export { Executor };

import { RunMetrics } from '../nextflow/metrics';
import { CostEstimate } from './cost-estimate';
import { WorkDirState } from './work-dir-model';

export { isTerminal, RunStatus, TerminalStatus } from '../shared/run-status';

import { SamplesheetFormat } from '../nextflow/samplesheet';
import { RUN_ID_PATTERN } from '../shared/ids';
import type { RunEventView } from '../shared/run-events';
import { RunQueue } from '../shared/run-kind';
import { RunStatus } from '../shared/run-status';
import { LabelFilter, Labels, LabelsPatch } from './labels';
import {
  type CounterName,
  runDefaults,
  type SampleCounterName,
  type SampleProgress,
  zeroCounters,
} from './run-document';

export { RUN_ID_PATTERN };
export const RunId = z
  .string()
  .regex(RUN_ID_PATTERN, 'must look like run-xxxxxxxxxxxx (12 lowercase letters or digits)');

const IsoTime = z.iso.datetime({ offset: false });
const RunName = z
  .string()
  .trim()
  .min(1, 'a name cannot be empty')
  .max(100, 'a name is at most 100 characters');
const RunDescription = z.string().trim().max(2_000, 'a description is at most 2,000 characters');
const NullableIsoTime = IsoTime.nullable();

export const SAMPLESHEET_MAX_BYTES = 10 * 1024 * 1024;
export const CONFIG_MAX_BYTES = 100 * 1024;
/** Params are stored on the run document (Firestore caps documents at 1 MiB). */
export const PARAMS_MAX_BYTES = 100 * 1024;

/** Progress as stored: the counters of run-document.ts, each with what it counts. */
export const Counters = z.object({
  submitted: z.number().int().nonnegative().default(0).describe('task attempts sent to run (nextflow.log)'),
  announced: z.number().int().nonnegative().default(0).describe('"Cached process >" lines seen'),
  completed: z.number().int().nonnegative().default(0),
  cached: z.number().int().nonnegative().default(0).describe('taken from an earlier attempt (-resume)'),
  failed: z.number().int().nonnegative().default(0).describe('failed attempts, retried ones included'),
  aborted: z.number().int().nonnegative().default(0),
} satisfies Record<CounterName, z.ZodType>);
export type Counters = z.infer<typeof Counters>;

const count = z.number().nonnegative().default(0);
/** A task that failed for good (not retried): what a sample keeps of it. */
export const FailedTaskRef = z.object({
  name: z.string(),
  exit: z.number().int().nullable(),
  task_id: z.number().int().nullable(),
  hash: z.string().nullable(),
});

/** A sample's counters as stored (run-document.ts `SAMPLE_COUNTERS`). */
export const SampleCounters = z.object({
  completed: count,
  cached: count,
  failed: count.describe('failed attempts, retried ones included'),
  retried: count.describe('failed attempts Nextflow tried again'),
  aborted: count,
  cpu_ms: count.describe("CPU time of the sample's tasks: cpus × run time, ms (a shared task split evenly)"),
  failed_task: FailedTaskRef.optional().describe('the task that failed for good'),
} satisfies Record<SampleCounterName | 'failed_task', z.ZodType>);
export type SampleCounters = z.infer<typeof SampleCounters>;

export const StoredProgress = Counters.extend({ processes: z.record(z.string(), Counters).default({}) });
export type StoredProgress = z.infer<typeof StoredProgress>;

/** What a trace chunk adds: the run's counters, and each sample's (stored apart: run-document.ts `SampleProgress`). */
/** What a chunk adds: counters, by sample, and (a trace chunk) the cost of the rows that executed, USD. */
export type ProgressDelta = StoredProgress & Partial<SampleProgress> & { cost_usd?: number };

export function emptyProgress(): StoredProgress {
  return { ...zeroCounters(), processes: {} };
}

/** Progress as shown: the counters plus what follows from them. */
export const ProcessProgress = Counters.extend({
  running: z
    .number()
    .int()
    .nonnegative()
    .describe('submitted and not finished yet (0 once the run has ended)'),
});
export type ProcessProgress = z.infer<typeof ProcessProgress>;

export const Progress = ProcessProgress.extend({
  total_known: z
    .number()
    .int()
    .nonnegative()
    .describe('tasks known so far: submitted attempts plus cached tasks'),
  processes: z.record(z.string(), ProcessProgress),
  source: z
    .enum(['live', 'final'])
    .describe('live: counted from the streamed chunks; final: from the final trace'),
});
export type Progress = z.infer<typeof Progress>;

/** Bookkeeping of event ingestion (idempotency flags, warnings). */
export const Ingest = z
  .object({
    stats_counted: z.boolean().optional().describe("the user's stats counted this run"),
    trace_generation: z
      .string()
      .optional()
      .describe('generation of the final trace.txt the metrics come from'),
    malformed_rows: z.number().int().optional(),
    warnings: z.array(z.string()).optional(),
    progress_corrected: z
      .record(z.string(), z.record(z.string(), z.tuple([z.number(), z.number()])))
      .optional()
      .describe(
        'process → counter → [live count, final trace]: live counts that differed when the final trace arrived (chunks late or lost)',
      ),
  })
  .catchall(z.unknown());
export type Ingest = z.infer<typeof Ingest>;

/** The run record of the product spec plus the execution bookkeeping of ARCHITECTURE §3. */
export const Run = z.object({
  run_id: RunId,
  pipeline: z.string(),
  pipeline_version: z.string(),
  status: z.enum(RunStatus),
  user_email: z.string(),
  user_name: z.string(),
  created_at: IsoTime,
  updated_at: IsoTime,
  submitted_at: NullableIsoTime,
  started_at: NullableIsoTime,
  completed_at: NullableIsoTime,
  failed_at: NullableIsoTime,
  cancelled_at: NullableIsoTime,
  gcs_path: z.string().describe('gs:// prefix that holds the run inputs, logs and results'),
  batch_job_name: z.string().nullable(),
  batch_request_id: z.uuid().describe('the requestId sent with jobs.create, stable across retries'),
  params: z.record(z.string(), z.unknown()).default(() => runDefaults().params),
  param_warnings: z.array(z.string()).default(() => runDefaults().param_warnings),
  config_content: z.string(),
  sample_count: z.number().int().nonnegative(),
  samples: z
    .array(z.string())
    .default(() => runDefaults().samples)
    .describe('distinct sample names of the samplesheet (first 500)'),
  source_ngs_runs: z.array(z.string()).default(() => runDefaults().source_ngs_runs),
  source_project: z.string().nullable(),
  parent_run_id: RunId.nullable(),
  recovery_run_ids: z
    .array(RunId)
    .optional()
    .describe(
      'runs that recover this one, oldest first; each recovery adds itself (absent on runs stored before it)',
    ),
  root_run_id: RunId.describe('the first run of a recovery chain; owns the work dir and cache'),
  is_recovery: z.boolean(),
  recovery_notes: z.string().nullable(),
  reused_work_dir: z.boolean(),
  exit_code: z.number().int().nullable(),
  error_message: z.string().nullable(),
  error_task: z.string().nullable(),
  error_detail: z.string().nullable().describe("the failing task's error block from nextflow.log"),
  metrics: RunMetrics.nullable().default(runDefaults().metrics),
  input_bytes: z
    .number()
    .nullable()
    .default(runDefaults().input_bytes)
    .describe("bytes of the samplesheet's gs:// input files at launch; null when not all are known"),
  budget_usd: z
    .number()
    .nullable()
    .default(runDefaults().budget_usd)
    .describe('the run is cancelled once accrued_usd reaches this (USD); null: no budget'),
  accrued_usd: z
    .number()
    .default(runDefaults().accrued_usd)
    .describe(
      "cost so far (USD): each finished task's CPU and memory at the Spot prices, as its trace row lands",
    ),
  budget_warned_at: NullableIsoTime.default(null).describe('when the run reached 80% of its budget'),
  budget_from: z
    .string()
    .nullable()
    .default(null)
    .describe('where budget_usd came from when the launch named none (a label’s, its owner’s, the default)'),
  cost_estimate: CostEstimate.nullable()
    .default(runDefaults().cost_estimate)
    .describe('what the run was estimated to cost before it was launched, and from what'),
  work_dir: WorkDirState.nullable()
    .default(runDefaults().work_dir)
    .describe(
      "on a chain's root run: its work dir as measured when a run of the chain last ended, or freed; null before",
    ),
  progress: StoredProgress,
  executor: z.enum(Executor).nullable(),
  session_id: z.uuid(),
  run_name: z.string(),
  attempt: z.number().int().positive().describe('place in the recovery chain: 1 for the first run'),
  orchestrator_attempt: z
    .number()
    .int()
    .positive()
    .default(runDefaults().orchestrator_attempt)
    .describe(
      'the Batch task attempt running Nextflow: above 1 after Batch retried it (preemption, a lost VM)',
    ),
  orchestrator_retries: z
    .array(
      z.object({
        attempt: z.number().int().positive(),
        at: z.string(),
        exit_code: z.number().int().nullable(),
        reason: z.string(),
      }),
    )
    .default(() => runDefaults().orchestrator_retries)
    .describe('each orchestrator retry: the attempt started, and why the one before ended'),
  attempt_progress: z
    .record(z.string(), StoredProgress)
    .default(() => runDefaults().attempt_progress)
    .describe('progress counted by orchestrator attempts after the first (the first counts in progress)'),
  workflow_execution: z.string().nullable(),
  labels: Labels.default(() => runDefaults().labels).describe(
    'key=value labels (Google Cloud label rules), copied onto the Batch jobs',
  ),
  name: z.string().nullable().default(runDefaults().name).describe('what the scientist calls the run'),
  description: z.string().nullable().default(runDefaults().description),
  queue: RunQueue.nullable()
    .default(runDefaults().queue)
    .describe('set while a pending run waits for Batch capacity: why, and since when'),
  ingest: Ingest,
});
export type Run = z.infer<typeof Run>;

const ParamsObject = z.record(z.string(), z.unknown());

/** A run's budget: its cost (from the trace, as it lands) past which it is cancelled. */
const BudgetUsd = z
  .number()
  .positive()
  .max(1_000_000)
  .describe('cancel the run once its cost, accrued from its trace as tasks finish, reaches this (USD)');

export const CreateRunRequest = z.strictObject({
  pipeline: z.string().min(1).max(200).describe('pipeline name, e.g. nf-core/scrnaseq'),
  pipeline_version: z.string().min(1).max(50).optional().describe('defaults to the pipeline default version'),
  samplesheet_csv: z
    .string()
    .min(1, 'the samplesheet is empty')
    .describe(
      'the samplesheet (≤ 10 MB): CSV with a header row, or TSV, YAML or JSON (see samplesheet_format)',
    ),
  samplesheet_format: z
    .enum(SamplesheetFormat)
    .optional()
    .describe('the format of samplesheet_csv; detected when omitted. The pipeline is given CSV.'),
  config_content: z
    .string()
    .optional()
    .describe('extra Nextflow config appended to the platform config (≤ 100 KB)'),
  params: ParamsObject.default({}).describe('pipeline parameters, validated against nextflow_schema.json'),
  allow_unknown_params: z
    .boolean()
    .default(false)
    .describe(
      'launch params that are not in the schema but look like a typo of one that is (refused otherwise: the one meant would keep its default)',
    ),
  source_ngs_runs: z.array(z.string().min(1).max(200)).max(100).optional(),
  source_project: z.string().min(1).max(200).optional(),
  labels: Labels.optional().describe('up to 25 key=value labels, e.g. {"team": "genomics"}'),
  name: RunName.optional().describe('a name to know the run by, e.g. "PBMC stim, day 3"'),
  description: RunDescription.optional(),
  budget_usd: BudgetUsd.optional(),
});
export type CreateRunRequest = z.infer<typeof CreateRunRequest>;

export const RecoverRunRequest = z.strictObject({
  reuse_work_dir: z.boolean().default(true),
  samples: z
    .array(z.string().min(1).max(200))
    .min(1, 'name at least one sample, or leave samples out to recover every sample')
    .max(500)
    .optional()
    .describe("recover only these samples: the recovery's samplesheet keeps only their rows"),
  failed_samples: z
    .boolean()
    .optional()
    .describe('recover only the samples that failed (a task of theirs failed for good); not with samples'),
  notes: z.string().max(2000).optional(),
  override_params: ParamsObject.optional(),
  override_config: z.string().optional(),
  allow_unknown_params: z
    .boolean()
    .default(false)
    .describe('as for a launch: override params that look like a typo of a known one are refused otherwise'),
  budget_usd: BudgetUsd.nullable()
    .optional()
    .describe("the recovery's own budget (USD); omitted: the run's; null: none"),
});
export type RecoverRunRequest = z.infer<typeof RecoverRunRequest>;

/** PATCH /api/runs/{id}: what may change on a run after launch. */
export const UpdateRunRequest = z
  .strictObject({
    labels: LabelsPatch.optional().describe(
      'a JSON Merge Patch of the labels: a value sets a label, null removes it',
    ),
    name: RunName.nullable().optional().describe('null removes the name'),
    description: RunDescription.nullable().optional(),
  })
  .refine((r) => r.labels !== undefined || r.name !== undefined || r.description !== undefined, {
    message: 'give labels, name or description to change',
  });
export type UpdateRunRequest = z.infer<typeof UpdateRunRequest>;

export const MAX_PAGE_SIZE = 100;

export const ListRunsQuery = z.strictObject({
  scope: z.enum(['mine', 'all']).default('mine').describe("all: every user's runs (administrators only)"),
  status: z.enum(RunStatus).optional(),
  pipeline: z.string().min(1).max(200).optional(),
  label: LabelFilter.optional().describe('only runs with this label, as key=value'),
  page: z.coerce.number().int().min(1).max(10_000).default(1),
  page_size: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(20),
  page_token: z.string().max(500).optional().describe('opaque cursor from next_page_token; overrides page'),
});
export type ListRunsQuery = z.infer<typeof ListRunsQuery>;

/** A run as the API answers it: progress with its derived counts; recoveries are GET /api/runs/{id}'s. */
export const RunView = Run.omit({ recovery_run_ids: true }).extend({
  progress: Progress,
  failed_task_exit_code: z
    .number()
    .int()
    .nullable()
    .describe(
      "the failed task's own exit code, from Nextflow's error block (137: out of memory); exit_code is Nextflow's, 1 whenever a task fails",
    ),
});
export type RunView = z.infer<typeof RunView>;

export const ListRunsResponse = z.object({
  runs: z.array(RunView),
  page: z.number().int(),
  page_size: z.number().int(),
  total: z.number().int(),
  next_page_token: z.string().nullable(),
});
export type ListRunsResponse = z.infer<typeof ListRunsResponse>;

/** How a Nextflow run is named to a person in its status events: its pipeline and version, its page. */
export function nextflowEventView(run: Pick<Run, 'run_id' | 'pipeline' | 'pipeline_version'>): RunEventView {
  return {
    kind: 'nextflow',
    title: `${run.pipeline} ${run.pipeline_version}`,
    page: `/runs/${encodeURIComponent(run.run_id)}`,
  };
}
