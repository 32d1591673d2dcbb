/**
 * What the agent writes on its run as the loop goes (phase, iterations, scores; the page
 * follows them live) and what the answer leaves on it: the two mappings from the loop's results
 * onto the run document, pure, and where they are written.
 */
import type { Clock } from '../shared/ports';
import { isTerminal } from '../shared/run-status';
import type { Enrichment } from './enrichment';
import type { ComparisonRecord, HaystackResult, IterationRecord } from './loop';
import type { HaystackRunStore, RunProgress } from './ports';
import { describeQuery, type StructuredQuery } from './query';
import type { ComparisonSummary, HaystackFields, HaystackRun, Understanding } from './run-model';

/** One iteration as the run document keeps it (`grounding_scores[]`), and the strategy the run has used so far. */
export function iterationFields(run: HaystackRun, record: IterationRecord): HaystackFields {
  return {
    grounding_scores: [
      ...run.grounding_scores,
      {
        iteration: record.iteration,
        composite: record.grounding.composite,
        P: record.grounding.P,
        T: record.grounding.T,
        L: record.grounding.L,
        N: record.grounding.N,
        strategy: record.prompt.strategy,
        condition: record.prompt.condition,
        cell_type: record.prompt.cell_type,
        control_strategy_effective: record.control_strategy_effective,
        warnings: record.warnings,
      },
    ],
    // Once one iteration had to use the query as control, the run says so.
    control_strategy_effective:
      run.control_strategy_effective === 'query_as_control'
        ? 'query_as_control'
        : record.control_strategy_effective,
  };
}

/** How the question was read, as the run, the form's live check and the report say it. */
export function understandingOf(query: StructuredQuery): Understanding {
  return {
    understood_as: describeQuery(query),
    interpreter: query.interpreter,
    perturbation: query.perturbation,
    comparison: query.comparison_perturbation,
    not_used: query.not_used,
  };
}

const pathways = (enriched: Enrichment[]) =>
  enriched.slice(0, 10).map((e) => ({ set: e.set, padj: e.padj, overlap: e.overlap.length }));

function comparisonSummary(record: ComparisonRecord): ComparisonSummary {
  return {
    perturbation: record.perturbation,
    best_prompt_condition: record.best_prompt_condition,
    comparison: record.comparison,
    prompt: record.prompt
      ? {
          strategy: record.prompt.strategy,
          dataset: record.prompt.dataset,
          condition: record.prompt.condition,
          cell_type: record.prompt.cell_type,
        }
      : null,
    prompt_cells: record.prompt_cells,
    error: record.error,
    response: {
      de_up: record.response.de_up.slice(0, 25),
      de_down: record.response.de_down.slice(0, 25),
      pathways: pathways(record.response.enriched),
    },
    contrast: {
      higher_under_first: record.contrast.higher_under_first.slice(0, 25),
      higher_under_second: record.contrast.higher_under_second.slice(0, 25),
      pathways: pathways(record.contrast.enriched),
    },
  };
}

/** What the answer leaves on the run: its score, why it stopped, and the best iteration's DE and pathways. */
export function settleFields(result: HaystackResult): HaystackFields {
  return {
    comparison: result.comparison ? comparisonSummary(result.comparison) : null,
    final_score: result.final_score,
    termination_reason: result.termination_reason,
    control_strategy_effective: result.control_strategy_effective,
    best: result.best
      ? {
          iteration: result.best.iteration,
          de_up: result.best.grounding.de_up.slice(0, 25),
          de_down: result.best.grounding.de_down.slice(0, 25),
          pathways: pathways(result.best.grounding.enriched),
        }
      : null,
  };
}

/** Progress written to the run while it is running (a run that ended meanwhile is left as it is, and the loop stops). */
export function storeProgress(runs: HaystackRunStore, runId: string, clock: Clock): RunProgress {
  const now = () => clock.now().toISOString();
  const whileRunning = (fields: (run: HaystackRun) => HaystackFields) =>
    runs.update(runId, (run) => (run.status === 'running' ? { ...fields(run), updated_at: now() } : null));
  return {
    understood: async (query) => {
      await whileRunning(() => ({ understanding: understandingOf(query) }));
    },
    phase: async (phase, iteration) => {
      await whileRunning(() => ({ current_phase: phase, current_iteration: iteration }));
    },
    iteration: async (record) => {
      await whileRunning((run) => iterationFields(run, record));
    },
    // Cancelled, or ended by anyone else (the sweeper, a restart): the agent stops either way.
    cancelled: async () => {
      const run = await runs.get(runId);
      return run === null || isTerminal(run.status);
    },
  };
}
