import { describe, expect, it } from 'vitest';
import {
  BudgetPolicy,
  defaultBudget,
  monthlyCap,
  monthStart,
  overMonthlyCap,
} from '../../../functions/core/runs/budget-policy';

const policy = BudgetPolicy.parse({
  default_run_usd: 100,
  default_monthly_usd: 1000,
  users: { 'ana@example.com': { run_usd: 40, monthly_usd: 300 }, 'ben@example.com': { monthly_usd: 50 } },
  labels: { 'cost-center=genomics': { run_usd: 25 }, 'project=atlas': { run_usd: 60 } },
});

describe('budgets an administrator sets', () => {
  it("gives a launch without a budget its labels' strictest, else its owner's, else the default, saying which", () => {
    expect(defaultBudget(policy, 'ana@example.com', { 'cost-center': 'genomics', project: 'atlas' })).toEqual(
      {
        usd: 25,
        from: 'the budget for label cost-center=genomics',
      },
    );
    expect(defaultBudget(policy, 'ana@example.com', { project: 'other' })).toEqual({
      usd: 40,
      from: 'the budget set for ana@example.com',
    });
    expect(defaultBudget(policy, 'ben@example.com', {})).toEqual({
      usd: 100,
      from: 'the deployment’s default budget',
    });
    expect(
      defaultBudget(BudgetPolicy.parse({}), 'ben@example.com', { 'cost-center': 'genomics' }),
    ).toBeNull();
  });

  it('caps a month per user, the default otherwise', () => {
    expect(monthlyCap(policy, 'ben@example.com')).toBe(50);
    expect(monthlyCap(policy, 'cy@example.com')).toBe(1000);
    expect(monthlyCap(BudgetPolicy.parse({}), 'cy@example.com')).toBeNull();
    expect(monthStart(new Date('2026-12-07T19:00:00Z')).toISOString()).toBe('2026-12-01T00:00:00.000Z');
  });

  it('refuses a launch whose estimate would take the month over the cap, with both figures and when it resets', () => {
    const now = new Date('2026-12-07T19:00:00Z');
    expect(overMonthlyCap(50, 30, 10, now)).toBeNull();
    expect(overMonthlyCap(null, 999, 10, now)).toBeNull();
    expect(overMonthlyCap(50, 45, 10, now)).toBe(
      "This launch would take your spending this month over your monthly cap of $50.00: $45.00 accrued by your runs since 2026-12-01 + at least $10.00 for this one (the estimate's low end). Ask an administrator to raise the cap (BUDGET_POLICY), or wait until 2027-01-01.",
    );
    expect(overMonthlyCap(50, 51, null, now)).toMatch(
      /^This launch .*: \$51\.00 accrued by your runs since 2026-12-01\. Ask/,
    );
  });

  it('refuses a policy that is not one', () => {
    expect(BudgetPolicy.safeParse({ users: { 'not-an-email': { run_usd: 1 } } }).success).toBe(false);
    expect(BudgetPolicy.safeParse({ labels: { 'no-value': { run_usd: 1 } } }).success).toBe(false);
    expect(BudgetPolicy.safeParse({ default_run_usd: -1 }).success).toBe(false);
    expect(BudgetPolicy.safeParse({ surprise: 1 }).success).toBe(false);
  });
});
