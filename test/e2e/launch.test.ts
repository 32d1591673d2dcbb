import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoFastqs } from '../../scripts/local/warehouse';
import { request } from '../helpers/api-server';
import {
  launchBrowser,
  openAs,
  screenshot,
  sidewaysScroll,
  type UserPage,
  waitForTestId,
} from '../helpers/browser';
import { runBody } from '../helpers/samplesheets';
import { startTestStack, type TestStack } from '../helpers/stack';
import { type TestWarehouse, testWarehouse } from '../helpers/warehouse';

const ALICE = 'alice@example.com';
let stack: TestStack;
let warehouse: TestWarehouse;
let browser: Browser;
let alice: UserPage;

beforeAll(async () => {
  warehouse = await testWarehouse();
  // Slow enough to watch the run go through running; fast enough for a test.
  stack = await startTestStack({ env: warehouse.env, replaySpeed: 600, withPage: true });
  await createDemoFastqs(stack.gcs, warehouse.seed);
  browser = await launchBrowser();
  alice = await openAs(browser, stack.url, ALICE);
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await warehouse?.drop();
});

describe('the runs list', () => {
  it('points a new user to "New run", then shows a run created by the API in another tab without a reload', async () => {
    const { page } = alice;
    await page.goto('/');
    await expect.poll(() => page.getByTestId('empty-state').isVisible(), { timeout: 20_000 }).toBe(true);
    await expect(
      page.getByTestId('empty-state').getByRole('link', { name: 'New run' }).isVisible(),
    ).resolves.toBe(true);
    await page.evaluate(() => {
      (window as unknown as { marker: string }).marker = 'no reload';
    });

    const created = await request<{ run_id: string }>(`${stack.url}/api/runs`, {
      method: 'POST',
      json: runBody({ params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3' } }),
      headers: { 'x-goog-authenticated-user-email': `accounts.google.com:${ALICE}` },
    });
    expect(created.status).toBe(201);
    const row = page.locator(`tr[data-run-id="${created.body.run_id}"]`);
    await row.waitFor({ timeout: 20_000 });
    // The same row moves through the statuses in place.
    await page
      .locator(`tr[data-run-id="${created.body.run_id}"][data-status="completed"]`)
      .waitFor({ timeout: 60_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('no reload');
    await screenshot(page, 'list');
  }, 120_000);
});

describe('the new run wizard', () => {
  it('launches a replay run from a demo NGS run, and the detail page shows it reach completed live', async () => {
    const { page, errors } = alice;
    await page.goto('/#/new');
    // The newest NGS runs are listed first; take the first with at least two samples.
    await page.locator('tr[data-ngs-run]').first().waitFor({ timeout: 20_000 });
    const ngsRun = await page.locator('tr[data-ngs-run]').evaluateAll((rows) =>
      rows
        .map((row) => ({
          name: row.getAttribute('data-ngs-run')!,
          samples: Number(row.lastElementChild?.textContent),
        }))
        .find((r) => r.samples >= 2),
    );
    expect(ngsRun).toBeDefined();

    await page.getByLabel('Search').fill(ngsRun!.name);
    await page.getByRole('button', { name: 'Search' }).click();
    const choice = page.locator(`tr[data-ngs-run="${ngsRun!.name}"] input[type=checkbox]`);
    await choice.waitFor();
    await expect.poll(() => page.locator('tr[data-ngs-run]').count(), { timeout: 20_000 }).toBe(1);
    await choice.check();
    await screenshot(page, 'wizard-1-ngs-runs');
    await page.getByRole('button', { name: /Next: Samples/ }).click();

    // 2. Samples: all selected to begin with; keep two.
    await page.locator('[data-sample]').first().waitFor();
    await page.getByRole('button', { name: 'Select none' }).click();
    for (const row of [0, 1]) await page.locator('[data-sample] input[type=checkbox]').nth(row).check();
    await expect.poll(() => page.getByText('2 samples selected').isVisible()).toBe(true);
    await page.getByRole('button', { name: /Next: Samplesheet/ }).click();

    // 3. Samplesheet: generated and valid; an edit that breaks a FASTQ path is named by row and column.
    await page.getByTestId('samplesheet-ok').waitFor({ timeout: 20_000 });
    const fastq = page.getByLabel('Row 1 fastq_1');
    // A path shows its file name, the full gs:// URI on hover and when focused to edit it.
    const original = (await fastq.getAttribute('data-full'))!;
    expect(original).toMatch(/^gs:\/\/arc-demo-sequencing\/.+\/[^/]+_R1_001\.fastq\.gz$/);
    expect(await fastq.inputValue()).toBe(original.slice(original.lastIndexOf('/') + 1));
    expect(await fastq.getAttribute('title')).toBe(original);
    await fastq.focus();
    expect(await fastq.inputValue()).toBe(original);
    // Columns are as wide as what they hold: the path column is wider than the sample column.
    const widths = await page.evaluate(() =>
      ['sample', 'fastq_1'].map(
        (c) => (document.querySelector(`input[aria-label^="Row 1 ${c}"]`) as HTMLInputElement).size,
      ),
    );
    expect(widths[1]).toBeGreaterThan(widths[0]!);
    await page.getByRole('button', { name: '+ Add row' }).click();
    await expect.poll(() => page.locator('table.sheet tbody tr').count()).toBe(3);
    await page.getByRole('button', { name: 'Remove row 3' }).click();
    await fastq.fill('gs://arc-demo-sequencing/nowhere/missing_R1_001.fastq.gz');
    const problems = page.getByTestId('samplesheet-problems');
    await problems.waitFor({ timeout: 20_000 });
    expect(await problems.innerText()).toMatch(/row 1, column fastq_1: .*does not exist/i);
    expect(await page.getByRole('button', { name: /Next: Parameters/ }).isDisabled()).toBe(true);
    await screenshot(page, 'wizard-3-samplesheet-error');
    await fastq.fill(original);
    await page.getByTestId('samplesheet-ok').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: /Next: Parameters/ }).click();

    // 4. Params: a form from nextflow_schema.json; a bad value is refused as you type.
    const aligner = page.locator('[data-param="aligner"] select');
    await aligner.waitFor();
    await aligner.selectOption('star');
    await page.locator('[data-param="protocol"] input').fill('10XV3');
    // The assistant proposes a change as a diff against the draft; Apply puts it in the form.
    await page.getByRole('button', { name: 'Ask the assistant' }).click();
    const drawer = page.getByRole('complementary', { name: 'Assistant' });
    await drawer.getByLabel('Message the assistant').fill('Please set multiqc_title to Organoids');
    await drawer.getByRole('button', { name: 'Send' }).click();
    const proposal = drawer.getByTestId('proposal');
    await proposal.waitFor({ timeout: 20_000 });
    expect(await proposal.getAttribute('data-kind')).toBe('params');
    expect(await proposal.locator('table.diff').innerText()).toMatch(/multiqc_title\s+default\s+Organoids/);
    await screenshot(page, 'wizard-4-assistant-proposal');
    await proposal.getByRole('button', { name: 'Apply to draft' }).click();
    // Escape closes the drawer and gives focus back to the button that opened it.
    await drawer.getByLabel('Message the assistant').press('Escape');
    await drawer.waitFor({ state: 'detached' });
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.textContent))
      .toBe('Ask the assistant');
    await expect
      .poll(() => page.locator('[data-param="multiqc_title"] input').inputValue())
      .toBe('Organoids');
    const email = page.locator('[data-param="email"] input');
    await email.fill('not an email');
    await page.locator('[data-param="email"] .field-error').waitFor({ timeout: 20_000 });
    expect(await page.getByRole('button', { name: /Next: Review/ }).isDisabled()).toBe(true);
    await email.fill('');
    // No reference yet: the genome field says the pipeline cannot start without one.
    const genomeError = page.locator('[data-param="genome"] .field-error');
    await expect.poll(() => genomeError.count(), { timeout: 20_000 }).toBe(1);
    expect(await genomeError.innerText()).toMatch(/^no reference is given: set genome/);
    await expect.poll(() => page.locator('.field-error').count(), { timeout: 20_000 }).toBe(1);
    expect(await page.getByRole('button', { name: /Next: Review/ }).isDisabled()).toBe(true);
    // A genome the pipeline's iGenomes config does not define: refused beside the field, with the
    // key it likely meant (the pipeline would stop at start). The config's keys are offered as you type.
    expect(await page.locator('#param-genome-known option').count()).toBe(39);
    const genome = page.locator('[data-param="genome"] input');
    await genome.fill('GRCm39');
    await expect.poll(() => genomeError.innerText(), { timeout: 20_000 }).toContain('did you mean "GRCm38"?');
    expect(await page.getByRole('button', { name: /Next: Review/ }).isDisabled()).toBe(true);
    await screenshot(page, 'wizard-4-params-genome-unknown');
    await genome.fill('GRCh38');
    await expect.poll(() => page.locator('.field-error').count(), { timeout: 20_000 }).toBe(0);
    // A description's Markdown link is a link, and no field's text runs into the next column.
    expect(await page.locator('[data-param="gex_frna_probe_set"] a').first().getAttribute('href')).toMatch(
      /^https:\/\/www\.10xgenomics\.com\//,
    );
    const overflowing = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('.field')]
        .filter((field) => field.scrollWidth > field.clientWidth + 1)
        .map((field) => field.dataset.param),
    );
    expect(overflowing).toEqual([]);
    await screenshot(page, 'wizard-4-params');

    // The draft survives a reload.
    await page.reload();
    await aligner.waitFor();
    expect(await aligner.inputValue()).toBe('star');
    await page.getByRole('button', { name: /Next: Review/ }).click();

    // 5. Review: the rendered config and what will be submitted.
    const config = page.getByTestId('rendered-config');
    await config.waitFor({ timeout: 20_000 });
    expect(await config.innerText()).toContain("executor      = 'google-batch'");
    expect(await page.getByTestId('review').innerText()).toContain('aligner = "star"');
    // What it will cost, as a range with its basis (the pipeline's prior, or the lab's runs once there are three).
    const estimate = await page.getByTestId('cost-estimate').innerText();
    expect(estimate).toMatch(/Estimated before launch[^:]*: \$\d+\.\d\d–\$\d+\.\d\d \((?:median|midpoint)/);
    expect(estimate).toMatch(/completed runs? of nf-core\/scrnaseq/);
    // Labels at launch: a bad one is named before anything is launched.
    await page.getByLabel(/^Labels/).fill('Team=organoids');
    await page
      .getByRole('alert')
      .filter({ hasText: /lowercase letters/ })
      .waitFor({ timeout: 20_000 });
    expect(await page.getByRole('alert').innerText()).toContain('Fix the fields above.');
    await page.getByLabel(/^Labels/).fill('team=organoids, cost-center=cc-42');
    // A budget the estimate is already over is refused here, with both figures, before launch.
    await page.getByLabel(/^Budget, USD/).fill('0.01');
    const over = page.getByRole('alert').filter({ hasText: /is already over the budget of \$0\.01/ });
    await over.waitFor({ timeout: 20_000 });
    expect(await over.innerText()).toContain('Fix the fields above.');
    await page.getByLabel(/^Budget, USD/).fill('');
    await page.getByLabel(/^Run name/).fill('Organoids day 14');
    await page.getByLabel(/^Description/).fill('Second batch, new dissociation protocol.');
    await page.getByTestId('review').waitFor({ timeout: 20_000 });
    await screenshot(page, 'wizard-5-review');
    await page.getByRole('button', { name: 'Launch run' }).click();

    // The live detail page: running, then completed, without a reload.
    const detail = page.locator('article.run-detail');
    await detail.waitFor({ timeout: 20_000 });
    const runId = await detail.getAttribute('data-run-id');
    expect(runId).toMatch(/^run-[a-z0-9]{12}$/);
    await page.evaluate(() => {
      (window as unknown as { marker: string }).marker = 'still here';
    });
    await page.locator('article.run-detail[data-status="running"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-process]').first().waitFor({ timeout: 30_000 });
    await screenshot(page, 'detail-running');
    await page.locator('article.run-detail[data-status="completed"]').waitFor({ timeout: 90_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('still here');
    await expect.poll(() => page.getByText('Estimated cost').isVisible(), { timeout: 20_000 }).toBe(true);
    // The estimate made before launch, beside what the trace says it cost.
    expect(await page.getByTestId('cost-estimate').innerText()).toMatch(
      /Estimated before launch[^:]*: \$[\d.]+–\$[\d.]+ \((?:median|midpoint) \$[\d.]+\), [\d.]+–[\d.]+ CPU-hours · cost from the trace \$\d+\.\d\d \((within|below|above) the estimate\)/,
    );
    await expect
      .poll(() => page.getByTestId('log-tail').innerText(), { timeout: 20_000 })
      .toContain('Pipeline completed successfully');
    await page.locator('.chart canvas').first().waitFor({ timeout: 10_000 });
    await screenshot(page, 'detail-completed');

    // Results first, open, by folder; an HTML report opens in the browser from Cloud Storage's origin.
    await expect.poll(() => page.locator('details[data-group="results"]').getAttribute('open')).toBe('');
    expect(await page.locator('details[data-group="inputs"]').getAttribute('open')).toBeNull();
    const groups = await page
      .locator('.files > details')
      .evaluateAll((list) => list.map((d) => d.getAttribute('data-group')));
    expect(groups).toEqual(['results', 'logs', 'inputs']);
    expect(await page.locator('details[data-folder="fastqc/"]').count()).toBe(1);
    const open = page.getByTestId('open-report').first();
    expect(await open.getAttribute('target')).toBe('_blank');
    expect(await open.getAttribute('rel')).toBe('noopener noreferrer');
    const viaApi = await fetch(`${stack.url}${await open.getAttribute('href')}`, {
      headers: { 'x-goog-authenticated-user-email': `accounts.google.com:${ALICE}` },
      redirect: 'manual',
    });
    expect(viaApi.status).toBe(302);
    const report = await fetch(viaApi.headers.get('location')!);
    expect(report.status).toBe(200);
    expect(report.headers.get('content-type')).toMatch(/^text\/html/);
    expect(report.headers.get('content-disposition')).toBe('inline');
    expect(new URL(viaApi.headers.get('location')!).origin).not.toBe(new URL(stack.url).origin);

    const stored = await request<{
      source_ngs_runs: string[];
      params: Record<string, unknown>;
      sample_count: number;
      labels: Record<string, string>;
      name: string;
      description: string;
    }>(`${stack.url}/api/runs/${runId}`, {
      headers: { 'x-goog-authenticated-user-email': `accounts.google.com:${ALICE}` },
    });
    expect(stored.body).toMatchObject({
      source_ngs_runs: [ngsRun!.name],
      sample_count: 2,
      labels: { team: 'organoids', 'cost-center': 'cc-42' },
      name: 'Organoids day 14',
      description: 'Second batch, new dissociation protocol.',
    });
    // The list shows its name, project and NGS run; the search finds it by the start of its name, in any case.
    await page.goto('/#/');
    const row = page.locator(`tr[data-run-id="${runId}"]`);
    await row.waitFor({ timeout: 20_000 });
    expect(await row.locator('.run-name').innerText()).toBe('Organoids day 14');
    expect(await row.innerText()).toContain(ngsRun!.name);
    await page.getByRole('searchbox', { name: 'Search' }).fill('ORGANOIDS da');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('table.runs tbody tr').count(), { timeout: 20_000 }).toBe(1);
    await screenshot(page, 'list-named-run');
    expect(stored.body.params).toMatchObject({
      aligner: 'star',
      genome: 'GRCh38',
      protocol: '10XV3',
      multiqc_title: 'Organoids',
    });
    expect(errors).toEqual([]);
  }, 240_000);
});

