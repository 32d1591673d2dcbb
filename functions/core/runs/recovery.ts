/**
 * Recovery (ARCHITECTURE §3, §4, §6): a failed or cancelled run is launched again as a new
 * run of the same recovery chain. With `reuse_work_dir` it resumes the root run's Nextflow
 * session in the root's work dir and cloud cache, so tasks that finished before are CACHED;
 * without, it is a clean rerun in a new session that keeps the link to its parent.
 */

import { PLATFORM_PARAMS, validateParams } from '../nextflow/params';
import { getPipelineVersion } from '../nextflow/pipelines/registry';
import { sampleIdColumn } from '../nextflow/sample-attribution';
import { rowsBySample, samplesheetOfSamples } from '../nextflow/samplesheet';
import { runPaths } from '../shared/bucket-layout';
import type { Caller } from '../shared/caller';
import { ConflictError, type FieldProblem, NotFoundError, ValidationError } from '../shared/errors';
import { newRunId } from '../shared/ids';
import type { JsonSchema } from '../shared/json-schema';
import { checkSize, parseOrThrow } from '../shared/validation';
import { monthlyCap, monthStart, overMonthlyCap } from './budget-policy';
import { CONFIG_MAX_BYTES, PARAMS_MAX_BYTES, RecoverRunRequest, type Run } from './run-model';
import { samplesThatFailed } from './run-samples';
import {
  configProblems,
  getAccessibleRun,
  type LaunchDeps,
  newRunRecord,
  startRunWorkflow,
} from './run-service';

export interface RecoveryDeps extends LaunchDeps {
  /** Days the bucket keeps work/ and cache/ (its lifecycle rule). */
  workRetentionDays: number;
}

export const RECOVERABLE: readonly string[] = ['failed', 'cancelled'];

/**
 * JSON Merge Patch (RFC 7386) of params: a value replaces the parent's, `null` removes the
 * param (the pipeline default applies again). `input` and `outdir` are the platform's.
 */
export function mergeParams(
  parent: Record<string, unknown>,
  overrides: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (!(PLATFORM_PARAMS as readonly string[]).includes(name)) merged[name] = value;
  }
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (value === null) delete merged[name];
    else merged[name] = value;
  }
  return merged;
}

function checkRecoverable(parent: Run): void {
  if (RECOVERABLE.includes(parent.status)) return;
  const hint =
    parent.status === 'completed'
      ? 'A completed run has nothing to recover; launch a new run to run it again.'
      : 'Wait for it to end, or cancel it first.';
  throw new ConflictError(
    `Run ${parent.run_id} is ${parent.status}; only failed or cancelled runs can be recovered. ${hint}`,
    { status: parent.status },
  );
}

/**
 * Refuses to resume in a work dir someone freed, or is freeing: checked again when the chain is
 * claimed, so a free that started meanwhile is seen.
 */
async function refuseFreedWorkDir(deps: Pick<RecoveryDeps, 'runs'>, parent: Run): Promise<void> {
  // Read now, not from `parent`: the guard runs again after a claim, and must see a free begun since.
  const state = (await deps.runs.get(parent.root_run_id))?.work_dir;
  if (!state?.freeing_since && !state?.freed_at) return;
  throw new ConflictError(
    `The work directory of run ${parent.root_run_id} was ${state.freed_at ? 'freed' : 'being freed'} at ${state.freed_at ?? state.freeing_since}${state.freed_by ? ` by ${state.freed_by}` : ''}, so there is nothing to resume. ` +
      `Send "reuse_work_dir": false to run the pipeline again from the start, as a fresh run linked to ${parent.run_id}.`,
    { freed_at: state.freed_at, freeing_since: state.freeing_since },
  );
}

async function checkWorkDir(deps: RecoveryDeps, parent: Run): Promise<void> {
  await refuseFreedWorkDir(deps, parent);
  const workDir = runPaths(deps.objects.bucket, parent.root_run_id, parent.root_run_id).workDir;
  const { objects } = await deps.objects.list(workDir, 1);
  if (objects.length > 0) return;
  throw new ConflictError(
    `The work directory gs://${deps.objects.bucket}/${workDir} of run ${parent.root_run_id} no longer exists: ` +
      `work directories are deleted ${deps.workRetentionDays} days after they are written (or the run never started a task), so there is nothing to resume. ` +
      `Send "reuse_work_dir": false to run the pipeline again from the start, as a fresh run linked to ${parent.run_id}.`,
    { work_dir: `gs://${deps.objects.bucket}/${workDir}`, retention_days: deps.workRetentionDays },
  );
}

