/**
 * HAYSTACK runs on the platform: create, list, read, cancel, results, and the questions the
 * page asks before a launch (is a synthetic control possible? what is in the atlas?). Another
 * user's run is "not found", as for Nextflow runs.
 */
import type { JobRunner } from '../shared/batch';
import { haystackPaths } from '../shared/bucket-layout';
import type { Caller } from '../shared/caller';
import { ConflictError, ForbiddenError, NotFoundError, UpstreamError } from '../shared/errors';
import { type StartDeps, startExecution } from '../shared/kernel';
import type { Clock, ObjectStore, Randomness } from '../shared/ports';
import { stopJobs } from '../shared/run-kind';
import { isTerminal } from '../shared/run-status';
import { parseOrThrow } from '../shared/validation';
import type { AtlasCatalog } from './catalog';
import { haystackJobs } from './execution';
import { type ControlCheck, checkControls } from './loop';
import type { HaystackRunStore, QueryInterpreter } from './ports';
import { understandingOf } from './progress';
import {
  CreateHaystackRunRequest,
  type HaystackRun,
  type ListHaystackRunsQuery,
  newHaystackRun,
  newHaystackRunId,
  type Understanding,
  ValidateControlRequest,
} from './run-model';
import { STANDIN_MODEL } from './standin';
import { CELL_TYPES, DATASET_DEFINITIONS, DATASETS, type DatasetName } from './vocabulary';

export interface HaystackServiceDeps {
  haystackRuns: HaystackRunStore;
  objects: ObjectStore;
  clock: Clock;
  random: Randomness;
  interpreter: QueryInterpreter;
  /** The atlas, built on first use (it takes a moment and some memory). */
  catalog(): AtlasCatalog;
  signedUrlTtlSeconds: number;
  /** The run-pipeline workflow every run starts. */
  workflows: StartDeps['workflows'];
  workflowArgument: StartDeps['workflowArgument'];
  /** Batch: a cancel stops the run's jobs. */
  jobs: Pick<JobRunner, 'cancelJob'>;
}

export async function createHaystackRun(
  deps: HaystackServiceDeps,
  caller: Caller,
  body: unknown,
): Promise<HaystackRun> {
  const request = parseOrThrow(CreateHaystackRunRequest, body, 'HAYSTACK run request');
  const now = deps.clock.now().toISOString();
  const runId = newHaystackRunId(deps.random.bytes);
  const run = newHaystackRun({
    run_id: runId,
    user_email: caller.email,
    request,
    created_at: now,
    bucket: deps.objects.bucket,
    batch_request_id: deps.random.uuid(),
    model: STANDIN_MODEL,
  });
  await deps.haystackRuns.create(run);
  const started = await startExecution(deps, deps.haystackRuns, run);
  if (started.startError !== null)
    throw new UpstreamError(
      'HAYSTACK could not start the run: the workflow service did not answer. Ask again in a minute.',
      { cause: new Error(started.startError) },
    );
  return started.run;
}

/** The caller's run; another user's is reported missing (and flagged for the audit log). */
export async function getHaystackRun(
  deps: Pick<HaystackServiceDeps, 'haystackRuns'>,
  caller: Caller,
  runId: string,
): Promise<HaystackRun> {
  const run = await deps.haystackRuns.get(runId);
  if (run && (caller.is_admin || run.user_email === caller.email)) return run;
  const error = new NotFoundError(`HAYSTACK run ${runId} was not found.`);
  error.accessDenied = run !== null;
  throw error;
}

export async function listHaystackRuns(
  deps: Pick<HaystackServiceDeps, 'haystackRuns'>,
  caller: Caller,
  query: ListHaystackRunsQuery,
) {
  if (query.scope === 'all' && !caller.is_admin)
    throw new ForbiddenError(
      "Only administrators can list everyone's runs (scope=all); drop scope to list your own.",
    );
  const { runs, total } = await deps.haystackRuns.list(
    { user_email: query.scope === 'all' ? undefined : caller.email, status: query.status },
    { page: query.page, page_size: query.page_size },
  );
  return { runs, total, page: query.page, page_size: query.page_size };
}

/**
 * Idempotent: a run already ended is answered as it is. A cancelled run has every Batch job it
 * started stopped (asked again, jobs already gone are left alone).
 */
