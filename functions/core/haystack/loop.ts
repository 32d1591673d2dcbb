/**
 * A HAYSTACK run as pure code over ports: interpret the question, pick query cells, then per
 * iteration choose a prompt, run the model (twice with a synthetic control), evaluate (DE,
 * enrichment, grounding) and decide whether to go on. Stops at the score threshold, after
 * max_iterations, on a plateau (no gain of 1 over 3 iterations), when no untried prompt is
 * left, on cancel, or on error; `termination_reason` says which.
 */
import { type AnnData, log1pCp10k, type Matrix, stringColumn, subsetCells } from './anndata';
import type { AtlasCatalog } from './catalog';
import { ENRICHED_PADJ, type Enrichment, overRepresentation } from './enrichment';
import { hallmarkSets } from './gene-sets';
import { type PredictionModel, RunCancelled, type RunProgress } from './ports';
import type { QueryInterpreter, StructuredQuery } from './query';
import { type Grounding, grounding } from './scores';
import { differentialExpression, type GeneDE, nonFiniteWarning } from './stats';
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

import { COMPARISON_LABEL, type ControlStrategy, type Phase, type TerminationReason } from './phases';

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
  /** What the biologist must know about this iteration's numbers (non-finite model output). */
  warnings: string[];
}

export interface ControlCheck {
  control_cells_found: number;
  donors: string[];
  conditions: string[];
  recommendation: ControlStrategy;
  warning: string | null;
}

/**
 * A question that compares two conditions: the second condition's prediction on the same query
 * cells, prompted like the best iteration (its dataset and prompt cell type), its response
 * against the same reference, and the contrast of the two predictions.
 */
export interface ComparisonRecord {
  /** The question's first condition, and the condition the best iteration prompted with for it. */
  perturbation: string;
  best_prompt_condition: string;
  /** The condition compared with. */
  comparison: string;
  prompt: Prompt | null;
  prompt_cells: number;
  /** Why there is no second prediction (no prompt cells of that condition), else null. */
  error: string | null;
  /** The compared condition's own response against the best iteration's reference (sets at padj ≤ 0.05). */
  response: { de_up: string[]; de_down: string[]; enriched: Enrichment[] };
  /** First condition's prediction against the second's: log2FC > 0 is higher under the first. */
  contrast: {
    de: GeneDE[];
    higher_under_first: string[];
    higher_under_second: string[];
    enriched: Enrichment[];
  };
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
  /** The best iteration's over-representation: every Hallmark set tested, most significant first. */
  enrichment: Enrichment[];
  comparison: ComparisonRecord | null;
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
  let bestReference: Matrix | null = null;
  let bestDe: GeneDE[] = [];
  let bestEnrichment: Enrichment[] = [];
  let comparison: ComparisonRecord | null = null;
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
      enrichment: bestEnrichment,
      comparison,
      model: model.name,
    };
  };
  // A comparison's second prediction once the loop has its best answer for the first condition.
  const compareThenFinish = async (reason: TerminationReason): Promise<HaystackResult> => {
    const best = iterations.reduce<IterationRecord | null>(
      (top, it) => (!top || it.grounding.composite > top.grounding.composite ? it : top),
      null,
    );
    const second = structured?.comparison_perturbation;
    if (!second || !best || !bestPrediction || !bestReference || !query) return finish(reason, null);
    await checkpoint('comparison', iterations.length);
    comparison = await compare(ports, {
      first: structured!.perturbation!,
      second,
      best,
      bestPrediction,
      reference: bestReference,
      query,
      seed: request.seed * 1_000 + 999,
    });
    return finish(reason, null);
  };
  try {
    await checkpoint('query_analysis', 0);
    structured = await ports.interpreter.interpret(request.query, request.dataset);
    await progress.understood(structured);
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
      if (!prompt) return await compareThenFinish('prompts_exhausted');
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
      const reference = control ? log1pCp10k(control.X) : queryNormalized;
      const de = differentialExpression(log1pCp10k(treated.X), reference, genes);
      const deGenes = de.filter((d) => d.is_de).map((d) => d.gene);
      const enriched = overRepresentation(deGenes, genes, hallmarkSets());
      const scored = grounding(
        de,
        enriched,
        { pathways: structured.expected_pathways, targets: structured.expected_targets },
        { queryAsControl: iterationStrategy === 'query_as_control' },
      );
      const nonFinite = nonFiniteWarning(
        de,
        control ? "The model's treated or control prediction" : "The model's prediction",
      );
      const record: IterationRecord = {
        iteration: n,
        prompt,
        prompt_cells: promptIdx.length,
        control_cells: controls.length,
        control_strategy_effective: iterationStrategy,
        grounding: scored,
        warnings: nonFinite ? [nonFinite] : [],
      };
      iterations.push(record);
      if (!iterations.some((it) => it !== record && it.grounding.composite >= scored.composite)) {
        bestPrediction = treated;
        bestReference = reference;
        bestDe = de;
        bestEnrichment = enriched;
      }
      await progress.iteration(record);
      scores.push(scored.composite);
      suggestions = scored.suggestions;
      const reason = terminationAfter(scores, request);
      if (reason) return await compareThenFinish(reason);
    }
    return await compareThenFinish('max_iterations');
  } catch (error) {
    // A model job that stopped because the run was cancelled says so with the same class.
    if (error instanceof RunCancelled) return finish('cancelled', null);
    if (!structured) throw error;
    return finish('error', (error as Error).message);
  }
}

