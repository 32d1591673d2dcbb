import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreRunStore } from '../../functions/adapters/firestore-run-store';
import { NEXTFLOW_CARRY_ON } from '../../functions/core/runs/kind';
import type { Run } from '../../functions/core/runs/run-model';
import { localRestartMessage } from '../../functions/core/shared/kernel';

const LOCAL_RESTART_MESSAGE = localRestartMessage({ carryOn: NEXTFLOW_CARRY_ON });

import { asUser, request } from '../helpers/api-server';
import {
  launchBrowser,
  openAs,
  SCREENSHOTS,
  screenshot,
  sidewaysScroll,
  type UserPage,
} from '../helpers/browser';
import { storedRunRecord } from '../helpers/runs';
import { runBody } from '../helpers/samplesheets';
import { startTestStack, type TestStack } from '../helpers/stack';

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
let stack: TestStack;
let browser: Browser;
let alice: UserPage;
let bob: UserPage;
let failedRunId: string;
let oomRunId: string;

beforeAll(async () => {
  stack = await startTestStack({ withPage: true });
  browser = await launchBrowser();
  alice = await openAs(browser, stack.url, ALICE);
  bob = await openAs(browser, stack.url, BOB, { width: 420, height: 860 });
  const created = await request<{ run_id: string }>(`${stack.url}/api/runs`, {
    method: 'POST',
    json: runBody({
      params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3', replay_fail_process: 'STAR_ALIGN' },
    }),
    headers: asUser(ALICE),
  });
  expect(created.status).toBe(201);
  failedRunId = created.body.run_id;
  const oom = await request<{ run_id: string }>(`${stack.url}/api/runs`, {
    method: 'POST',
    json: runBody({
      params: {
        aligner: 'star',
        genome: 'GRCh38',
        protocol: '10XV3',
        replay_fail_process: 'STAR_ALIGN',
        replay_fail_exit_code: 137,
      },
    }),
    headers: asUser(ALICE),
  });
  expect(oom.status).toBe(201);
  oomRunId = oom.body.run_id;
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe('a failed run', () => {
  it('shows the failed task, its exit code and error, and opens the task’s stderr', async () => {
    const { page } = alice;
    await page.goto(`/#/runs/${failedRunId}`);
    await page.locator('article.run-detail[data-status="failed"]').waitFor({ timeout: 60_000 });
    const panel = page.getByTestId('error-panel');
    await panel.waitFor();
    await expect.poll(() => panel.innerText(), { timeout: 20_000 }).toMatch(/STAR_ALIGN/);
    const text = await panel.innerText();
    expect(text).toMatch(/Task exit code\s*\n?\s*1\s*\n?\s*Nextflow exited with\s*\n?\s*1/);
    // The card leads with what the failing command itself wrote to stderr.
    await expect.poll(() => page.getByTestId('command-error').count(), { timeout: 20_000 }).toBe(1);
    expect((await page.getByTestId('command-error').innerText()).trim().length).toBeGreaterThan(0);
    const logs = page.getByTestId('task-logs');
    await logs.waitFor({ timeout: 20_000 });
    expect(await logs.innerText()).toMatch(/STAR_ALIGN/);
    await expect
      .poll(() => page.locator('tr[data-task-status="FAILED"]').count(), { timeout: 20_000 })
      .toBeGreaterThan(0);
    await screenshot(page, 'detail-failed');
  }, 90_000);

  it('out of memory: shows the failed task’s exit code 137 and what it means, apart from Nextflow’s own exit 1', async () => {
    const narrow = await openAs(browser, stack.url, ALICE, { width: 420, height: 860 });
    try {
      for (const { page } of [alice, narrow]) {
        await page.goto(`/#/runs/${oomRunId}`);
        const panel = page.getByTestId('error-panel');
        await panel.waitFor({ timeout: 60_000 });
        await expect.poll(() => page.getByTestId('task-exit-code').count(), { timeout: 20_000 }).toBe(1);
        expect(await page.getByTestId('task-exit-code').innerText()).toMatch(/Task exit code\s*137/);
        expect(await page.getByTestId('run-exit-code').innerText()).toMatch(/Nextflow exited with\s*1/);
        expect(await panel.locator('.hint').innerText()).toMatch(/^Out of memory/);
      }
      await screenshot(alice.page, 'detail-failed-oom');
      expect(await sidewaysScroll(narrow.page)).toBe(0);
      await screenshot(narrow.page, 'narrow-detail-failed-oom');
    } finally {
      await narrow.context.close();
    }
  }, 90_000);

  it('opens a task’s logs where the eye is: the panel scrolled into view, the row marked, a way back', async () => {
    const narrow = await openAs(browser, stack.url, ALICE, { width: 420, height: 860 });
    try {
      for (const [{ page, errors }, name] of [
        [alice, 'detail-task-logs-opened'],
        [narrow, 'narrow-detail-task-logs-opened'],
      ] as const) {
        await page.goto(`/#/runs/${failedRunId}`);
        await page.locator('article.run-detail[data-status="failed"]').waitFor({ timeout: 60_000 });
        const first = page.locator('tbody tr[id^="task-row-"]').first();
        await first.waitFor({ timeout: 45_000 });
        const id = (await first.getAttribute('id'))!.replace('task-row-', '');
        await page.getByRole('button', { name: `Logs of task ${id}`, exact: true }).click();
        const panel = page.getByRole('region', { name: `Logs of task ${id}` });
        await panel.waitFor();
        // In sight: its top within the window, not a screenful below the row.
        await expect
          .poll(async () => {
            const box = await panel.boundingBox();
            const height = page.viewportSize()!.height;
            return box !== null && box.y >= -1 && box.y < height;
          })
          .toBe(true);
        expect(await first.getAttribute('class')).toContain('row-open');
        expect(
          await page
            .getByRole('button', { name: `Logs of task ${id}`, exact: true })
            .getAttribute('aria-expanded'),
        ).toBe('true');
        expect(await sidewaysScroll(page)).toBe(0);
        await screenshot(page, name);
        await panel.getByRole('button', { name: `↑ Back to task ${id}` }).click();
        await expect
          .poll(async () => {
            const box = await first.boundingBox();
            return box !== null && box.y >= 0 && box.y < page.viewportSize()!.height;
          })
          .toBe(true);
        expect(errors).toEqual([]);
      }
    } finally {
      await narrow.context.close();
    }
  }, 90_000);

  it('is recovered from the page: the resume completes with the finished tasks shown as cached', async () => {
    const { page, errors } = alice;
    await page.goto(`/#/runs/${failedRunId}`);
    await page.getByRole('button', { name: 'Recover' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(/Notes/).fill('STAR_ALIGN fixed');
    const overrides = dialog.getByLabel(/Param overrides/);
    await overrides.fill('{"replay_fail_process": ');
    await dialog.getByText('The overrides are not valid JSON').waitFor();
    expect(await dialog.getByRole('button', { name: 'Launch recovery' }).isDisabled()).toBe(true);
    await overrides.fill('{"replay_fail_process": null}');
    await dialog.getByRole('button', { name: 'Launch recovery' }).click();

    await page.waitForURL((url) => !url.hash.includes(failedRunId), { timeout: 20_000 });
    const detail = page.locator('article.run-detail');
    await detail.waitFor();
    const recoveryId = await detail.getAttribute('data-run-id');
    expect(recoveryId).not.toBe(failedRunId);
    await page.locator('article.run-detail[data-status="completed"]').waitFor({ timeout: 60_000 });
    await expect
      .poll(() => page.locator('tr[data-task-status="CACHED"]').count(), { timeout: 20_000 })
      .toBeGreaterThan(0);
    const progress = await page
      .getByRole('progressbar', { name: 'Overall progress' })
      .getAttribute('aria-valuetext');
    expect(progress).toMatch(/\(\d+ cached\)/);
    const chain = page.getByRole('region', { name: 'Recovery chain' });
    expect(await chain.innerText()).toContain(failedRunId);
    expect(await chain.innerText()).toContain('STAR_ALIGN fixed');
    // The chain's cost in all, beside this run's own, once both runs' traces are costed.
    await expect
      .poll(() => chain.getByTestId('chain-cost').textContent(), { timeout: 20_000 })
      .toMatch(
        /^The 2 runs of this recovery chain cost about \$\d+\.\d\d in all; this run's own: about \$\d+\.\d\d\./,
      );
    await screenshot(page, 'detail-recovered');

    // Back on the failed run: it says who recovered it, and asks before a second recovery.
    await page.goto(`/#/runs/${failedRunId}`);
    const note = page.getByTestId('recovered-by');
    await note.waitFor({ timeout: 20_000 });
    expect(await note.innerText()).toContain(`Recovered by ${recoveryId} (completed)`);
    await page.getByRole('button', { name: 'Recover' }).click();
    const again = page.getByRole('dialog', { name: `${failedRunId} was already recovered` });
    await again.waitFor();
    await again.getByRole('button', { name: 'Recover again' }).click();
    const form = page.getByRole('dialog', { name: `Recover ${failedRunId}` });
    await form.waitFor();
    // The extra config starts as the run's own: what is left there replaces it.
    expect(await form.getByLabel(/Extra Nextflow config/).inputValue()).toBe('');
    expect(await form.innerText()).toContain('what you leave here replaces it for the recovery');
    await screenshot(page, 'detail-recover-again');
    await form.getByRole('button', { name: 'Back' }).click();
    expect(errors).toEqual([]);
  }, 120_000);

  it('relaunches any run with changes: the wizard opens at Parameters with its inputs', async () => {
    const { page, errors } = alice;
    await page.goto(`/#/runs/${oomRunId}`);
    await page.getByRole('button', { name: 'Relaunch with changes' }).click();
    await page.waitForURL(/#\/new$/);
    await page.getByRole('heading', { name: /Step 4 of 5: Parameters/ }).waitFor({ timeout: 20_000 });
    expect(await page.getByLabel(/^aligner/).inputValue()).toBe('star');
    // The replay's own params are not the pipeline's: said at the top, each removable.
    const unknown = page.getByTestId('unknown-params');
    await unknown.waitFor({ timeout: 20_000 });
    expect(await unknown.innerText()).toContain('Unrecognised param "replay_fail_process"');
    await screenshot(page, 'wizard-relaunch');
    // The samplesheet as the run was launched with it; the platform's own params left out.
    const key = `arc:new-run-draft:v1:${ALICE}`;
    const draft = JSON.parse((await page.evaluate((k) => localStorage.getItem(k), key)) ?? '{}') as {
      samplesheet: string;
      params: Record<string, unknown>;
    };
    expect(draft.samplesheet).toMatch(/^sample,fastq_1,fastq_2/);
    expect(draft.samplesheet).toContain('SAMPLE_1');
    expect(draft.params).not.toHaveProperty('outdir');
    await page.evaluate((k) => localStorage.removeItem(k), key);
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('a failed run sample by sample', () => {
  it('shows which sample failed and why (1400 and 420 px), and recovers that sample alone', async () => {
    const created = await request<{ run_id: string }>(`${stack.url}/api/runs`, {
      method: 'POST',
      json: runBody({
        params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3', replay_fail_process: 'STAR_ALIGN' },
      }),
      headers: asUser(ALICE),
    });
    expect(created.status).toBe(201);
    const runId = created.body.run_id;
    const narrow = await openAs(browser, stack.url, ALICE, { width: 420, height: 860 });
    try {
      for (const [{ page }, name] of [
        [alice, 'detail-samples-failed'],
        [narrow, 'narrow-detail-samples-failed'],
      ] as const) {
        await page.goto(`/#/runs/${runId}`);
        await page.locator('article.run-detail[data-status="failed"]').waitFor({ timeout: 60_000 });
        const panel = page.getByTestId('samples');
        const failed = panel.locator('tr[data-sample="SAMPLE_1"]');
        await expect
          .poll(() => failed.getAttribute('data-sample-status'), { timeout: 30_000 })
          .toBe('failed');
        await expect
          .poll(() => panel.locator('tr[data-sample="SAMPLE_2"]').getAttribute('data-sample-status'), {
            timeout: 20_000,
          })
          .toBe('stopped');
        // The failing task and the end of what it wrote, a click away in the sample's row.
        await failed.getByTestId('sample-failure').locator('summary').click();
        expect(await failed.getByTestId('sample-failure').innerText()).toMatch(
          /STAR_ALIGN \(SAMPLE_1\)[\s\S]*exited 1/,
        );
        expect(await failed.locator('pre.log').innerText()).not.toBe('');
        // Cost shares come with the run's metrics, and say what they are.
        await expect
          .poll(() => panel.getByTestId('samples-basis').innerText(), { timeout: 20_000 })
          .toContain("the run's estimate × the sample's share of its CPU-hours");
        expect(await failed.locator('td.num').nth(1).innerText()).toMatch(/\$\d+\.\d\d/);
        expect(await sidewaysScroll(page)).toBe(0);
        await screenshot(page, name);
        // The panel alone, as a scientist reads it.
        await panel.screenshot({ path: join(SCREENSHOTS, `${name}-panel.png`) });
      }
      // On a phone, the Recover dialog's preview fits too (a dry run: nothing is launched).
      await narrow.page.getByRole('button', { name: 'Relaunch SAMPLE_1 only' }).click();
      const narrowDialog = narrow.page.getByRole('dialog', { name: `Recover ${runId}` });
      await narrowDialog.getByLabel(/Param overrides/).fill('{"replay_fail_process": null}');
      await narrowDialog.getByRole('button', { name: 'Preview what runs' }).click();
      await narrowDialog.getByTestId('resume-preview').waitFor({ timeout: 20_000 });
      expect(await sidewaysScroll(narrow.page)).toBe(0);
      await narrowDialog.screenshot({ path: join(SCREENSHOTS, 'narrow-recover-preview.png') });
      await narrowDialog.getByRole('button', { name: 'Back' }).click();
    } finally {
      await narrow.context.close();
    }

    const { page, errors } = alice;
    await page.getByRole('button', { name: 'Relaunch SAMPLE_1 only' }).click();
    const dialog = page.getByRole('dialog', { name: `Recover ${runId}` });
    await dialog.waitFor();
    const only = dialog.getByTestId('recover-samples');
    expect((await only.textContent())!.replace(/\s+/g, ' ')).toContain('Only sample SAMPLE_1:');
    expect(await only.locator('input').isChecked()).toBe(true);
    await dialog.getByLabel(/Param overrides/).fill('{"replay_fail_process": null}');
    // What will run, before anything does: counts, the estimate, and each task's reason.
    await dialog.getByRole('button', { name: 'Preview what runs' }).click();
    const preview = dialog.getByTestId('resume-preview');
    await preview.waitFor({ timeout: 20_000 });
    expect(await preview.innerText()).toMatch(
      /\d+ reused · \d+ run again · \d+ may run again · \d+ left out/,
    );
    expect(await preview.getByTestId('resume-estimate').innerText()).toMatch(
      /about \d+\.\d\d CPU-hours, (\$\d+\.\d\d|< \$0\.01)/,
    );
    expect(await preview.innerText()).toContain('Nextflow decides what -resume reuses');
    await screenshot(page, 'detail-recover-failed-sample');
    await dialog.getByRole('button', { name: 'Launch recovery' }).click();
    await page.waitForURL((url) => !url.hash.includes(runId), { timeout: 20_000 });
    await page.locator('article.run-detail[data-status="completed"]').waitFor({ timeout: 60_000 });
    const panel = page.getByTestId('samples');
    await expect
      .poll(() => panel.locator('tr[data-sample]:not([data-sample=""])').count(), { timeout: 20_000 })
      .toBe(1);
    const row = panel.locator('tr[data-sample="SAMPLE_1"]');
    await expect.poll(() => row.getAttribute('data-sample-status'), { timeout: 20_000 }).toBe('done');
    expect(await row.innerText()).toMatch(/\(\d+ cached\)/);
    // The task that failed before says so where it ran again.
    await expect
      .poll(() => page.getByTestId('rerun-reason').allInnerTexts(), { timeout: 20_000 })
      .toContainEqual(expect.stringMatching(/^ran again: it failed in run-[a-z0-9]{12} \(exit 1\)$/));
    await screenshot(page, 'detail-samples-recovered');

    // The recovery beside its parent: the param it dropped, the sample it left out.
    const recoveryId = (await page.locator('article.run-detail').getAttribute('data-run-id'))!;
    await page.getByTestId('compare-parent').click();
    const params = page.getByTestId('compare-params');
    await params.waitFor({ timeout: 20_000 });
    expect(await params.locator('tr[data-param="replay_fail_process"]').innerText()).toMatch(
      /replay_fail_process\s+"STAR_ALIGN"\s+—/,
    );
    expect(await page.getByTestId('compare-samples').innerText()).toContain('Only in a: SAMPLE_2');
    await expect
      .poll(() => page.getByTestId('compare-processes').locator('tr[data-process="FASTQC"]').innerText())
      .toMatch(/FASTQC\s+2 · 0 · 0\s+0 · 1 · 0/);
    await screenshot(page, 'compare-recovery-parent');
    const narrowCompare = await openAs(browser, stack.url, ALICE, { width: 420, height: 860 });
    try {
      await narrowCompare.page.goto(`/#/compare?a=${runId}&b=${recoveryId}`);
      await narrowCompare.page.getByTestId('compare-processes').waitFor({ timeout: 20_000 });
      expect(await sidewaysScroll(narrowCompare.page)).toBe(0);
      await screenshot(narrowCompare.page, 'narrow-compare-recovery-parent');
    } finally {
      await narrowCompare.context.close();
    }

    // From the runs list: tick two runs, compare them.
    await page.goto('/#/');
    await page.getByRole('checkbox', { name: `Compare ${runId}` }).check();
    await page.getByRole('checkbox', { name: `Compare ${recoveryId}` }).check();
    await page.getByTestId('compare-picked').click();
    await page
      .getByRole('heading', { name: `Compare ${runId} with ${recoveryId}` })
      .waitFor({ timeout: 20_000 });
    expect(errors).toEqual([]);
  }, 180_000);
});

describe('runs that stopped outside their tasks', () => {
  /** A run document as the functions leave it, written straight to the emulator. */
  async function storedRun(overrides: Partial<Run>): Promise<string> {
    const run = storedRunRecord(overrides, stack.config.runsBucket);
    await new FirestoreRunStore(stack.firestore).create(run);
    return run.run_id;
  }

  it('a run failed by a stack restart says no task failed and what to do, without contradicting itself', async () => {
    const { page, errors } = alice;
    const runId = await storedRun({ status: 'failed', error_message: LOCAL_RESTART_MESSAGE });
    await page.goto(`/#/runs/${runId}`);
    const panel = page.getByTestId('error-panel');
    await panel.waitFor({ timeout: 20_000 });
    const text = await panel.innerText();
    expect(text).toContain(LOCAL_RESTART_MESSAGE);
    // Nothing to show where there is nothing: no failed task, no exit code.
    expect(text).not.toMatch(/Failed task|task table below|Exit code/);
    expect(await page.getByTestId('error-next-step').innerText()).toMatch(/^No task failed/);
    expect(errors).toEqual([]);
  }, 60_000);

  it('a run waiting for Batch capacity reads Queued, with the reason and since when', async () => {
    const { page, errors } = alice;
    const since = new Date().toISOString();
    const reason = 'System busy: Google Batch refused to create the job because a quota is exhausted.';
    const runId = await storedRun({
      status: 'pending',
      queue: { kind: 'batch_quota', reason, since, checked_at: since },
    });
    await page.goto(`/#/runs/${runId}`);
    const note = page.getByTestId('queue-note');
    await note.waitFor({ timeout: 20_000 });
    expect(await note.innerText()).toContain(reason);
    expect(await page.locator('article.run-detail .badge[data-queued="true"]').innerText()).toBe('Queued');
    await screenshot(page, 'detail-queued');
    expect(errors).toEqual([]);
  }, 60_000);

  it('a run whose orchestrator Batch retried says which attempt runs and why the one before ended', async () => {
    const { page, errors } = alice;
    const runId = await storedRun({
      status: 'running',
      orchestrator_attempt: 2,
      orchestrator_retries: [
        {
          attempt: 2,
          at: new Date().toISOString(),
          exit_code: 50001,
          reason: 'the Spot VM was preempted (exit 50001)',
        },
      ],
    });
    await page.goto(`/#/runs/${runId}`);
    const note = page.getByTestId('orchestrator-retries');
    await note.waitFor({ timeout: 20_000 });
    expect(await note.innerText()).toMatch(/Attempt 2:.*because the Spot VM was preempted \(exit 50001\)/s);
    await screenshot(page, 'detail-orchestrator-retried');
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('another user', () => {
  it('sees neither the first user’s runs in the list nor a run by its address (narrow window)', async () => {
    const { page, errors } = bob;
    await page.goto('/');
    await page.getByTestId('empty-state').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('user').innerText()).toContain(BOB);
    expect(await page.locator(`tr[data-run-id="${failedRunId}"]`).count()).toBe(0);
    await screenshot(page, 'list-empty-narrow');

    await page.goto(`/#/runs/${failedRunId}`);
    await page.getByRole('heading', { name: 'Run not found' }).waitFor({ timeout: 20_000 });
    // The API agrees: the run is not Bob's.
    const viaApi = await request(`${stack.url}/api/runs/${failedRunId}`, { headers: asUser(BOB) });
    expect(viaApi.status).toBe(404);
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('the assistant on a failed run', () => {
  it('answers "why did this fail?" with the task and exit code, and its proposed recovery opens the Recover dialog prefilled', async () => {
    const { page, errors } = alice;
    await page.goto(`/#/runs/${oomRunId}`);
    await page.locator('article.run-detail[data-status="failed"]').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Ask the assistant' }).click();
    const drawer = page.getByRole('complementary', { name: 'Assistant' });
    await expect.poll(() => drawer.getByTestId('assistant-model').innerText()).toContain('stand-in');
    const box = drawer.getByLabel('Message the assistant');
    await box.fill('Why did this run fail?');
    await box.press('Enter');
    const answer = drawer.locator('[data-role="assistant"]');
    await expect.poll(() => answer.getByTestId('tool-chip').count(), { timeout: 20_000 }).toBe(3);
    expect(await answer.getByTestId('tool-chip').nth(1).innerText()).toMatch(/^read .*STAR_ALIGN.* stderr$/);
    await expect.poll(() => answer.innerText(), { timeout: 20_000 }).toMatch(/STAR_ALIGN.*exit code 137/s);
    const proposal = answer.getByTestId('proposal');
    await proposal.waitFor();
    expect(await proposal.getAttribute('data-kind')).toBe('recovery');
    await screenshot(page, 'assistant-failed-run');
    await proposal.getByRole('button', { name: 'Apply: open Recover' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.getByRole('heading').innerText()).toBe(`Recover ${oomRunId}`);
    expect(await dialog.getByLabel(/Extra Nextflow config/).inputValue()).toMatch(
      /withName: '.*STAR_ALIGN' \{\s*memory = \d+\.GB/,
    );
    expect(await dialog.getByLabel(/Notes/).inputValue()).toMatch(/^Proposed by the assistant: .*exit 137/);
    expect(await dialog.getByRole('checkbox').isChecked()).toBe(true);
    await screenshot(page, 'assistant-recover-prefilled');
    await dialog.getByRole('button', { name: 'Back' }).click();

    // The conversation is kept: after a reload, History reopens it with its proposal.
    await page.reload();
    await page.getByRole('button', { name: 'Ask the assistant' }).click();
    await drawer.getByRole('button', { name: 'History' }).click();
    await drawer
      .getByRole('navigation', { name: 'Earlier conversations' })
      .getByRole('button', { name: 'Why did this run fail?' })
      .first()
      .click();
    await drawer.getByTestId('proposal').waitFor();
    expect(await drawer.locator('[data-role="assistant"]').innerText()).toMatch(/exit code 137/);
    expect(errors).toEqual([]);
  }, 90_000);
});

describe('a failed run and the wizard in a phone-sized window (420 px)', () => {
  it('fit without scrolling sideways', async () => {
    const narrow = await openAs(browser, stack.url, ALICE, { width: 420, height: 860 });
    try {
      const { page, errors } = narrow;
      await page.goto(`/#/runs/${failedRunId}`);
      await page.getByTestId('error-panel').waitFor({ timeout: 30_000 });
      expect(await sidewaysScroll(page), 'a failed run').toBe(0);
      await screenshot(page, 'narrow-detail-failed');
      await page.getByRole('button', { name: 'Relaunch with changes' }).click();
      await page.getByRole('heading', { name: /Step 4 of 5: Parameters/ }).waitFor({ timeout: 20_000 });
      expect(await sidewaysScroll(page), 'the Parameters step').toBe(0);
      await screenshot(page, 'narrow-wizard-4-params');
      await page.getByRole('button', { name: /3\. Samplesheet/ }).click();
      await page.getByRole('heading', { name: /Step 3 of 5: Samplesheet/ }).waitFor();
      expect(await sidewaysScroll(page), 'the Samplesheet step').toBe(0);
      await screenshot(page, 'narrow-wizard-3-samplesheet');
      await page.evaluate((k) => localStorage.removeItem(k), `arc:new-run-draft:v1:${ALICE}`);
      expect(errors).toEqual([]);
    } finally {
      await narrow.context.close();
    }
  }, 60_000);
});

describe('labels and notifications in the page', () => {
  it('adds a label on the run page, lists the runs that carry it, and removes it', async () => {
    const { page, errors } = alice;
    await page.goto(`/#/runs/${oomRunId}`);
    const labels = page.getByTestId('labels');
    await labels.waitFor({ timeout: 30_000 });
    await labels.getByLabel('New label').fill('Team=X');
    await labels.getByRole('button', { name: 'Add label' }).click();
    await labels
      .getByRole('alert')
      .filter({ hasText: /lowercase letters/ })
      .waitFor();
    await labels.getByLabel('New label').fill('team=genomics');
    await labels.getByRole('button', { name: 'Add label' }).click();
    await labels.getByRole('link', { name: 'team=genomics' }).waitFor();
    await screenshot(page, 'detail-labels');

    await labels.getByRole('link', { name: 'team=genomics' }).click();
    await page.waitForURL(/#\/runs\?label=team%3Dgenomics/);
    const rows = page.locator('table.runs tbody tr');
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(1);
    expect(await rows.first().getAttribute('data-run-id')).toBe(oomRunId);
    expect(await page.getByRole('textbox', { name: 'Label' }).inputValue()).toBe('team=genomics');

    await page.goto(`/#/runs/${oomRunId}`);
    await labels.getByRole('button', { name: 'Remove label team' }).click();
    await expect.poll(() => labels.getByRole('link').count(), { timeout: 20_000 }).toBe(0);
    expect(errors).toEqual([]);
  }, 90_000);

  it('saves a webhook and email for failed runs and shows the signing secret', async () => {
    const { page, errors } = alice;
    await page.goto('/#/settings');
    await page.getByRole('heading', { name: 'Notifications' }).waitFor();
    await page.getByLabel('Webhook URL').fill('ftp://hooks.example.org/arc');
    await page.getByRole('button', { name: 'Save' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /webhook_url must be an http\(s\) URL/ })
      .waitFor();
    await page.getByLabel('Webhook URL').fill('https://hooks.example.org/arc');
    await page.getByLabel('Also email me').check();
    await page.getByLabel('completed').uncheck();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    expect(await page.getByTestId('webhook-secret').innerText()).toMatch(/whsec_[A-Za-z0-9_-]{40,}/);
    await screenshot(page, 'settings-notifications');
    const stored = await request<{ webhook_url: string; email: boolean; statuses: string[] }>(
      `${stack.url}/api/me/preferences`,
      { headers: asUser(ALICE) },
    );
    expect(stored.body).toMatchObject({
      webhook_url: 'https://hooks.example.org/arc',
      email: true,
      statuses: ['failed', 'cancelled'],
    });
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('what keeping a work dir costs, in the page', () => {
  it('shows the chain’s work dir on the run page and in Storage (1400 and 420 px), and frees it from the page', async () => {
    const { page, errors } = alice;
    // The out-of-memory run is never recovered here: its chain is its own.
    await page.goto(`/#/runs/${oomRunId}`);
    const panel = page.getByTestId('work-dir');
    await panel.waitFor({ timeout: 60_000 });
    await expect
      .poll(() => page.getByTestId('work-dir-summary').innerText(), { timeout: 20_000 })
      .toMatch(
        / in \d+ objects, (\$\d+\.\d\d|< \$0\.01) a month to keep; can be resumed in full until \d{4}-\d\d-\d\d\.$/,
      );
    expect(await page.getByTestId('work-dir-cost').innerText()).toContain(
      'per GiB-month (Cloud Storage Standard',
    );
    expect(await page.getByTestId('work-dir-until').innerText()).toMatch(
      /^in full until .+; all of it is deleted by .+/,
    );
    await screenshot(page, 'detail-work-dir');

    await page.goto('/#/storage');
    const row = page.locator(`[data-testid="work-dirs"] tr[data-root="${oomRunId}"]`);
    await row.waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('storage-total').innerText()).toMatch(/a month to keep\./);
    await screenshot(page, 'storage');

    const narrow = await openAs(browser, stack.url, ALICE, { width: 420, height: 860 });
    try {
      await narrow.page.goto('/#/storage');
      await narrow.page.locator(`tr[data-root="${oomRunId}"]`).waitFor({ timeout: 20_000 });
      expect(await sidewaysScroll(narrow.page), 'the Storage page').toBe(0);
      await narrow.page.goto(`/#/runs/${oomRunId}`);
      await narrow.page.getByTestId('work-dir-summary').waitFor({ timeout: 20_000 });
      expect(await sidewaysScroll(narrow.page), 'the run page with its work dir').toBe(0);
      await screenshot(narrow.page, 'narrow-detail-work-dir');
      expect(narrow.errors).toEqual([]);
    } finally {
      await narrow.context.close();
    }

    // Freed from the run page, after a dialog that says -resume is lost and results are kept.
    await page.goto(`/#/runs/${oomRunId}`);
    await page.getByRole('button', { name: 'Free the work dir now' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.innerText()).toContain(
      'No run of this chain can be recovered with -resume afterwards',
    );
    await dialog.getByRole('button', { name: 'Free the work dir' }).click();
    await expect
      .poll(() => page.getByTestId('work-dir-summary').innerText(), { timeout: 30_000 })
      .toBe('Freed by alice@example.com: nothing is left to resume from.');
    expect(stack.gcs.objectsUnder(stack.config.runsBucket, `work/${oomRunId}/`)).toEqual([]);
    expect(errors).toEqual([]);
  }, 120_000);
});

describe('right-sizing in the page', () => {
  it('shows what past runs used on a finished run and adds the snippet to a relaunch’s config (1400 and 420 px)', async () => {
    const { page, errors } = alice;
    // Both failed runs ran FASTQC, given 36 GB and using under 1 GB.
    await page.goto(`/#/runs/${failedRunId}`);
    const panel = page.getByTestId('recommendations');
    await panel.waitFor({ timeout: 30_000 });
    expect(await panel.locator('li[data-process="FASTQC"]').first().innerText()).toMatch(
      /^FASTQC: memory 36 GB → 1\.GB \((saves|costs) .+\)\. its tasks were given 36 GB and used at most/,
    );

    await page.getByRole('button', { name: 'Relaunch with changes' }).click();
    await page.getByRole('heading', { name: /Step 4 of 5: Parameters/ }).waitFor({ timeout: 20_000 });
    const wizardPanel = page.getByTestId('recommendations');
    await wizardPanel.waitFor({ timeout: 20_000 });
    const snippet = await wizardPanel.getByTestId('recommended-config').innerText();
    expect(snippet).toContain("withName: 'FASTQC' {");
    await wizardPanel.getByRole('button', { name: 'Add to this run’s config' }).click();
    const config = page.locator('textarea.mono').last();
    await expect.poll(() => config.inputValue()).toContain("withName: 'FASTQC' {\n    memory = 1.GB");
    expect(await wizardPanel.getByRole('button', { name: 'Added to the config' }).isDisabled()).toBe(true);
    // The preview checks the config as a launch would: no problem with it.
    await expect.poll(() => page.getByTestId('config-problem').count(), { timeout: 20_000 }).toBe(0);
    await screenshot(page, 'wizard-4-right-sizing');

    const narrow = await openAs(browser, stack.url, ALICE, { width: 420, height: 860 });
    try {
      await narrow.page.goto(`/#/runs/${failedRunId}`);
      await narrow.page.getByTestId('recommendations').waitFor({ timeout: 30_000 });
      expect(await sidewaysScroll(narrow.page), 'a finished run with right-sizing').toBe(0);
      await narrow.page.getByRole('button', { name: 'Relaunch with changes' }).click();
      await narrow.page
        .getByRole('heading', { name: /Step 4 of 5: Parameters/ })
        .waitFor({ timeout: 20_000 });
      await narrow.page.getByTestId('recommendations').waitFor({ timeout: 20_000 });
      expect(await sidewaysScroll(narrow.page), 'the Parameters step with right-sizing').toBe(0);
      expect(narrow.errors).toEqual([]);
    } finally {
      await narrow.context.close();
    }
    await page.evaluate((k) => localStorage.removeItem(k), `arc:new-run-draft:v1:${ALICE}`);
    expect(errors).toEqual([]);
  }, 90_000);
});
