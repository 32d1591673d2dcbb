import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openAs, screenshot, type UserPage } from '../helpers/browser';
import { startTestStack, type TestStack } from '../helpers/stack';

const ALICE = 'alice@example.com';
let stack: TestStack;
let browser: Browser;
let alice: UserPage;

beforeAll(async () => {
  stack = await startTestStack({ withPage: true });
  browser = await launchBrowser();
  alice = await openAs(browser, stack.url, ALICE);
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe('cell prompting in the page', () => {
  it('asks a question comparing two conditions, says how it read it, and follows the run live to its results', async () => {
    const { page, errors } = alice;
    await page.goto('/#/haystack');
    await page.getByRole('heading', { name: 'Cell prompting' }).waitFor();
    expect(await page.getByTestId('synthetic-label').innerText()).toContain(
      'Synthetic data, stand-in model.',
    );
    await page
      .getByLabel('Question', { exact: true })
      .fill('How do CD14 monocytes respond to IFN-γ compared to IL-4 (and IL-37)?');
    const check = page.getByTestId('control-check');
    await expect
      .poll(() => check.innerText(), { timeout: 20_000 })
      .toMatch(/\d+ matched control cells \(PBS; donors .*\): a synthetic control is possible/);
    // What was understood, and what the question names that the run will not use.
    expect(await check.getByTestId('understood-as').innerText()).toMatch(
      /^Understood as: CD14-positive monocyte \(CL:0001054\) under IFN-gamma, compared with IL-4, prompted from parse_pbmc — two predictions and their contrast\./,
    );
    expect(await check.getByTestId('not-used').innerText()).toMatch(
      /^Not used: IL-37 \(not a condition of the datasets .*\)\. Ask again to include it\.$/,
    );
    await page.getByLabel('Iterations at most').fill('2');
    await page.getByLabel('Stop at score').fill('10');
    await screenshot(page, 'haystack-ask');
    await page.getByRole('button', { name: 'Ask', exact: true }).click();

    const run = page.locator('article[data-haystack-run]');
    await run.waitFor({ timeout: 20_000 });
    // Live, no reload: the phases move and the scores arrive iteration by iteration.
    await page.locator('[data-testid="phases"] li[aria-current="step"]').waitFor({ timeout: 30_000 });
    await expect
      .poll(() => page.locator('[data-testid="score-chart"] circle').count(), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(1);
    await page.locator('article[data-haystack-run][data-status="completed"]').waitFor({ timeout: 90_000 });
    expect(await page.getByTestId('termination').innerText()).toMatch(
      /Ended: (max iterations|plateau|threshold reached), final score \d+ of 10\./,
    );
    expect(await page.locator('[data-testid="prompts"] tbody tr').count()).toBeGreaterThanOrEqual(1);
    expect(await page.getByTestId('best').innerText()).toContain('HALLMARK_INTERFERON_GAMMA_RESPONSE');
    expect(await run.getByTestId('not-used').innerText()).toContain('IL-37');
    const comparison = page.getByTestId('comparison');
    expect(await comparison.getByRole('heading').innerText()).toBe('IFN-gamma compared with IL-4');
    expect(await comparison.innerText()).toMatch(/Higher under IFN-gamma: \w+/);
    expect(await page.locator('[data-testid="phases"] li').allInnerTexts()).toContain('comparison');
    const report = page.getByRole('link', { name: 'Report (HTML)' });
    await report.waitFor({ timeout: 20_000 });
    await screenshot(page, 'haystack-run-completed');
    // The report opens in a tab of its own and shows there (not a download): self-contained.
    const [tab] = await Promise.all([page.context().waitForEvent('page'), report.click()]);
    await tab.getByRole('heading', { name: 'HAYSTACK report' }).waitFor({ timeout: 20_000 });
    expect(await tab.locator('svg[aria-label="Grounding scores per iteration"]').count()).toBe(1);
    expect(await tab.locator('#comparison').innerText()).toBe('IFN-gamma compared with IL-4');
    expect(await tab.locator('body').innerText()).toContain('Synthetic data, stand-in model.');
    await screenshot(tab, 'haystack-report');
    await tab.close();
    // On a phone-sized window the run page still reads: no table or chart cut off the screen.
    const narrow = await openAs(browser, stack.url, ALICE, { width: 420, height: 860 });
    await narrow.page.goto(page.url());
    await narrow.page
      .locator('article[data-haystack-run][data-status="completed"]')
      .waitFor({ timeout: 20_000 });
    expect(await narrow.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
    await screenshot(narrow.page, 'haystack-run-narrow');
    await narrow.context.close();
    expect(errors).toEqual([]);
  }, 180_000);
});
