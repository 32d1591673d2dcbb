import { configSyntaxProblems } from '../nextflow/config-syntax';
import type { SpotPrices } from '../nextflow/metrics';
import { checkNextflowRequirement } from '../nextflow/nextflow-version';
import { type ParamWarning, paramsThatMustExist, validateParams } from '../nextflow/params';
import { getPipeline, getPipelineVersion } from '../nextflow/pipelines/registry';
import { columnsThatMustExist, samplesheetToCsv, validateSamplesheet } from '../nextflow/samplesheet';
import type { JobRunner } from '../shared/batch';
import { runPaths } from '../shared/bucket-layout';
import type { Caller } from '../shared/caller';
import {
  ConflictError,
  type FieldProblem,
  ForbiddenError,
  NotFoundError,
  UpstreamError,
  ValidationError,
} from '../shared/errors';
import { newRunId, RUN_ID_PATTERN } from '../shared/ids';
import { startExecution } from '../shared/kernel';
import type { Clock, ObjectStore, Randomness } from '../shared/ports';
import type { WorkflowArgument, WorkflowStarter } from '../shared/run-kind';
import { stopJobs } from '../shared/run-kind';
import { byteLength, checkSize, parseOrThrow } from '../shared/validation';
import { nextflowJobs } from './batch-job';
import { type BudgetPolicy, launchBudget } from './budget-policy';
import { estimateLaunch } from './cost-estimate';
import { checkInputFiles, type InputFiles, type InputPaths } from './input-files';
import { MAX_LABELS, mergeLabels } from './labels';
import type { RunHistoryEntry, RunPage, RunStore } from './ports';
import {
  CONFIG_MAX_BYTES,
  CreateRunRequest,
  emptyProgress,
  isTerminal,
  type ListRunsQuery,
  PARAMS_MAX_BYTES,
  type Run,
  SAMPLESHEET_MAX_BYTES,
  UpdateRunRequest,
} from './run-model';

export interface RunServiceDeps {
  runs: RunStore;
  objects: ObjectStore;
  clock: Clock;
  random: Randomness;
  /** Where the samplesheet's FASTQs are checked before launch. */
  inputFiles: InputFiles;
  /** The price table the cost estimate before launch uses (the same as the metrics'). */
  prices: SpotPrices;
  /** Default budgets and monthly caps an administrator set (BUDGET_POLICY). */
  budgetPolicy: BudgetPolicy;
}

/** How many sample names a run keeps for search and display. */
const MAX_STORED_SAMPLES = 500;

export function canAccess(caller: Caller, run: Pick<Run, 'user_email'>): boolean {
  return caller.is_admin || run.user_email === caller.email;
}

/** Reads a run the caller may see; another user's run is reported as missing, not forbidden. */
export async function getAccessibleRun(
  deps: Pick<RunServiceDeps, 'runs'>,
  caller: Caller,
  runId: string,
): Promise<Run> {
  const run = RUN_ID_PATTERN.test(runId) ? await deps.runs.get(runId) : null;
  if (run && canAccess(caller, run)) return run;
  const error = new NotFoundError(`Run ${runId} was not found.`);
  error.accessDenied = run !== null;
  throw error;
}

interface ValidatedInputs {
  request: CreateRunRequest;
  pipeline: string;
  version: string;
  params: Record<string, unknown>;
  warnings: string[];
  /** The warnings about one param, for its field in the form. */
  paramWarnings: ParamWarning[];
  /** The samplesheet's warnings where they are (a row, a column), for its cells in the form. */
  sheetWarnings: FieldProblem[];
  samples: string[];
  sampleCount: number;
  /** The inputs the schemas say must exist, for checkInputFiles. */
  inputPaths: InputPaths;
}

/**
 * A request with problems whose input files can still be checked: the files are looked at
 * before the answer, so every problem (cells, params and missing files) is reported at once.
 */
export class InvalidRunRequest extends ValidationError {
  constructor(
    readonly problems: FieldProblem[],
    readonly counted: number,
    readonly inputPaths: InputPaths,
    /** The samplesheet's warnings where they are: a form shows them beside the problems. */
    readonly sheetWarnings: FieldProblem[] = [],
  ) {
    super(runRequestMessage(problems, counted), problems);
    this.name = 'InvalidRunRequest';
  }
}