const NO_RESPONSE = { de_up: [], de_down: [], enriched: [] };

/** The second condition's prediction, its response, and its contrast with the first's. */
async function compare(
  ports: HaystackPorts,
  input: {
    first: string;
    second: string;
    best: IterationRecord;
    bestPrediction: AnnData;
    reference: Matrix;
    query: AnnData;
    seed: number;
  },
): Promise<ComparisonRecord> {
  const { catalog, model } = ports;
  const { best } = input;
  const base = {
    perturbation: input.first,
    best_prompt_condition: best.prompt.condition,
    comparison: input.second,
  };
  const prompt: Prompt = {
    strategy: 'direct',
    dataset: best.prompt.dataset,
    condition: input.second,
    cell_type: best.prompt.cell_type,
    rationale: `${input.second} on ${best.prompt.cell_type}, as the best iteration prompted ${best.prompt.condition}, to compare with it`,
  };
  const promptIdx = catalog.cells(prompt.dataset, {
    cell_type: prompt.cell_type,
    condition: prompt.condition,
  });
  if (promptIdx.length === 0)
    return {
      ...base,
      prompt,
      prompt_cells: 0,
      error: `No ${prompt.cell_type} cells under ${input.second} in ${prompt.dataset} to prompt with, so there is no second prediction to compare.`,
      response: NO_RESPONSE,
      contrast: { de: [], higher_under_first: [], higher_under_second: [], enriched: [] },
    };
  const predicted = await model.predict({
    prompt: subsetCells(catalog.atlas(prompt.dataset), promptIdx),
    query: input.query,
    seed: input.seed,
    label: COMPARISON_LABEL,
  });
  const genes = input.query.var.index;
  const sets = hallmarkSets();
  const secondNormalized = log1pCp10k(predicted.X);
  const response = differentialExpression(secondNormalized, input.reference, genes);
  const contrast = differentialExpression(log1pCp10k(input.bestPrediction.X), secondNormalized, genes);
  const de = (list: GeneDE[], up: boolean) =>
    list
      .filter((d) => d.is_de && (up ? d.log2fc > 0 : d.log2fc < 0))
      .sort((a, b) => Math.abs(b.log2fc) - Math.abs(a.log2fc))
      .map((d) => d.gene);
  const contrastGenes = contrast.filter((d) => d.is_de).map((d) => d.gene);
  // Only sets enriched at padj ≤ 0.05 are said to be the comparison's pathways.
  const enriched = (deGenes: string[]) =>
    overRepresentation(deGenes, genes, sets).filter((e) => e.padj <= ENRICHED_PADJ);
  return {
    ...base,
    prompt,
    prompt_cells: promptIdx.length,
    error: null,
    response: {
      de_up: de(response, true),
      de_down: de(response, false),
      enriched: enriched(response.filter((d) => d.is_de).map((d) => d.gene)),
    },
    contrast: {
      de: contrast,
      higher_under_first: de(contrast, true),
      higher_under_second: de(contrast, false),
      enriched: enriched(contrastGenes),
    },
  };
}

/** The obs of the query cells, as the predictions h5ad names them. */
export function cellIds(adata: AnnData): string[] {
  return adata.obs.index.length ? adata.obs.index : stringColumn(adata.obs, 'cell_id');
}
