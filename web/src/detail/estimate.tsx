import type { CostEstimate } from '../../../functions/core/runs/cost-estimate';
import { estimateLabel, estimateRange } from '../../../functions/core/runs/estimate-words';

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
