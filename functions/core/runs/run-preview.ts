/**
 * A dry run of POST /api/runs: everything a launch would check and render, nothing written.
 * The page's wizard calls it as the user types, so its samplesheet and params steps show the
 * same problems (row, column, param) the launch would refuse, and its review step shows the
 * exact config and params that will be submitted.
 */

import type { SpotPrices } from '../nextflow/metrics';
import {
  type NextflowConfigSettings,
  renderNextflowConfig,
  renderParamsYaml,
} from '../nextflow/nextflow-config';
import type { ParamWarning } from '../nextflow/params';
import type { Caller } from '../shared/caller';
import { type FieldProblem, ValidationError } from '../shared/errors';
import type { Clock } from '../shared/ports';
import { type BudgetPolicy, launchBudget } from './budget-policy';
import { type CostEstimate, estimateLaunch } from './cost-estimate';
import type { InputFiles } from './input-files';
import type { RunStore } from './ports';
import { InvalidRunRequest, validateWithFiles } from './run-service';

/** Stands in for the run id, which is assigned at launch. */
export const RUN_ID_PLACEHOLDER = '{run_id}';

export interface RunPreviewDeps {
  bucket: string;
  inputFiles: InputFiles;
  nextflowSettings: Omit<NextflowConfigSettings, 'runId'>;
  /** The completed runs the cost estimate learns from; the caller's spending this month. */
  runs: Pick<RunStore, 'list' | 'spentSince'>;
  prices: SpotPrices;
  budgetPolicy: BudgetPolicy;
  clock: Clock;
}

export type RunPreview =
  | {
      valid: true;
      pipeline: string;
      pipeline_version: string;
      params: Record<string, unknown>;
      params_yaml: string;
      nextflow_config: string;
      sample_count: number;
      samples: string[];
      warnings: string[];
      /** The warnings that belong to one param (an unknown name, a genome the config lacks). */
      param_warnings: ParamWarning[];
      /** The samplesheet's warnings where they are: row 0 is the header. */
      samplesheet_warnings: FieldProblem[];
      /** What the run will cost, from the lab's completed runs (or a labelled prior, or none). */
      estimate: CostEstimate;
      /** The budget the run would get when the request names none (BUDGET_POLICY), and from where. */
      default_budget: { usd: number; from: string } | null;
    }
  | { valid: false; message: string; problems: FieldProblem[]; samplesheet_warnings: FieldProblem[] };

export async function previewRun(deps: RunPreviewDeps, caller: Caller, body: unknown): Promise<RunPreview> {
  try {
    const { inputs, unchecked, inputBytes } = await validateWithFiles(
      deps.inputFiles,
      body,
      deps.bucket,
      RUN_ID_PLACEHOLDER,
    );
    const estimate = await estimateLaunch(deps, inputs, inputBytes);
    // Refused as the launch would refuse it (409 there): the budget cannot cover the estimate's
    // low end, or the caller's monthly cap cannot.
    const { refused, budget, from } = await launchBudget(deps, caller.email, inputs.request, estimate);
    if (refused)
      return {
        valid: false,
        message: refused,
        problems: [{ field: 'budget_usd', rule: 'budget', message: refused }],
        samplesheet_warnings: inputs.sheetWarnings,
      };
    return {
      valid: true,
      pipeline: inputs.pipeline,
      pipeline_version: inputs.version,
      params: inputs.params,
      params_yaml: renderParamsYaml(inputs.params),
      nextflow_config: renderNextflowConfig(
        { ...deps.nextflowSettings, runId: RUN_ID_PLACEHOLDER },
        inputs.request.config_content ?? '',
      ),
      sample_count: inputs.sampleCount,
      samples: inputs.samples,
      warnings: [...inputs.warnings, ...unchecked],
      param_warnings: inputs.paramWarnings,
      samplesheet_warnings: inputs.sheetWarnings,
      estimate,
      default_budget: budget !== null && from !== null ? { usd: budget, from } : null,
    };
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const problems = Array.isArray(error.details) ? (error.details as FieldProblem[]) : [];
    const samplesheet_warnings = error instanceof InvalidRunRequest ? error.sheetWarnings : [];
    return { valid: false, message: error.message, problems, samplesheet_warnings };
  }
}
