/**
 * A HAYSTACK run as pure code over ports: interpret the question, pick query cells, then per
 * iteration choose a prompt, run the model (twice with a synthetic control), evaluate (DE,
 * enrichment, grounding) and decide whether to go on. Stops at the score threshold, after
 * max_iterations, on a plateau (no gain of 1 over 3 iterations), when no untried prompt is
 * left, on cancel, or on error; `termination_reason` says which.
 */
import { type AnnData, log1pCp10k, stringColumn, subsetCells } from './anndata';
import type { AtlasCatalog } from './catalog';
import { overRepresentation } from './enrichment';
import { hallmarkSets } from './gene-sets';
import { type PredictionModel, RunCancelled, type RunProgress } from './ports';
import type { QueryInterpreter, StructuredQuery } from './query';
import { type Grounding, grounding } from './scores';
import { differentialExpression, type GeneDE } from './stats';
import { candidatePrompts, nextPrompt, type Prompt } from './strategies';
import { CELL_TYPES, DATASET_DEFINITIONS, type DatasetName } from './vocabulary';

export {
  CONTROL_STRATEGIES,
  type ControlStrategy,
  PHASES,
  type Phase,
  TERMINATION_REASONS,
  type TerminationReason,
} from './phases';

import type { ControlStrategy, Phase, TerminationReason } from './phases';

export interface HaystackRequest {
  query: string;
  control_strategy: ControlStrategy;
  max_iterations: number;
  score_threshold: number;
  dataset?: DatasetName;
  seed: number;
  /** Query cells taken at most. */
  max_query_cells?: number;
}

export interface IterationRecord {
  iteration: number;
  prompt: Prompt;
  prompt_cells: number;
  control_cells: number;
  control_strategy_effective: ControlStrategy;
  grounding: Grounding;
}

export interface ControlCheck {
  control_cells_found: number;
  donors: string[];
  conditions: string[];
  recommendation: ControlStrategy;
  warning: string | null;
}

export interface HaystackResult {
  structured_query: StructuredQuery;
  control_strategy: ControlStrategy;
  control_strategy_effective: ControlStrategy;
  iterations: IterationRecord[];
  best: IterationRecord | null;
  final_score: number | null;
  termination_reason: TerminationReason;
  error_message: string | null;
  /** The query cells, and the best iteration's prediction and DE (for the outputs). */
  query_cells: AnnData | null;
  prediction: AnnData | null;
  de: GeneDE[];
  model: string;
}

export interface HaystackPorts {
  interpreter: QueryInterpreter;
  catalog: AtlasCatalog;
  model: PredictionModel;
  progress: RunProgress;
}

export const PLATEAU_WINDOW = 3;

/** Whether a synthetic control is possible for the first prompt of a query. */
export function checkControls(catalog: AtlasCatalog, query: StructuredQuery): ControlCheck {
  const prompt = candidatePrompts(query)[0];
  if (!prompt) {
    return {
      control_cells_found: 0,
      donors: [],
      conditions: [],
      recommendation: 'query_as_control',
      warning:
        'No perturbation in the question, so there is no prompt to match controls to: the query cells are the reference.',
    };
  }
  const cells = catalog.cells(prompt.dataset, { cell_type: prompt.cell_type, condition: prompt.condition });
  const donors = catalog.donorsOf(prompt.dataset, cells);
  const controls = catalog.matchedControls(prompt.dataset, prompt.cell_type, donors);
  const found = controls.indices.length;
  return {
    control_cells_found: found,
    donors: found ? catalog.donorsOf(prompt.dataset, controls.indices) : [],
    conditions: controls.condition ? [controls.condition] : [],
    recommendation: found >= 10 ? 'synthetic_control' : 'query_as_control',
    warning:
      found >= 10
        ? null
        : `Only ${found} matched control cells (${prompt.cell_type}, ${DATASET_DEFINITIONS[prompt.dataset].controls.join('/')}, donors ${donors.join(', ') || 'none'}): a synthetic control needs 10; the query cells will be the reference.`,
  };
}

/** The query cells: the target type, unperturbed (Tabula Sapiens, else the prompt dataset's controls). */
export function queryCells(
  catalog: AtlasCatalog,
  query: StructuredQuery,
  max: number,
): { dataset: DatasetName; indices: number[] } {
  const target =
    Object.values(CELL_TYPES).find((t) => t.ontology_id === query.target_cell_type_id)?.name ??
    query.target_cell_type;
  for (const dataset of ['tabula_sapiens', query.dataset] as DatasetName[]) {
    if (!catalog.datasets().includes(dataset)) continue;
    const control = DATASET_DEFINITIONS[dataset].controls[0]!;
    const indices = catalog.cells(dataset, { cell_type: target, condition: control });
    if (indices.length > 0) return { dataset, indices: indices.slice(0, max) };
  }
  throw new Error(`No unperturbed ${target} cells in the atlas to predict for.`);
}

/** Stops after this iteration? */
export function terminationAfter(
  scores: number[],
  request: Pick<HaystackRequest, 'max_iterations' | 'score_threshold'>,
): TerminationReason | null {
  const last = scores.at(-1)!;
  if (last >= request.score_threshold) return 'threshold_reached';
  if (scores.length >= request.max_iterations) return 'max_iterations';
  if (scores.length > PLATEAU_WINDOW) {
    const before = Math.max(...scores.slice(0, -PLATEAU_WINDOW));
    const recent = Math.max(...scores.slice(-PLATEAU_WINDOW));
    if (recent - before < 1) return 'plateau';
  }
  return null;
}