describe('a samplesheet with four broken cells', () => {
  it('shows all four problems at once: a local path, a bad number, a missing file and a bad name', async () => {
    const { page, errors } = alice;
    const good = (n: number, r: number) => `gs://arc-demo-fastq/ngs/S${n}_L001_R${r}_001.fastq.gz`;
    const sheet = [
      'sample,fastq_1,fastq_2,expected_cells',
      `S1,reads/S1_R1.fastq.gz,${good(1, 2)},5000`,
      `S2,${good(2, 1)},${good(2, 2)},many`,
      `S3,${good(3, 1)},gs://arc-demo-fastq/ngs/NOT_THERE_R2.fastq.gz,5000`,
      `S 4,${good(4, 1)},${good(4, 2)},5000`,
    ].join('\n');
    // The wizard keeps its draft in the browser: open it at the samplesheet step with this sheet.
    await page.goto('/#/');
    await page.evaluate(({ key, draft }) => localStorage.setItem(key, JSON.stringify(draft)), {
      key: `arc:new-run-draft:v1:${ALICE}`,
      draft: {
        step: 2,
        pipeline: 'nf-core/scrnaseq',
        version: '4.0.0',
        samplesheet: sheet,
        samplesheetEdited: true,
      },
    });
    await page.goto('/#/new');
    const problems = page.getByTestId('samplesheet-problems');
    await problems.waitFor({ timeout: 20_000 });
    await expect.poll(() => problems.locator('li').count(), { timeout: 20_000 }).toBe(4);
    const text = await problems.innerText();
    expect(text).toContain('4 problems to fix before launch');
    expect(text).toMatch(/must be a gs:\/\/, https:\/\/ or ftp:\/\/ address/);
    expect(text).toMatch(/NOT_THERE_R2\.fastq\.gz/);
    expect(text).toMatch(/expected_cells/);
    expect(text).toMatch(/Sample name must be provided and cannot contain spaces/);
    await screenshot(page, 'wizard-3-four-problems');
    await page.evaluate((key) => localStorage.removeItem(key), `arc:new-run-draft:v1:${ALICE}`);
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('the samplesheet step, before anything is launched', () => {
  const good = (n: number, r: number) => `gs://arc-demo-fastq/ngs/S${n}_L001_R${r}_001.fastq.gz`;
  const open = async (page: UserPage['page'], sheet: string) => {
    await page.goto('/#/');
    await page.evaluate(({ key, draft }) => localStorage.setItem(key, JSON.stringify(draft)), {
      key: `arc:new-run-draft:v1:${ALICE}`,
      draft: {
        step: 2,
        pipeline: 'nf-core/scrnaseq',
        version: '4.0.0',
        samplesheet: sheet,
        samplesheetEdited: true,
      },
    });
    await page.goto('/#/new');
  };

  it('refuses read 2 equal to read 1 and -5 expected cells at their cells, and never says valid', async () => {
    const narrow = await openAs(browser, stack.url, ALICE, { width: 420, height: 860 });
    try {
      const sheet = ['sample,fastq_1,fastq_2,expected_cells', `S1,${good(1, 1)},${good(1, 1)},-5`].join('\n');
      for (const [{ page, errors }, name] of [
        [alice, 'wizard-3-impossible-values'],
        [narrow, 'narrow-wizard-3-impossible-values'],
      ] as const) {
        await open(page, sheet);
        const problems = page.getByTestId('samplesheet-problems');
        await problems.waitFor({ timeout: 20_000 });
        await expect.poll(() => problems.locator('li').count(), { timeout: 20_000 }).toBe(2);
        expect(await problems.innerText()).toMatch(/same file as fastq_1/);
        expect(await problems.innerText()).toMatch(/-5 is not a number of cells/);
        expect(await page.getByTestId('samplesheet-ok').count()).toBe(0);
        expect(await page.getByLabel('Row 1 fastq_2').getAttribute('aria-invalid')).toBe('true');
        expect(await page.getByLabel('Row 1 expected_cells').getAttribute('aria-invalid')).toBe('true');
        expect(await page.getByRole('button', { name: /Next: Parameters/ }).isDisabled()).toBe(true);
        expect(await sidewaysScroll(page)).toBe(0);
        await screenshot(page, name);
        expect(errors).toEqual([]);
      }
    } finally {
      await narrow.context.close();
    }
  }, 60_000);

  it('says valid with its warnings where they are: a repeated row, a column the pipeline does not declare', async () => {
    const { page, errors } = alice;
    const row = `S1,${good(1, 1)},${good(1, 2)},5000,b1`;
    await open(page, ['sample,fastq_1,fastq_2,expected_cells,batch', row, row].join('\n'));
    const ok = page.getByTestId('samplesheet-ok');
    await ok.waitFor({ timeout: 20_000 });
    expect(await ok.innerText()).toMatch(/with 2 warnings to read below\.$/);
    const warnings = page.getByTestId('samplesheet-warnings');
    expect(await warnings.innerText()).toMatch(/Row 2 repeats row 1 exactly/);
    expect(await warnings.innerText()).toMatch(/Column batch is not in the pipeline's samplesheet schema/);
    // Marked where they are: every cell of row 2, and the header of the column.
    expect(await page.locator('table.sheet tbody tr').nth(1).locator('td.cell-warning').count()).toBe(5);
    expect(await page.locator('table.sheet tbody tr').nth(0).locator('td.cell-warning').count()).toBe(0);
    expect(await page.locator('table.sheet th.cell-warning').innerText()).toBe('batch');
    await screenshot(page, 'wizard-3-warnings');
    await page.evaluate((key) => localStorage.removeItem(key), `arc:new-run-draft:v1:${ALICE}`);
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('a phone-sized window (420 px)', () => {
  it('lists runs, shows a completed run with its chart, and walks the wizard without scrolling sideways', async () => {
    const narrow = await openAs(browser, stack.url, ALICE, { width: 420, height: 860 });
    try {
      const { page, errors } = narrow;
      await page.goto('/#/');
      await page.locator('table.runs tbody tr').first().waitFor({ timeout: 30_000 });
      expect(await sidewaysScroll(page), 'the runs list').toBe(0);
      await screenshot(page, 'narrow-list');
      const completed = page.locator('tr[data-status="completed"] a').first();
      await completed.click();
      await page.locator('.chart canvas').first().waitFor({ timeout: 20_000 });
      expect(await sidewaysScroll(page), 'a completed run').toBe(0);
      expect(await page.locator('.chart .u-legend').innerText()).not.toContain('--');
      await screenshot(page, 'narrow-detail-completed');
      await page.goto('/#/new');
      await page.getByRole('heading', { name: /Step 1 of 5/ }).waitFor({ timeout: 20_000 });
      expect(await sidewaysScroll(page), 'the wizard').toBe(0);
      await screenshot(page, 'narrow-wizard-1-source');
      // The NGS run's samples, then the review of what will be launched.
      await page.locator('tr[data-ngs-run] input[type=checkbox]').first().check({ timeout: 20_000 });
      await page.getByRole('button', { name: /Next: Samples/ }).click();
      await page.locator('[data-sample]').first().waitFor({ timeout: 20_000 });
      expect(await sidewaysScroll(page), 'the samples step').toBe(0);
      await screenshot(page, 'narrow-wizard-2-samples');
      await page.getByRole('button', { name: /Next: Samplesheet/ }).click();
      await page.getByTestId('samplesheet-ok').waitFor({ timeout: 20_000 });
      await page.getByRole('button', { name: /Next: Parameters/ }).click();
      await page.locator('[data-param="aligner"] select').waitFor({ timeout: 20_000 });
      await page.locator('[data-param="genome"] input').fill('GRCh38');
      await expect.poll(() => page.locator('.field-error').count(), { timeout: 20_000 }).toBe(0);
      await page.getByRole('button', { name: /Next: Review/ }).click();
      await page.getByTestId('rendered-config').waitFor({ timeout: 20_000 });
      expect(await page.getByTestId('cost-estimate').isVisible()).toBe(true);
      expect(await page.getByLabel(/^Budget, USD/).isVisible()).toBe(true);
      expect(await sidewaysScroll(page), 'the review step').toBe(0);
      await screenshot(page, 'narrow-wizard-5-review');
      // A run while it runs.
      const launched = await request<{ run_id: string }>(`${stack.url}/api/runs`, {
        method: 'POST',
        headers: { 'x-goog-authenticated-user-email': `accounts.google.com:${ALICE}` },
        json: runBody(),
      });
      await page.goto(`/#/runs/${launched.body.run_id}`);
      await page.locator('article.run-detail[data-status="running"]').waitFor({ timeout: 30_000 });
      expect(await sidewaysScroll(page), 'a running run').toBe(0);
      await screenshot(page, 'narrow-detail-running');
      expect(errors).toEqual([]);
    } finally {
      await narrow.context.close();
    }
  }, 90_000);
});

/** Opens the wizard as `email`, picks `pipeline` and the first NGS run, and goes on to the samplesheet step. */
async function wizardToSamplesheet(email: string, pipeline: string): Promise<UserPage> {
  const user = await openAs(browser, stack.url, email);
  const { page } = user;
  await page.goto('/#/new');
  await page.getByLabel('Pipeline').selectOption(pipeline);
  await page.locator('tr[data-ngs-run] input[type=checkbox]').first().check({ timeout: 20_000 });
  await page.getByRole('button', { name: /Next: Samples/ }).click();
  await page.locator('[data-sample]').first().waitFor();
  await page.getByRole('button', { name: /Next: Samplesheet/ }).click();
  return user;
}

/**
 * From the Parameters step with no field errors: review, launch, and see the run fail at once,
 * saying the replay has no recording of the pipeline (locally only scrnaseq is recorded). Returns
 * the run as the API stores it.
 */
async function launchWithoutRecording(
  page: UserPage['page'],
  email: string,
  pipeline: string,
): Promise<{ pipeline: string; pipeline_version: string; params: Record<string, unknown> }> {
  await expect.poll(() => page.locator('.field-error').count(), { timeout: 20_000 }).toBe(0);
  await page.getByRole('button', { name: /Next: Review/ }).click();
  await page.getByTestId('rendered-config').waitFor({ timeout: 20_000 });
  await page.getByRole('button', { name: 'Launch run' }).click();
  const detail = page.locator('article.run-detail');
  await detail.waitFor({ timeout: 20_000 });
  await page.locator('article.run-detail[data-status="failed"]').waitFor({ timeout: 60_000 });
  // Batch's event (the job failed) can land before the orchestrator's exit.json, whose own
  // words then replace Batch's on the page, live.
  await expect
    .poll(() => page.getByTestId('error-panel').innerText(), { timeout: 20_000 })
    .toContain(`${pipeline} has none, so this run cannot be replayed. Install Nextflow`);
  const runId = await detail.getAttribute('data-run-id');
  const stored = await request<{
    pipeline: string;
    pipeline_version: string;
    params: Record<string, unknown>;
  }>(`${stack.url}/api/runs/${runId}`, {
    headers: { 'x-goog-authenticated-user-email': `accounts.google.com:${email}` },
  });
  return stored.body;
}

describe('another nf-core pipeline', () => {
  it('walks nf-core/rnaseq 3.24.0 through the wizard: its samplesheet (strandedness), its form, review, launch', async () => {
    const { page, errors } = await wizardToSamplesheet('carol@example.com', 'nf-core/rnaseq');

    // The samplesheet has rnaseq's columns, strandedness filled as the manifest says.
    await waitForTestId(page, 'samplesheet-ok', 45_000, stack.logs);
    expect(await page.getByLabel('Row 1 strandedness').inputValue()).toBe('auto');
    expect(await page.getByText('as nf-core/rnaseq reads it').isVisible()).toBe(true);
    await page.getByRole('button', { name: /Next: Parameters/ }).click();

    // rnaseq's own form: its aligner choices, its genome.
    const aligner = page.locator('[data-param="aligner"] select');
    await aligner.waitFor({ timeout: 20_000 });
    expect(await aligner.locator('option').allInnerTexts()).toContain('star_salmon');
    await page.locator('[data-param="genome"] input').fill('GRCh38');
    // nf-schema's help switches would make the run print help and exit: never offered.
    expect(await page.locator('[data-param="help"], [data-param="show_hidden"]').count()).toBe(0);
    await screenshot(page, 'wizard-4-params-rnaseq');

    const stored = await launchWithoutRecording(page, 'carol@example.com', 'nf-core/rnaseq');
    expect(stored).toMatchObject({ pipeline: 'nf-core/rnaseq', pipeline_version: '3.24.0' });
    expect(stored.params).toMatchObject({ genome: 'GRCh38' });
    expect(errors).toEqual([]);
  }, 120_000);
});

describe('a pipeline added to the registry', () => {
  it('walks nf-core/sarek 3.10.0 through the wizard: the patient cells it needs, its own form, launch', async () => {
    const { page, errors } = await wizardToSamplesheet('dave@example.com', 'nf-core/sarek');

    // Benchling fills sample and the reads; sarek's required patient is marked missing until filled.
    const patients = page.getByLabel(/^Row \d+ patient$/);
    await patients.first().waitFor({ timeout: 45_000 });
    await expect
      .poll(() => page.locator('[aria-invalid="true"]').count(), { timeout: 20_000 })
      .toBeGreaterThan(0);
    expect(await page.getByTestId('samplesheet-ok').count()).toBe(0);
    await screenshot(page, 'wizard-3-samplesheet-sarek-patient');
    for (const cell of await patients.all()) await cell.fill('PATIENT_1');
    await page.getByTestId('samplesheet-ok').waitFor({ timeout: 45_000 });
    await page.getByRole('button', { name: /Next: Parameters/ }).click();

    // sarek's own form: its variant-calling tools and its step.
    await page.locator('[data-param="tools"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-param="step"]').count()).toBe(1);

    const stored = await launchWithoutRecording(page, 'dave@example.com', 'nf-core/sarek');
    expect(stored).toMatchObject({ pipeline: 'nf-core/sarek', pipeline_version: '3.10.0' });
    expect(errors).toEqual([]);
  }, 120_000);
});

describe('cancelling', () => {
  it('asks for confirmation, then the run shows cancelled', async () => {
    const { page } = alice;
    const created = await request<{ run_id: string }>(`${stack.url}/api/runs`, {
      method: 'POST',
      json: runBody({ params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3' } }),
      headers: { 'x-goog-authenticated-user-email': `accounts.google.com:${ALICE}` },
    });
    await page.goto(`/#/runs/${created.body.run_id}`);
    await page.getByRole('button', { name: 'Cancel run' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Keep running' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await dialog.getByRole('button', { name: 'Cancel run' }).click();
    await page.locator('article.run-detail[data-status="cancelled"]').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Recover' }).waitFor();
  }, 60_000);
});
