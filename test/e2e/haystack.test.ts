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
  it('asks a question, shows the control check, and follows the run live to its results', async () => {
    const { page, errors } = alice;
    await page.goto('/#/haystack');
    await page.getByRole('heading', { name: 'Cell prompting' }).waitFor();
    expect(await page.getByTestId('synthetic-label').innerText()).toContain(
      'Synthetic data, stand-in model.',
    );
    await page
      .getByLabel('Question', { exact: true })
      .fill('How would lung fibroblasts respond to interferon gamma?');
    const check = page.getByTestId('control-check');
    await expect
      .poll(() => check.innerText(), { timeout: 20_000 })
      .toMatch(/\d+ matched control cells \(PBS; donors .*\): a synthetic control is possible/);
    await page.getByLabel('Iterations at most').fill('3');
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
    const report = page.getByRole('link', { name: 'Report (HTML)' });
    await report.waitFor({ timeout: 20_000 });
    await screenshot(page, 'haystack-run-completed');
    const download = await fetch(String(await report.getAttribute('href')));
    expect(download.status).toBe(200);
    const html = await download.text();
    expect(html).toContain('Synthetic data, stand-in model.');
    // The downloaded report renders in the browser on its own (self-contained: no script, no fetch).
    const tab = await page.context().newPage();
    await tab.setContent(html);
    expect(await tab.getByRole('heading', { name: 'HAYSTACK report' }).count()).toBe(1);
    expect(await tab.locator('svg[aria-label="Grounding scores per iteration"]').count()).toBe(1);
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