export async function cancelHaystackRun(
  deps: Pick<HaystackServiceDeps, 'haystackRuns' | 'clock' | 'jobs'>,
  caller: Caller,
  runId: string,
): Promise<HaystackRun> {
  const run = await getHaystackRun(deps, caller, runId);
  const result = isTerminal(run.status)
    ? { run }
    : await deps.haystackRuns.apply(runId, {
        to: 'cancelled',
        at: deps.clock.now().toISOString(),
        source: 'api',
        detail: `Cancelled by ${caller.email}`,
      });
  if (!result) throw new NotFoundError(`HAYSTACK run ${runId} was not found.`);
  if (result.run.status === 'cancelled') {
    try {
      await stopJobs(deps.jobs, haystackJobs(result.run));
    } catch (error) {
      throw new UpstreamError(
        `HAYSTACK run ${runId} is cancelled, but Batch did not confirm stopping its jobs. Cancel again to retry.`,
        { cause: error },
      );
    }
  }
  return result.run;
}

/** Signed URLs of the three outputs; 409 naming the status until the run completed. */
export async function haystackResult(
  deps: Pick<HaystackServiceDeps, 'haystackRuns' | 'objects' | 'signedUrlTtlSeconds'>,
  caller: Caller,
  runId: string,
) {
  const run = await getHaystackRun(deps, caller, runId);
  if (run.status !== 'completed')
    throw new ConflictError(
      `HAYSTACK run ${runId} is ${run.status}: its results exist once it has completed.`,
      { status: run.status },
    );
  const paths = haystackPaths(runId);
  const sign = (name: string, file: string, inlineType?: string) =>
    deps.objects.signedUrl(name, deps.signedUrlTtlSeconds, file, inlineType);
  const [anndata, report, log] = await Promise.all([
    sign(paths.predictions, `${runId}_predictions.h5ad`),
    // The report opens in the browser, from Cloud Storage's origin (not the app's).
    sign(paths.report, `${runId}_report.html`, 'text/html; charset=utf-8'),
    sign(paths.log, `${runId}_log.json`),
  ]);
  return {
    run_id: runId,
    anndata_url: anndata,
    report_url: report,
    log_url: log,
    expires_in_seconds: deps.signedUrlTtlSeconds,
    final_score: run.final_score,
    termination_reason: run.termination_reason,
    dataset_kind: run.dataset_kind,
    model: run.model,
  };
}

/** POST /api/v1/validate-control-strategy: whether a synthetic control is possible, and who read the question. */
export type ControlCheckView = ControlCheck &
  Understanding & { dataset_kind: 'synthetic'; interpreter: 'claude' | 'rules' };

export async function validateControlStrategy(
  deps: Pick<HaystackServiceDeps, 'interpreter' | 'catalog'>,
  body: unknown,
): Promise<ControlCheckView> {
  const request = parseOrThrow(ValidateControlRequest, body, 'control-strategy check');
  const structured = await deps.interpreter.interpret(request.query, request.dataset);
  return {
    ...checkControls(deps.catalog(), structured),
    ...understandingOf(structured),
    dataset_kind: 'synthetic',
  };
}

const datasetsOf = (dataset: DatasetName | undefined) => (dataset ? [dataset] : [...DATASETS]);

export function metadataDatasets() {
  return {
    datasets: DATASETS.map((name) => ({
      name,
      title: DATASET_DEFINITIONS[name].title,
      dataset_kind: 'synthetic' as const,
      conditions: DATASET_DEFINITIONS[name].conditions.length,
      controls: DATASET_DEFINITIONS[name].controls,
      cell_types: DATASET_DEFINITIONS[name].cell_types.length,
      donors: DATASET_DEFINITIONS[name].donors.length,
    })),
  };
}

export function metadataPerturbations(dataset?: DatasetName) {
  return {
    perturbations: datasetsOf(dataset).flatMap((name) =>
      DATASET_DEFINITIONS[name].conditions.map((condition) => ({
        dataset: name,
        name: condition,
        is_control: DATASET_DEFINITIONS[name].controls.includes(condition),
      })),
    ),
  };
}

export function metadataCellTypes(dataset?: DatasetName) {
  return {
    cell_types: datasetsOf(dataset).flatMap((name) =>
      DATASET_DEFINITIONS[name].cell_types.map((t) => ({
        dataset: name,
        label: t.label,
        name: t.cell_type.name,
        ontology_id: t.cell_type.ontology_id,
        tissue: t.tissue,
      })),
    ),
    ontology: Object.values(CELL_TYPES).map((t) => ({ name: t.name, ontology_id: t.ontology_id })),
  };
}
