import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoFastqs } from '../../scripts/local/warehouse';
import { asUser, request } from '../helpers/api-server';
import { launchBrowser, openAs, screenshot, sidewaysScroll, type UserPage } from '../helpers/browser';
import { startTestStack, type TestStack } from '../helpers/stack';
import { type TestWarehouse, testWarehouse } from '../helpers/warehouse';

/**
 * The loop the README walks, on the page alone: launch a run that runs out of memory (the
 * replay's switch, added in the Parameters step), ask the assistant why it failed, apply its
 * proposal, and recover.
 */
const ALICE = 'alice@example.com';
let stack: TestStack;
let warehouse: TestWarehouse;
let browser: Browser;
let alice: UserPage;

beforeAll(async () => {
  warehouse = await testWarehouse();
  stack = await startTestStack({ env: warehouse.env, withPage: true });
  await createDemoFastqs(stack.gcs, warehouse.seed);
  browser = await launchBrowser();
  alice = await openAs(browser, stack.url, ALICE);
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await warehouse?.drop();
});

describe('fail → ask the assistant → apply → recover, on the page', () => {
  it('walks the loop: a run out of memory, the proposal of more memory, a recovery that completes', async () => {
    const { page, errors } = alice;
    await page.goto('/#/new');
    await page.locator('tr[data-ngs-run] input[type=checkbox]').first().check({ timeout: 20_000 });
    await page.getByRole('button', { name: /Next: Samples/ }).click();
    await page.locator('[data-sample]').first().waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: /Next: Samplesheet/ }).click();
    await page.getByTestId('samplesheet-ok').waitFor({ timeout: 45_000 });
    await page.getByRole('button', { name: /Next: Parameters/ }).click();

    await page.locator('[data-param="aligner"] select').selectOption('star', { timeout: 20_000 });
    await page.locator('[data-param="protocol"] input').fill('10XV3');
    await page.locator('[data-param="genome"] input').fill('GRCh38');

    // The replay's switches are not the pipeline's params: added by hand, listed as such.
    const add = page.getByTestId('add-param');
    await add.getByLabel('Name').fill('genome');
    await add.getByLabel('Value').fill('GRCh37');
    await add.getByRole('button', { name: 'Add parameter' }).click();
    expect(await add.getByRole('alert').innerText()).toMatch(/^genome has its own field above/);
    await add.getByLabel('Name').fill('replay_fail_process');
    await add.getByLabel('Value').fill('STAR_ALIGN');
    await add.getByRole('button', { name: 'Add parameter' }).click();
    await add.getByLabel('Name').fill('replay_fail_exit_code');
    await add.getByLabel('Value').fill('137');
    await add.getByLabel('Value').press('Enter');
    const unknown = page.getByTestId('unknown-params');
    await expect
      .poll(() => unknown.innerText(), { timeout: 20_000 })
      .toMatch(/replay_fail_exit_code = 137 — Unrecognised param "replay_fail_exit_code"/);
    expect(await unknown.innerText()).toContain('replay_fail_process = "STAR_ALIGN"');
    await expect.poll(() => page.locator('.field-error').count(), { timeout: 20_000 }).toBe(0);
    await unknown.scrollIntoViewIfNeeded();
    await screenshot(page, 'loop-1-add-param');
    await page.setViewportSize({ width: 420, height: 860 });
    expect(await sidewaysScroll(page), 'the Parameters step with added params').toBe(0);
    await screenshot(page, 'narrow-loop-1-add-param');
    await page.setViewportSize({ width: 1400, height: 900 });

    await page.getByRole('button', { name: /Next: Review/ }).click();
    const review = page.getByTestId('review');
    await review.waitFor({ timeout: 20_000 });
    expect(await review.innerText()).toContain('replay_fail_exit_code = 137');
    await page.getByRole('button', { name: 'Launch run' }).click();

    // 1. It fails, and says why in the task's own terms.
    const detail = page.locator('article.run-detail');
    await detail.waitFor({ timeout: 20_000 });
    const runId = (await detail.getAttribute('data-run-id'))!;
    await page.locator('article.run-detail[data-status="failed"]').waitFor({ timeout: 90_000 });
    await expect.poll(() => page.getByTestId('task-exit-code').count(), { timeout: 20_000 }).toBe(1);
    expect(await page.getByTestId('task-exit-code').innerText()).toMatch(/Task exit code\s*137/);
    await screenshot(page, 'loop-2-failed');

    // 2. Ask the assistant; it reads the run and the task's stderr and proposes more memory.
    await page.getByRole('button', { name: 'Ask the assistant' }).click();
    const drawer = page.getByRole('complementary', { name: 'Assistant' });
    await drawer.getByLabel('Message the assistant').fill('Why did this run fail?');
    await drawer.getByLabel('Message the assistant').press('Enter');
    const proposal = drawer.getByTestId('proposal');
    await proposal.waitFor({ timeout: 30_000 });
    expect(await proposal.getAttribute('data-kind')).toBe('recovery');
    expect(await drawer.locator('[data-role="assistant"]').innerText()).toMatch(/STAR_ALIGN.*exit code 137/s);
    await screenshot(page, 'loop-3-proposal');
    await page.setViewportSize({ width: 420, height: 860 });
    expect(await sidewaysScroll(page), 'the assistant with its proposal').toBe(0);
    await screenshot(page, 'narrow-loop-3-proposal');
    await page.setViewportSize({ width: 1400, height: 900 });

    // 3. Apply: the Recover dialog, filled in; nothing starts until it is confirmed.
    await proposal.getByRole('button', { name: 'Apply: open Recover' }).click();
    const dialog = page.getByRole('dialog', { name: `Recover ${runId}` });
    await dialog.waitFor();
    const memory = /withName: 'STAR_ALIGN' \{\s*memory = (\d+)\.GB/.exec(
      await dialog.getByLabel(/Extra Nextflow config/).inputValue(),
    );
    expect(Number(memory?.[1])).toBe(144);
    await dialog.getByRole('button', { name: 'Launch recovery' }).click();

    // 4. The recovery resumes: what finished is cached, STAR_ALIGN runs with the memory, it completes.
    await page.waitForURL((url) => !url.hash.includes(runId), { timeout: 20_000 });
    await page.locator('article.run-detail[data-status="completed"]').waitFor({ timeout: 90_000 });
    await expect
      .poll(() => page.locator('tr[data-task-status="CACHED"]').count(), { timeout: 20_000 })
      .toBeGreaterThan(0);
    const chain = page.getByRole('region', { name: 'Recovery chain' });
    expect(await chain.innerText()).toContain(runId);
    await screenshot(page, 'loop-4-recovered');
    const recoveryId = (await detail.getAttribute('data-run-id'))!;
    const tasks = await request<{ tasks: { process: string; status: string; memory: number }[] }>(
      `${stack.url}/api/runs/${recoveryId}/tasks?page_size=500`,
      { headers: asUser(ALICE) },
    );
    // Those that ran again ran with 144 GB; those that had finished are reused as they were.
    const rerun = tasks.body.tasks.filter((t) => t.process.endsWith('STAR_ALIGN') && t.status !== 'CACHED');
    expect(rerun.length).toBeGreaterThan(0);
    expect(rerun.map((t) => [t.status, t.memory / 2 ** 30])).toEqual(rerun.map(() => ['COMPLETED', 144]));
    expect(errors).toEqual([]);
  }, 240_000);
});
