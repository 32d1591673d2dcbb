import type { RunMetrics } from './metrics';
/**
 * What a recovery chain cost in all, beside one run's own (the page says it on every run of a
 * chain). Each run costs the tasks it executed, so cached tasks are never counted twice; a run
 * that has not ended has no metrics yet and is named as not costed, not counted as $0.
 */
export function chainCostSummary(
  chain: readonly { run_id: string; metrics?: Pick<RunMetrics, 'cost'> | null }[],
  runId: string,
): string | null {
  if (chain.length <= 1) return null;
  const costed = chain.filter((r) => r.metrics);
  const total = costed.reduce((sum, r) => sum + r.metrics!.cost.estimate, 0);
  const own = chain.find((r) => r.run_id === runId)?.metrics?.cost.estimate;
  const pending = chain.length - costed.length;
  const notYet =
    pending > 0 ? ` (${pending} of them not costed yet: a run's cost is known when it ends)` : '';
  const ownText = own === undefined ? 'not known until it ends' : `about $${own.toFixed(2)}`;
  return `The ${chain.length} runs of this recovery chain cost about $${total.toFixed(2)} in all${notYet}; this run's own: ${ownText}. Each run counts only the tasks it executed (cached tasks are not counted again); Spot task VMs only, as in each run's estimate.`;
}