/** What Nextflow's config parser would refuse in a config the user gave, by line. */
export function configProblems(field: string, config: string): FieldProblem[] {
  return configSyntaxProblems(config).map((p) => ({
    field,
    rule: 'config_syntax',
    message: `${field}: ${p.message}.`,
  }));
}

function runRequestMessage(problems: FieldProblem[], counted: number): string {
  return `The run request has ${counted} problem(s): ${problems
    .filter((p) => p.rule !== 'truncated')
    .slice(0, 3)
    .map((p) => p.message)
    .join('; ')}${counted > 3 ? '; …' : ''}`;
}

/**
 * Validates a launch and checks its input files, reporting every problem together (the
 * files of rows with other problems included); answers the inputs and the paths not checked.
 */
export async function validateWithFiles(
  inputFiles: InputFiles,
  body: unknown,
  bucket: string,
  runId: string,
): Promise<{ inputs: ValidatedInputs; unchecked: string[]; inputBytes: number | null }> {
  let inputs: ValidatedInputs;
  try {
    inputs = validateCreateRequest(body, bucket, runId);
  } catch (error) {
    if (!(error instanceof InvalidRunRequest)) throw error;
    let missing: FieldProblem[] = [];
    try {
      await checkInputFiles(inputFiles, error.inputPaths);
    } catch (files) {
      if (!(files instanceof ValidationError)) throw files;
      missing = Array.isArray(files.details) ? (files.details as FieldProblem[]) : [];
    }
    // A cell already wrong in itself (a bad pattern) is not reported missing as well.
    const flagged = new Set(error.problems.map((p) => `${p.row}:${p.column}`));
    missing = missing.filter((p) => p.row === undefined || !flagged.has(`${p.row}:${p.column}`));
    if (missing.length === 0) throw error;
    // In sheet order: a problem of the whole request first, then row by row.
    const problems = [...error.problems, ...missing].sort(
      (a, b) => (a.row ?? -1) - (b.row ?? -1) || (a.column ?? '').localeCompare(b.column ?? ''),
    );
    throw new InvalidRunRequest(
      problems,
      error.counted + missing.length,
      error.inputPaths,
      error.sheetWarnings,
    );
  }
  const { unchecked, inputBytes } = await checkInputFiles(inputFiles, inputs.inputPaths);
  return { inputs, unchecked, inputBytes };
}