export async function runHaystack(ports: HaystackPorts, request: HaystackRequest): Promise<HaystackResult> {
  const { catalog, model, progress } = ports;
  const iterations: IterationRecord[] = [];
  let structured: StructuredQuery | null = null;
  let effective: ControlStrategy = request.control_strategy;
  let query: AnnData | null = null;
  let bestPrediction: AnnData | null = null;
  let bestDe: GeneDE[] = [];
  const checkpoint = async (phase: Phase, iteration: number) => {
    if (await progress.cancelled()) throw new RunCancelled();
    await progress.phase(phase, iteration);
  };
  const finish = (reason: TerminationReason, error: string | null): HaystackResult => {
    const best = iterations.reduce<IterationRecord | null>(
      (top, it) => (!top || it.grounding.composite > top.grounding.composite ? it : top),
      null,
    );
    return {
      structured_query: structured!,
      control_strategy: request.control_strategy,
      control_strategy_effective: effective,
      iterations,
      best,
      final_score: best?.grounding.composite ?? null,
      termination_reason: reason,
      error_message: error,
      query_cells: query,
      prediction: bestPrediction,
      de: bestDe,
      model: model.name,
    };
  };
  try {
    await checkpoint('query_analysis', 0);
    structured = await ports.interpreter.interpret(request.query, request.dataset);
    const picked = queryCells(catalog, structured, request.max_query_cells ?? 100);
    query = subsetCells(catalog.atlas(picked.dataset), picked.indices);
    const queryNormalized = log1pCp10k(query.X);
    const candidates = candidatePrompts(structured);
    if (candidates.length === 0)
      throw new Error('The question names no perturbation in the atlas to prompt with.');
    const genes = query.var.index;
    const scores: number[] = [];
    let suggestions: string[] = [];
    for (let n = 1; n <= request.max_iterations; n++) {
      await checkpoint('prompt_generation', n);
      const prompt = nextPrompt(
        candidates,
        iterations.map((i) => i.prompt),
        suggestions,
      );
      if (!prompt) return finish('prompts_exhausted', null);
      const promptIdx = catalog.cells(prompt.dataset, {
        cell_type: prompt.cell_type,
        condition: prompt.condition,
      });
      const donors = catalog.donorsOf(prompt.dataset, promptIdx);
      const controls =
        request.control_strategy === 'synthetic_control'
          ? catalog.matchedControls(prompt.dataset, prompt.cell_type, donors).indices
          : [];
      const iterationStrategy: ControlStrategy =
        request.control_strategy === 'synthetic_control' && controls.length >= 10
          ? 'synthetic_control'
          : 'query_as_control';
      if (iterationStrategy !== request.control_strategy) effective = 'query_as_control';
      await checkpoint('inference', n);
      const atlas = catalog.atlas(prompt.dataset);
      const seed = request.seed * 1_000 + n;
      // The treated and control predictions are independent: both model calls run at once.
      const [treated, control] = await Promise.all([
        model.predict({ prompt: subsetCells(atlas, promptIdx), query, seed, label: `i${n}-treat` }),
        iterationStrategy === 'synthetic_control'
          ? model.predict({
              prompt: subsetCells(atlas, controls),
              query,
              seed: seed + 500,
              label: `i${n}-ctrl`,
            })
          : Promise.resolve(null),
      ]);
      await checkpoint('evaluation', n);
      const de = differentialExpression(
        log1pCp10k(treated.X),
        control ? log1pCp10k(control.X) : queryNormalized,
        genes,
      );
      const deGenes = de.filter((d) => d.is_de).map((d) => d.gene);
      const enriched = overRepresentation(deGenes, genes, hallmarkSets());
      const scored = grounding(
        de,
        enriched,
        { pathways: structured.expected_pathways, targets: structured.expected_targets },
        { queryAsControl: iterationStrategy === 'query_as_control' },
      );
      const record: IterationRecord = {
        iteration: n,
        prompt,
        prompt_cells: promptIdx.length,
        control_cells: controls.length,
        control_strategy_effective: iterationStrategy,
        grounding: scored,
      };
      iterations.push(record);
      if (!iterations.some((it) => it !== record && it.grounding.composite >= scored.composite)) {
        bestPrediction = treated;
        bestDe = de;
      }
      await progress.iteration(record);
      scores.push(scored.composite);
      suggestions = scored.suggestions;
      const reason = terminationAfter(scores, request);
      if (reason) return finish(reason, null);
    }
    return finish('max_iterations', null);
  } catch (error) {
    // A model job that stopped because the run was cancelled says so with the same class.
    if (error instanceof RunCancelled) return finish('cancelled', null);
    if (!structured) throw error;
    return finish('error', (error as Error).message);
  }
}

/** The obs of the query cells, as the predictions h5ad names them. */
export function cellIds(adata: AnnData): string[] {
  return adata.obs.index.length ? adata.obs.index : stringColumn(adata.obs, 'cell_id');
}
