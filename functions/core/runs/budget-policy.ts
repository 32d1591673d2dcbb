/**
 * Budgets an administrator sets (`BUDGET_POLICY`, issue 33 item 2): a run's budget when its
 * launch names none — per label (e.g. `cost-center=genomics`), per user, or for everyone — and a
 * monthly cap per user, past which new launches and recoveries are refused. Free of any library
 * but zod.
 */
import { z } from 'zod';
import { formatUsd } from '../shared/format';
import type { Clock } from '../shared/ports';
import { budgetBelowEstimate, type CostEstimate } from './cost-estimate';
import type { RunStore } from './ports';

const Usd = z.number().positive().max(1_000_000);

export const BudgetPolicy = z.strictObject({
  default_run_usd: Usd.optional().describe("every run's budget when nothing more specific applies"),
  default_monthly_usd: Usd.optional().describe("every user's monthly cap when their own is not set"),
  users: z
    .record(z.email(), z.strictObject({ run_usd: Usd.optional(), monthly_usd: Usd.optional() }))
    .default({}),
  labels: z
    .record(
      z.string().regex(/^[a-z][a-z0-9_-]{0,62}=[a-z0-9_-]{0,63}$/, 'a label as key=value'),
      z.strictObject({ run_usd: Usd }),
    )
    .default({}),
});
export type BudgetPolicy = z.infer<typeof BudgetPolicy>;

export const NO_POLICY: BudgetPolicy = { users: {}, labels: {} };

/**
 * The budget a launch gets when it names none, and where it comes from: the lowest of its labels'
 * (the strictest a cost centre set), else its owner's, else the deployment's; null when none applies.
 */
export function defaultBudget(
  policy: BudgetPolicy,
  email: string,
  labels: Record<string, string>,
): { usd: number; from: string } | null {
  const fromLabels: { label: string; usd: number }[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const usd = policy.labels[`${key}=${value}`]?.run_usd;
    if (usd !== undefined) fromLabels.push({ label: `${key}=${value}`, usd });
  }
  fromLabels.sort((a, b) => a.usd - b.usd || a.label.localeCompare(b.label));
  const strictest = fromLabels[0];
  if (strictest) return { usd: strictest.usd, from: `the budget for label ${strictest.label}` };
  const own = policy.users[email]?.run_usd;
  if (own !== undefined) return { usd: own, from: `the budget set for ${email}` };
  if (policy.default_run_usd !== undefined)
    return { usd: policy.default_run_usd, from: 'the deployment’s default budget' };
  return null;
}

/** The user's monthly cap (USD), or null. */
export function monthlyCap(policy: BudgetPolicy, email: string): number | null {
  return policy.users[email]?.monthly_usd ?? policy.default_monthly_usd ?? null;
}

/** The first instant of `now`'s month, UTC. */
export function monthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

const day = (date: Date) => date.toISOString().slice(0, 10);

/**
 * Why a launch is refused by its owner's monthly cap: what they spent since the month began
 * (the cost accrued by their runs created in it) plus the estimate's low end for this one is
 * over the cap. Null when it fits, or there is no cap.
 */
export function overMonthlyCap(
  cap: number | null,
  spent: number,
  estimateLow: number | null,
  now: Date,
): string | null {
  if (cap === null) return null;
  const low = estimateLow ?? 0;
  if (spent + low <= cap) return null;
  const start = monthStart(now);
  const next = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  return (
    `This launch would take your spending this month over your monthly cap of ${formatUsd(cap)}: ` +
    `${formatUsd(spent)} accrued by your runs since ${day(start)}${low > 0 ? ` + at least ${formatUsd(low)} for this one (the estimate's low end)` : ''}. ` +
    `Ask an administrator to raise the cap (BUDGET_POLICY), or wait until ${day(next)}.`
  );
}

/**
 * A launch's budget and whether it may start: the budget it names or the policy's default, refused
 * (a reason, for 409 or the preview's problem) when the estimate's low end is already over it, or
 * when the owner's spending this month plus that low end is over their monthly cap.
 */
export async function launchBudget(
  deps: { runs: Pick<RunStore, 'spentSince'>; budgetPolicy: BudgetPolicy; clock: Clock },
  owner: string,
  request: { budget_usd?: number | null | undefined; labels?: Record<string, string> | undefined },
  estimate: CostEstimate,
): Promise<{ budget: number | null; from: string | null; refused: string | null }> {
  const named = request.budget_usd ?? null;
  const fallback = named === null ? defaultBudget(deps.budgetPolicy, owner, request.labels ?? {}) : null;
  const budget = named ?? fallback?.usd ?? null;
  const from = fallback?.from ?? null;
  const over = budgetBelowEstimate(budget, estimate);
  if (over) return { budget, from, refused: from ? `${over} (The budget is ${from}.)` : over };
  const cap = monthlyCap(deps.budgetPolicy, owner);
  if (cap === null) return { budget, from, refused: null };
  const now = deps.clock.now();
  const spent = await deps.runs.spentSince(owner, monthStart(now).toISOString());
  return { budget, from, refused: overMonthlyCap(cap, spent, estimate.cost_usd?.low ?? null, now) };
}