/** Everything that can be checked without writing anything; throws with every problem found. */
export function validateCreateRequest(body: unknown, bucket: string, runId: string): ValidatedInputs {
  if (body && typeof body === 'object') {
    const raw = body as Record<string, unknown>;
    if (typeof raw.samplesheet_csv === 'string') {
      checkSize(
        'samplesheet_csv',
        byteLength(raw.samplesheet_csv),
        SAMPLESHEET_MAX_BYTES,
        'Split the samples over several runs.',
      );
    }
    if (typeof raw.config_content === 'string') {
      checkSize(
        'config_content',
        byteLength(raw.config_content),
        CONFIG_MAX_BYTES,
        'Keep only the settings you need.',
      );
    }
    if (raw.params && typeof raw.params === 'object') {
      checkSize(
        'params',
        byteLength(JSON.stringify(raw.params)),
        PARAMS_MAX_BYTES,
        'Put large settings in config_content.',
      );
    }
  }
  const request = parseOrThrow(CreateRunRequest, body, 'run request');

  const asInvalid = <T>(field: string, lookup: () => T): T => {
    try {
      return lookup();
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      throw new ValidationError(error.message, [{ field, rule: 'known', message: error.message }]);
    }
  };
  asInvalid('pipeline', () => getPipeline(request.pipeline));
  const found = asInvalid('pipeline_version', () =>
    getPipelineVersion(request.pipeline, request.pipeline_version),
  );
  const { pipeline, release } = found;
  const paths = runPaths(bucket, runId);
  const params = validateParams(
    release.nextflowSchema,
    request.params,
    {
      input: `gs://${bucket}/${paths.samplesheet}`,
      outdir: `gs://${bucket}/${paths.results.replace(/\/$/, '')}`,
    },
    { genomes: release.igenomes },
    { allowUnknown: request.allow_unknown_params },
  );
  const sheet = validateSamplesheet(request.samplesheet_csv, release.inputSchema, request.samplesheet_format);
  // The Nextflow the release needs: refused when Nextflow itself would stop; a warning when
  // it would only warn, or when the requirement cannot be read.
  const nextflow = release.nextflowVersion ? checkNextflowRequirement(release.nextflowVersion) : null;
  const nextflowStops = nextflow?.strict === true && nextflow.satisfied === false;
  const problems: FieldProblem[] = [
    ...(nextflowStops
      ? [
          {
            field: 'pipeline_version',
            rule: 'nextflow_version',
            message: `${pipeline.name} ${release.version}: ${nextflow.message}`,
          },
        ]
      : []),
    ...params.errors,
    ...configProblems('config_content', request.config_content ?? ''),
    ...sheet.errors.map((p) => ({ ...p, field: 'samplesheet_csv' })),
  ];
  const inputPaths: InputPaths = {
    rows: sheet.cells.length > 0 ? sheet.cells : sheet.rows,
    columns: columnsThatMustExist(release.inputSchema),
    params: params.params,
    paramFields: paramsThatMustExist(release.nextflowSchema),
  };
  if (problems.length > 0) {
    const extra = sheet.error_count - sheet.errors.length;
    throw new InvalidRunRequest(
      extra > 0
        ? [
            ...problems,
            {
              field: 'samplesheet_csv',
              rule: 'truncated',
              message: `${extra} more samplesheet errors not listed`,
            },
          ]
        : problems,
      params.errors.length + sheet.error_count,
      inputPaths,
      sheet.located_warnings,
    );
  }
  return {
    request,
    pipeline: pipeline.name,
    version: release.version,
    params: params.params,
    warnings: [
      ...(nextflow && nextflow.satisfied !== true && !nextflowStops
        ? [`${pipeline.name} ${release.version}: ${nextflow.message}`]
        : []),
      ...params.warnings,
      ...sheet.warnings,
    ],
    paramWarnings: params.paramWarnings,
    sheetWarnings: sheet.located_warnings,
    samples: sheet.samples,
    sampleCount: sheet.sample_count,
    inputPaths,
  };
}

/** What a new run is made of; everything else starts empty. */
export type NewRunFields = Pick<
  Run,
  | 'run_id'
  | 'pipeline'
  | 'pipeline_version'
  | 'user_email'
  | 'user_name'
  | 'created_at'
  | 'batch_request_id'
  | 'params'
  | 'param_warnings'
  | 'config_content'
  | 'sample_count'
  | 'samples'
  | 'source_ngs_runs'
  | 'source_project'
  | 'session_id'
> &
  Partial<
    Pick<
      Run,
      | 'labels'
      | 'name'
      | 'description'
      | 'parent_run_id'
      | 'root_run_id'
      | 'is_recovery'
      | 'recovery_notes'
      | 'reused_work_dir'
      | 'attempt'
      | 'input_bytes'
      | 'cost_estimate'
      | 'budget_usd'
      | 'budget_from'
    >
  >;

/** A `pending` run record stored in `gs://{bucket}/runs/{run_id}`. */
export function newRunRecord(bucket: string, fields: NewRunFields): Run {
  const now = fields.created_at;
  return {
    run_id: fields.run_id,
    pipeline: fields.pipeline,
    pipeline_version: fields.pipeline_version,
    status: 'pending',
    user_email: fields.user_email,
    user_name: fields.user_name,
    created_at: now,
    updated_at: now,
    submitted_at: null,
    started_at: null,
    completed_at: null,
    failed_at: null,
    cancelled_at: null,
    gcs_path: runPaths(bucket, fields.run_id).gcsPath,
    batch_job_name: null,
    batch_request_id: fields.batch_request_id,
    params: fields.params,
    param_warnings: fields.param_warnings,
    config_content: fields.config_content,
    sample_count: fields.sample_count,
    samples: fields.samples.slice(0, MAX_STORED_SAMPLES),
    source_ngs_runs: fields.source_ngs_runs,
    source_project: fields.source_project,
    parent_run_id: fields.parent_run_id ?? null,
    recovery_run_ids: [],
    root_run_id: fields.root_run_id ?? fields.run_id,
    is_recovery: fields.is_recovery ?? false,
    recovery_notes: fields.recovery_notes ?? null,
    reused_work_dir: fields.reused_work_dir ?? false,
    exit_code: null,
    error_message: null,
    error_task: null,
    error_detail: null,
    metrics: null,
    input_bytes: fields.input_bytes ?? null,
    cost_estimate: fields.cost_estimate ?? null,
    work_dir: null,
    budget_usd: fields.budget_usd ?? null,
    budget_from: fields.budget_from ?? null,
    accrued_usd: 0,
    budget_warned_at: null,
    progress: emptyProgress(),
    executor: null,
    session_id: fields.session_id,
    // Nextflow wants a new name for every launch of a session; the run id is one.
    run_name: fields.run_id,
    attempt: fields.attempt ?? 1,
    orchestrator_attempt: 1,
    orchestrator_retries: [],
    attempt_progress: {},
    workflow_execution: null,
    labels: fields.labels ?? {},
    name: fields.name ?? null,
    description: fields.description ?? null,
    queue: null,
    ingest: {},
  };
}

