import { describe, expect, it } from 'vitest';
import { type BudgetDeps, enforceBudget } from '../../../functions/core/runs/budget';
import { budgetBelowEstimate, type CostEstimate } from '../../../functions/core/runs/cost-estimate';
import type { BudgetState } from '../../../functions/core/runs/ports';
import type { RunEvent } from '../../../functions/core/shared/lifecycle';

/** Records what the budget check asks of the store and of Batch. */
function recorder() {
  const calls: string[] = [];
  const deps: BudgetDeps = {
    runs: {
      apply: async (_id, event) => {
        calls.push(`apply ${(event as RunEvent).to}: ${(event as RunEvent).detail}`);
        return { run: { batch_job_name: 'projects/p/locations/r/jobs/nf-run-a' }, applied: true } as never;
      },
      applyOnce: async (_id, key, change, history) => {
        calls.push(`once ${key}: ${history?.({} as never).detail}`);
        change({ budget_warned_at: null } as never);
        return 'applied';
      },
    },
    jobs: { cancelJob: async (name: string) => void calls.push(`cancel ${name}`) } as never,
    now: () => new Date('2026-12-07T12:00:00Z'),
  };
  return { calls, deps };
}

const run = (over: Partial<BudgetState> = {}): BudgetState => ({
  run_id: 'run-aaaaaaaaaaaa',
  status: 'running',
  budget_usd: 10,
  accrued_usd: 0,
  budget_warned_at: null,
  batch_job_name: 'projects/p/locations/r/jobs/nf-run-a',
  ...over,
});

describe('a run budget', () => {
  it('does nothing under 80%, warns once past it, and cancels at 100% with both figures, stopping the job', async () => {
    const under = recorder();
    expect(await enforceBudget(under.deps, run(), 7.99)).toBe('within');
    expect(under.calls).toEqual([]);

    const close = recorder();
    expect(await enforceBudget(close.deps, run(), 8)).toBe('warned');
    expect(close.calls).toEqual(['once budget-warning: 80% of the budget used: $8.00 of $10.00']);
    // Warned already: nothing more until the budget is reached.
    expect(await enforceBudget(close.deps, run({ budget_warned_at: '2026-12-07T11:00:00Z' }), 9)).toBe(
      'within',
    );

    const over = recorder();
    expect(await enforceBudget(over.deps, run({ budget_warned_at: '2026-12-07T11:00:00Z' }), 10.2)).toBe(
      'cancelled',
    );
    expect(over.calls).toEqual([
      'apply cancelled: Cancelled: budget exceeded: $10.20 of $10.00. Recover it with a higher budget to resume.',
      'cancel projects/p/locations/r/jobs/nf-run-a',
    ]);
  });

  it('warns before it cancels when one chunk jumps past both, and leaves an ended run or one without a budget alone', async () => {
    const jump = recorder();
    expect(await enforceBudget(jump.deps, run(), 25)).toBe('cancelled');
    expect(jump.calls.map((c) => c.split(':')[0])).toEqual([
      'once budget-warning',
      'apply cancelled',
      'cancel projects/p/locations/r/jobs/nf-run-a',
    ]);
    const ended = recorder();
    expect(await enforceBudget(ended.deps, run({ status: 'completed' }), 25)).toBe('within');
    expect(await enforceBudget(ended.deps, run({ budget_usd: null }), 25)).toBe('within');
    expect(ended.calls).toEqual([]);
  });

  it('is refused at launch only when the estimate’s low end is over it', () => {
    const estimate = {
      cost_usd: { low: 2, median: 3, high: 4 },
      basis: 'From 3 completed runs.',
    } as CostEstimate;
    expect(budgetBelowEstimate(null, estimate)).toBeNull();
    expect(budgetBelowEstimate(2, estimate)).toBeNull();
    expect(budgetBelowEstimate(1.5, estimate)).toBe(
      "The estimate's low end, $2.00, is already over the budget of $1.50: raise budget_usd, or launch fewer samples. From 3 completed runs.",
    );
    expect(budgetBelowEstimate(1.5, { ...estimate, cost_usd: null })).toBeNull();
  });
});