/** Params and config of the recovery, validated exactly as on create (the assistant's proposals too). */
export function recoveryInputs(
  parent: Run,
  request: RecoverRunRequest,
  bucket: string,
  runId: string,
): { params: Record<string, unknown>; warnings: string[]; config: string; inputSchema: JsonSchema } {
  if (request.override_config !== undefined) {
    checkSize(
      'override_config',
      Buffer.byteLength(request.override_config),
      CONFIG_MAX_BYTES,
      'Keep only the settings you need.',
    );
  }
  if (request.override_params !== undefined) {
    checkSize(
      'override_params',
      Buffer.byteLength(JSON.stringify(request.override_params)),
      PARAMS_MAX_BYTES,
      'Put large settings in override_config.',
    );
  }
  let release: ReturnType<typeof getPipelineVersion>['release'];
  try {
    release = getPipelineVersion(parent.pipeline, parent.pipeline_version).release;
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new ConflictError(
      `Run ${parent.run_id} used ${parent.pipeline} ${parent.pipeline_version}, which this platform no longer offers; launch a new run with a current version.`,
    );
  }
  const paths = runPaths(bucket, runId);
  const validated = validateParams(
    release.nextflowSchema,
    mergeParams(parent.params, request.override_params),
    {
      input: `gs://${bucket}/${paths.samplesheet}`,
      outdir: `gs://${bucket}/${paths.results.replace(/\/$/, '')}`,
    },
    { genomes: release.igenomes },
    { allowUnknown: request.allow_unknown_params, newNames: Object.keys(request.override_params ?? {}) },
  );
  const configErrors =
    request.override_config === undefined ? [] : configProblems('override_config', request.override_config);
  if (validated.errors.length > 0 || configErrors.length > 0) {
    const problems: FieldProblem[] = [
      ...validated.errors.map((p) => ({
        ...p,
        field: p.field?.replace(/^params/, 'override_params') ?? 'override_params',
      })),
      ...configErrors,
    ];
    throw new ValidationError(
      `The recovery's params have ${problems.length} problem(s): ${problems
        .slice(0, 3)
        .map((p) => p.message)
        .join('; ')}${problems.length > 3 ? '; …' : ''}`,
      problems,
    );
  }
  return {
    params: validated.params,
    warnings: validated.warnings,
    config: request.override_config ?? parent.config_content,
    inputSchema: release.inputSchema,
  };
}

/**
 * The samplesheet of a recovery of some samples (`samples`, or `failed_samples`): the parent's
 * rows of those samples only. Null when the request names none (every sample is recovered).
 */
async function chosenSamples(
  deps: Pick<RecoveryDeps, 'runs'>,
  parent: Run,
  request: RecoverRunRequest,
  csv: string,
  inputSchema: JsonSchema,
): Promise<{ csv: string; samples: string[] } | null> {
  if (request.samples && request.failed_samples)
    throw new ValidationError('Give samples or failed_samples, not both.', [
      { field: 'failed_samples', rule: 'exclusive', message: 'samples already names the samples to recover' },
    ]);
  if (!request.samples && !request.failed_samples) return null;
  const idColumn = sampleIdColumn(inputSchema);
  const present = rowsBySample(csv, idColumn);
  let chosen: string[];
  if (request.failed_samples) {
    chosen = await samplesThatFailed(deps.runs, parent);
    if (chosen.length === 0)
      throw new ConflictError(
        `No sample of run ${parent.run_id} failed: none of its tasks failed for good. Recover the whole run instead (leave failed_samples out).`,
      );
  } else {
    chosen = [...new Set(request.samples)];
    const unknown = chosen.filter((sample) => !present.has(sample));
    if (unknown.length > 0)
      throw new ValidationError(
        `${unknown.length === 1 ? 'Sample' : 'Samples'} ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''} ${unknown.length === 1 ? 'is' : 'are'} not in the samplesheet of run ${parent.run_id}${idColumn ? ` (column ${idColumn})` : ''}; its samples are ${[...present.keys()].slice(0, 10).join(', ')}${present.size > 10 ? ', …' : ''}.`,
        unknown.map((sample) => ({
          field: 'samples',
          rule: 'unknown_sample',
          message: `${sample} is not a sample of this run`,
        })),
      );
  }
  const keep = new Set(chosen);
  const samples = [...present.keys()].filter((s) => keep.has(s));
  if (samples.length === 0)
    throw new ConflictError(
      `The samples to recover (${chosen.slice(0, 5).join(', ')}) have no rows in the samplesheet of run ${parent.run_id}; recover the whole run instead.`,
    );
  return { csv: samplesheetOfSamples(csv, idColumn, keep), samples };
}

/** What a recovery of a run will be, checked as the recovery itself checks it (also for a dry run). */
export interface RecoveryPlan {
  request: RecoverRunRequest;
  parent: Run;
  runId: string;
  inputs: ReturnType<typeof recoveryInputs>;
  samplesheet: Buffer;
  /** The samples kept (a recovery of some samples), or null: every sample. */
  subset: { csv: string; samples: string[] } | null;
}