/** Validates, stores the samplesheet and a `pending` run. Nothing is written if anything is invalid. */
export async function createRun(deps: RunServiceDeps, caller: Caller, body: unknown): Promise<Run> {
  const runId = newRunId(deps.random.bytes);
  const { inputs, unchecked, inputBytes } = await validateWithFiles(
    deps.inputFiles,
    body,
    deps.objects.bucket,
    runId,
  );
  const paths = runPaths(deps.objects.bucket, runId);
  const estimate = await estimateLaunch(deps, inputs, inputBytes);
  const { budget, from, refused } = await launchBudget(deps, caller.email, inputs.request, estimate);
  if (refused)
    throw new ConflictError(refused, { budget_usd: budget, estimate_low_usd: estimate.cost_usd?.low });

  // Stored as CSV, whatever format it came in: that is what the pipeline reads.
  await deps.objects.write(
    paths.requestSamplesheet,
    samplesheetToCsv(inputs.request.samplesheet_csv, inputs.request.samplesheet_format),
    'text/csv',
  );
  const run = newRunRecord(deps.objects.bucket, {
    run_id: runId,
    pipeline: inputs.pipeline,
    pipeline_version: inputs.version,
    user_email: caller.email,
    user_name: caller.name,
    created_at: deps.clock.now().toISOString(),
    batch_request_id: deps.random.uuid(),
    params: inputs.params,
    param_warnings: [...inputs.warnings, ...unchecked],
    config_content: inputs.request.config_content ?? '',
    sample_count: inputs.sampleCount,
    samples: inputs.samples,
    source_ngs_runs: inputs.request.source_ngs_runs ?? [],
    source_project: inputs.request.source_project ?? null,
    session_id: deps.random.uuid(),
    labels: inputs.request.labels ?? {},
    name: inputs.request.name ?? null,
    description: inputs.request.description || null,
    input_bytes: inputBytes,
    cost_estimate: estimate,
    budget_usd: budget,
    budget_from: from,
  });
  await deps.runs.create(run);
  return run;
}

export async function listRuns(
  deps: Pick<RunServiceDeps, 'runs'>,
  caller: Caller,
  query: ListRunsQuery,
): Promise<RunPage> {
  if (query.scope === 'all' && !caller.is_admin) {
    throw new ForbiddenError(
      "Only administrators can list everyone's runs (scope=all); drop scope to list your own.",
    );
  }
  return deps.runs.list(
    {
      user_email: query.scope === 'all' ? undefined : caller.email,
      status: query.status,
      pipeline: query.pipeline,
      label: query.label,
    },
    { page: query.page, page_size: query.page_size, page_token: query.page_token },
  );
}

export async function getRunWithHistory(
  deps: Pick<RunServiceDeps, 'runs'>,
  caller: Caller,
  runId: string,
  includeEvents: boolean,
): Promise<Run & { recoveries: string[]; events?: RunHistoryEntry[] }> {
  const run = await getAccessibleRun(deps, caller, runId);
  const [recoveries, events] = await Promise.all([
    // Recoveries record themselves on their parent; only runs stored before that need the query.
    run.recovery_run_ids ?? deps.runs.recoveriesOf(runId),
    includeEvents ? deps.runs.history(runId) : undefined,
  ]);
  return { ...run, recoveries, ...(events ? { events } : {}) };
}

