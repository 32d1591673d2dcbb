/**
 * A run's budget: cost accrues from its trace rows as they land (the metrics' prices and
 * formula, `accrued_usd`), the run says when it passes 80%, and at 100% it is cancelled with
 * "budget exceeded: $X of $Y" in its status history and its Batch job is stopped. A recovery
 * with a higher budget resumes it.
 */
import type { JobRunner } from '../shared/batch';
import { stopJobs } from '../shared/run-kind';
import { isTerminal } from '../shared/run-status';
import { nextflowJobs } from './batch-job';
import type { BudgetState, RunStore } from './ports';

/** The share of the budget at which the run says it is close. */
export const BUDGET_WARNING_SHARE = 0.8;

export interface BudgetDeps {
  runs: Pick<RunStore, 'apply' | 'applyOnce'>;
  /** Stops the cancelled run's job; without it the job ends at its next Batch event. */
  jobs?: Pick<JobRunner, 'cancelJob'>;
  now(): Date;
}

export const budgetExceeded = (spent: number, budget: number) =>
  `budget exceeded: $${spent.toFixed(2)} of $${budget.toFixed(2)}`;

/**
 * After a chunk's cost was added: cancels the run once `spent` reaches its budget, or marks
 * it at 80%. `run` was read while the chunk was being counted (its accrued cost before the
 * chunk); a chunk counted at the same moment by another instance is seen by the next chunk.
 * A run ended or without a budget is left alone.
 */
export async function enforceBudget(
  deps: BudgetDeps,
  run: BudgetState,
  spent: number,
): Promise<'within' | 'warned' | 'cancelled'> {
  if (run.budget_usd === null || isTerminal(run.status)) return 'within';
  const runId = run.run_id;
  const budget = run.budget_usd;
  const at = deps.now().toISOString();
  const used = `${Math.round(BUDGET_WARNING_SHARE * 100)}% of the budget used: $${spent.toFixed(2)} of $${budget.toFixed(2)}`;
  const warn = () =>
    deps.runs.applyOnce(
      runId,
      'budget-warning',
      (current) => (current.budget_warned_at === null ? { budget_warned_at: at } : null),
      () => ({ source: 'artifact', at, detail: used }),
      // Its owner hears of it on the channels they chose (onRunEvent), once.
      () => ({
        notice: 'budget_warning',
        at,
        message: `${used}. The run is cancelled when its cost reaches the budget; cancel it now, or let it run and recover it with a higher budget if it stops.`,
      }),
    );
  if (spent >= budget) {
    // A chunk that jumps past both still leaves the warning before the cancel.
    if (run.budget_warned_at === null) await warn();
    const reason = budgetExceeded(spent, budget);
    const result = await deps.runs.apply(runId, {
      to: 'cancelled',
      at,
      source: 'artifact',
      detail: `Cancelled: ${reason}. Recover it with a higher budget to resume.`,
      error_message: `${reason.charAt(0).toUpperCase()}${reason.slice(1)}: the run was cancelled. Recover it with a higher budget (budget_usd) to resume where it stopped.`,
    });
    if (result?.applied && deps.jobs) await stopJobs(deps.jobs, nextflowJobs(result.run));
    return 'cancelled';
  }
  if (spent >= BUDGET_WARNING_SHARE * budget && run.budget_warned_at === null) {
    await warn();
    return 'warned';
  }
  return 'within';
}
