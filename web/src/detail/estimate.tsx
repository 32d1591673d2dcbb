import type { CostEstimate } from '../../../functions/core/runs/cost-estimate';
import { estimateLabel, estimateRange } from '../../../functions/core/runs/estimate-words';
import type { Run } from '../../../functions/core/runs/run-model';

/**
 * What a run was (or will be) estimated to cost before launch, with its basis: on the wizard's
 * review step, and on the run's page beside what it really cost.
 */
export function CostEstimateNote({
  estimate,
  actualUsd,
}: {
  estimate: CostEstimate | null;
  actualUsd?: number;
}) {
  if (!estimate) return null;
  const range = estimateRange(estimate);
  const within =
    actualUsd !== undefined && estimate.cost_usd
      ? actualUsd >= estimate.cost_usd.low && actualUsd <= estimate.cost_usd.high
        ? 'within the estimate'
        : actualUsd < estimate.cost_usd.low
          ? 'below the estimate'
          : 'above the estimate'
      : null;
  return (
    <section class="hint" data-testid="cost-estimate" aria-label="Cost estimate">
      <p>
        <strong>{estimateLabel(estimate)}:</strong> {range ?? 'none'}
        {actualUsd !== undefined && (
          <>
            {' '}
            · cost from the trace ${actualUsd.toFixed(2)}
            {within ? ` (${within})` : ''}
          </>
        )}
      </p>
      <p class="muted small">{estimate.basis}</p>
    </section>
  );
}

/**
 * What the run has cost so far, counted as its tasks finish (their trace rows), against its
 * budget when it has one: close to it at 80%, and stopped by it.
 */
export function BudgetNote({
  run,
}: {
  run: Pick<Run, 'budget_usd' | 'budget_from' | 'accrued_usd' | 'budget_warned_at' | 'status' | 'metrics'>;
}) {
  // Once the final trace is in, the metrics say what it cost; before that, the live figure.
  if (run.budget_usd === null && (run.metrics || run.accrued_usd <= 0)) return null;
  const spent = `$${run.accrued_usd.toFixed(2)}`;
  const budget = run.budget_usd;
  const over = budget !== null && run.accrued_usd >= budget;
  const close = budget !== null && !over && run.budget_warned_at !== null;
  return (
    <p class={over ? 'note note-error' : close ? 'note' : 'muted small'} data-testid="budget">
      Cost so far: <strong>{spent}</strong>
      {budget !== null && (
        <>
          {' '}
          of a ${budget.toFixed(2)} budget{run.budget_from && <> ({run.budget_from})</>}
        </>
      )}{' '}
      (Spot CPU and memory of the tasks that finished, counted as their trace rows land)
      {over &&
        run.status === 'cancelled' &&
        '. The budget stopped this run: recover it with a higher budget to resume.'}
      {close && '. Past 80% of the budget: the run is cancelled when it reaches it.'}
    </p>
  );
}