/** Checks a recovery request against its run, as POST /recover does, writing nothing. */
export async function planRecovery(
  deps: RecoveryDeps,
  caller: Caller,
  parentId: string,
  body: unknown,
): Promise<RecoveryPlan> {
  // The body first: a malformed request costs no read, and says nothing about the run.
  const request = parseOrThrow(RecoverRunRequest, body ?? {}, 'recovery request');
  const parent = await getAccessibleRun(deps, caller, parentId);
  checkRecoverable(parent);
  if (request.reuse_work_dir) await checkWorkDir(deps, parent);

  const runId = newRunId(deps.random.bytes);
  const inputs = recoveryInputs(parent, request, deps.objects.bucket, runId);
  const parentPaths = runPaths(deps.objects.bucket, parent.run_id);
  let samplesheet: Buffer;
  try {
    samplesheet = await deps.objects.read(parentPaths.requestSamplesheet);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 404) throw error;
    throw new ConflictError(
      `The samplesheet of run ${parent.run_id} (gs://${deps.objects.bucket}/${parentPaths.requestSamplesheet}) is gone, so its inputs cannot be reused; launch a new run.`,
    );
  }
  const subset = await chosenSamples(deps, parent, request, samplesheet.toString('utf8'), inputs.inputSchema);
  return { request, parent, runId, inputs, samplesheet, subset };
}

/**
 * Refuses a recovery while another run of the chain is pending, submitted or running: one that
 * recovers the same parent, or (resuming) one using the chain's work dir.
 */
export async function refuseWhileChainActive(
  deps: Pick<RecoveryDeps, 'runs'>,
  parent: Run,
  reuse: boolean,
): Promise<void> {
  const active = [
    ...(await deps.runs.findActive('parent_run_id', parent.run_id)),
    ...(reuse ? await deps.runs.findActive('root_run_id', parent.root_run_id) : []),
  ];
  if (reuse) await refuseFreedWorkDir(deps, parent);
  if (active.length === 0) return;
  const other = active[0]!;
  throw new ConflictError(
    `Run ${other.run_id} (${other.status}) is already ${other.parent_run_id === parent.run_id ? `recovering ${parent.run_id}` : `using the work directory of run ${parent.root_run_id}`}; wait for it to end or cancel it before recovering again.`,
    { active_run_id: other.run_id, status: other.status },
  );
}

/**
 * POST /api/runs/{id}/recover. One active run per chain at a time: a second recovery while
 * one is pending, submitted or running (a double click, a retried request) is refused with
 * the id of the active one, so two Nextflow processes never share a session's work dir.
 */
export async function recoverRun(
  deps: RecoveryDeps,
  caller: Caller,
  parentId: string,
  body: unknown,
): Promise<{ run: Run; startError: string | null }> {
  const { request, parent, runId, inputs, samplesheet, subset } = await planRecovery(
    deps,
    caller,
    parentId,
    body,
  );
  // A recovery spends too: refused once the owner's spending this month is over their cap (what
  // it will cost is not known before -resume decides, so only what was spent counts).
  const cap = monthlyCap(deps.budgetPolicy, parent.user_email);
  if (cap !== null) {
    const now = deps.clock.now();
    const spent = await deps.runs.spentSince(parent.user_email, monthStart(now).toISOString());
    const refused = overMonthlyCap(cap, spent, null, now);
    if (refused) throw new ConflictError(refused, { monthly_cap_usd: cap, spent_usd: spent });
  }
  await deps.objects.write(
    runPaths(deps.objects.bucket, runId).requestSamplesheet,
    subset ? subset.csv : samplesheet,
    'text/csv',
  );

  const reuse = request.reuse_work_dir;
  const run = newRunRecord(deps.objects.bucket, {
    run_id: runId,
    pipeline: parent.pipeline,
    pipeline_version: parent.pipeline_version,
    user_email: parent.user_email,
    user_name: parent.user_name,
    created_at: deps.clock.now().toISOString(),
    batch_request_id: deps.random.uuid(),
    params: inputs.params,
    param_warnings: inputs.warnings,
    config_content: inputs.config,
    sample_count: subset ? subset.samples.length : parent.sample_count,
    samples: subset ? subset.samples : parent.samples,
    source_ngs_runs: parent.source_ngs_runs,
    source_project: parent.source_project,
    session_id: reuse ? parent.session_id : deps.random.uuid(),
    parent_run_id: parent.run_id,
    root_run_id: reuse ? parent.root_run_id : runId,
    is_recovery: true,
    recovery_notes: request.notes ?? null,
    reused_work_dir: reuse,
    attempt: parent.attempt + 1,
    // A recovery is the same work: it is billed and found under the same labels.
    labels: parent.labels,
    name: parent.name,
    description: parent.description,
    // Its own budget (a run the budget stopped resumes with a higher one), else the run's.
    budget_usd: request.budget_usd === undefined ? parent.budget_usd : request.budget_usd,
  });
  const only = subset
    ? `, only ${subset.samples.length === 1 ? 'sample' : 'samples'} ${subset.samples.join(', ')}`
    : '';
  const detail = `Recovery of ${parent.run_id} by ${caller.email}${only}${reuse ? `, resuming session ${parent.session_id} in work/${parent.root_run_id}/` : ', from the start in a new session'}`;
  await deps.runs.createInChain(run, parent.root_run_id, detail, () =>
    refuseWhileChainActive(deps, parent, reuse),
  );
  return startRunWorkflow(deps, run);
}