export interface LaunchDeps extends RunServiceDeps {
  workflows: WorkflowStarter;
  workflowArgument: (runId: string) => WorkflowArgument;
}

/**
 * Creates the run, then starts its run-pipeline execution. If the execution cannot be
 * started the run is marked failed with the reason (it is kept: nothing the user sent is lost).
 */
export async function launchRun(
  deps: LaunchDeps,
  caller: Caller,
  body: unknown,
): Promise<{ run: Run; startError: string | null }> {
  const run = await createRun(deps, caller, body);
  return startRunWorkflow(deps, run);
}

export function startRunWorkflow(
  deps: LaunchDeps,
  run: Run,
): Promise<{ run: Run; startError: string | null }> {
  return startExecution(deps, deps.runs, run);
}

export interface CancelDeps {
  runs: RunStore;
  clock: Clock;
  jobs: JobRunner;
}

async function stopJob(deps: CancelDeps, run: Run): Promise<void> {
  try {
    await stopJobs(deps.jobs, nextflowJobs(run));
  } catch (error) {
    throw new UpstreamError(
      `Run ${run.run_id} is cancelled, but Batch did not confirm stopping job ${run.batch_job_name}. Send DELETE again to retry.`,
      { cause: error },
    );
  }
}

/**
 * Cancels a run that has not finished and stops its Batch job. Cancelling a cancelled run
 * returns it (and asks Batch again to stop the job: DELETE is idempotent and retryable);
 * a completed or failed run cannot be cancelled.
 */
export async function cancelRun(deps: CancelDeps, caller: Caller, runId: string): Promise<Run> {
  const run = await getAccessibleRun(deps, caller, runId);
  const conflict = (status: string) =>
    new ConflictError(
      `Run ${runId} is already ${status}; only pending, submitted or running runs can be cancelled.`,
      {
        status,
      },
    );
  if (run.status !== 'cancelled' && isTerminal(run.status)) throw conflict(run.status);
  let current = run;
  if (run.status !== 'cancelled') {
    const result = await deps.runs.apply(runId, {
      to: 'cancelled',
      at: deps.clock.now().toISOString(),
      source: 'api',
      detail: `Cancelled by ${caller.email}`,
    });
    if (!result) throw new NotFoundError(`Run ${runId} was not found.`);
    if (result.run.status !== 'cancelled') throw conflict(result.run.status);
    current = result.run;
  }
  await stopJob(deps, current);
  return current;
}

/** PATCH: changes a run's labels (its own or, for an administrator, anyone's). */
export async function updateRun(
  deps: Pick<RunServiceDeps, 'runs'>,
  caller: Caller,
  runId: string,
  body: unknown,
): Promise<Run> {
  // Someone else's run is "not found" whatever the body, as for every run route.
  const run = await getAccessibleRun(deps, caller, runId);
  const request = parseOrThrow(UpdateRunRequest, body, 'run update');
  const labels = mergeLabels(run.labels, request.labels ?? {});
  const count = Object.keys(labels).length;
  if (count > MAX_LABELS) {
    throw new ValidationError(
      `A run has at most ${MAX_LABELS} labels; this change would leave ${count}. Remove some with "key": null.`,
      [{ field: 'labels', rule: 'max_labels', message: `at most ${MAX_LABELS} labels (would be ${count})` }],
    );
  }
  const changes = {
    labels,
    ...(request.name !== undefined ? { name: request.name } : {}),
    ...(request.description !== undefined ? { description: request.description || null } : {}),
  };
  if (!(await deps.runs.setFields(runId, changes))) throw new NotFoundError(`Run ${runId} was not found.`);
  return { ...run, ...changes };
}

/** The samplesheet as the run was launched with it (CSV), for "Relaunch with changes". */
export async function runSamplesheet(
  deps: Pick<RunServiceDeps, 'runs' | 'objects'>,
  caller: Caller,
  runId: string,
): Promise<{ run_id: string; samplesheet_csv: string }> {
  const run = await getAccessibleRun(deps, caller, runId);
  const name = runPaths(deps.objects.bucket, run.run_id).requestSamplesheet;
  if (!(await deps.objects.exists(name)))
    throw new NotFoundError(`The samplesheet of run ${run.run_id} is gone; build a new one.`);
  return { run_id: run.run_id, samplesheet_csv: (await deps.objects.read(name)).toString('utf8') };
}
