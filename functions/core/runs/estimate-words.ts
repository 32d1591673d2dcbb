/**
 * A cost estimate in words, the same on the wizard, the run page and `arc`: the range in
 * dollars and CPU-hours, then its basis. Kept apart from the estimator so the page does not
 * load the pipeline registry.
 */
import type { CostEstimate } from './cost-estimate';

const dollars = (n: number) => `$${n.toFixed(2)}`;
const hours = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

/** The range alone ("$0.52–$1.10, 40–76 CPU-hours"), or null when there is no estimate. */
export function estimateRange(estimate: CostEstimate): string | null {
  const { cost_usd: cost, cpu_hours: cpu } = estimate;
  if (!cost || !cpu) return null;
  // A prior has a low and a high end only: its middle figure is their midpoint, not a median of runs.
  const middle = estimate.source === 'prior' ? 'midpoint' : 'median';
  return `${dollars(cost.low)}–${dollars(cost.high)} (${middle} ${dollars(cost.median)}), ${hours(cpu.low)}–${hours(cpu.high)} CPU-hours`;
}

/** What the figure is: an estimate from the lab's runs, or from a prior. */
export const estimateLabel = (estimate: CostEstimate) =>
  estimate.source === 'prior'
    ? 'Estimated before launch (from a prior, not this lab’s runs)'
    : 'Estimated before launch';

/** The range and its basis, as one paragraph. */
export function describeEstimate(estimate: CostEstimate): string {
  const range = estimateRange(estimate);
  return range ? `${estimateLabel(estimate)}: ${range}. ${estimate.basis}` : estimate.basis;
}
