/**
 * Headless Chromium for the page's tests (scripts/lib/chromium.ts). Each user gets a context of their own whose API calls carry the IAP
 * email header, as the dev identity of the local stack reads it.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../scripts/lib/chromium';
import { asUser } from './api-server';
import { lastErrors, type TestStack } from './stack';

export const SCREENSHOTS = join(process.cwd(), 'test-results', 'screenshots');

export const launchBrowser = launchChromium;

export interface UserPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors of the page: a test expects none. */
  errors: string[];
}

export async function openAs(
  browser: Browser,
  baseUrl: string,
  email: string,
  // A laptop's window; tests of phone-sized windows pass 420 px.
  viewport = { width: 1400, height: 900 },
): Promise<UserPage> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport });
  const header = asUser(email);
  await context.route(`${baseUrl}/api/**`, (route) =>
    route.continue({ headers: { ...route.request().headers(), ...header } }),
  );
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return { context, page, errors };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/**
 * 0 when the page fits its window; otherwise how far it scrolls sideways and the elements that
 * make it do so (found by hiding each in turn), for the failure message.
 */
/**
 * Waits for `testId` to show; when it does not in time, fails with what the page's main area
 * says instead (an error note, a problem list), so a failure explains itself.
 */
export async function waitForTestId(
  page: Page,
  testId: string,
  timeout: number,
  /** The stack's logs: its errors are added to the failure, so a 5xx the page shows has its cause. */
  logs?: TestStack['logs'],
): Promise<void> {
  try {
    await page.getByTestId(testId).waitFor({ timeout });
  } catch (error) {
    const shown = await page
      .locator('main')
      .innerText()
      .catch(() => '(the page could not be read)');
    const errors = logs ? lastErrors(logs) : '';
    const logged = errors ? `\nThe stack's last errors:\n${errors}` : '';
    throw new Error(
      `${testId} did not show within ${timeout} ms; the page said:\n${shown.slice(0, 4_000)}${logged}`,
      { cause: error },
    );
  }
}

export async function sidewaysScroll(page: Page): Promise<0 | string> {
  return page.evaluate(() => {
    const doc = document.documentElement;
    const out: string[] = [];
    const walk = (el: Element, depth: number) => {
      for (const child of [...el.children]) {
        const before = doc.scrollWidth;
        const style = (child as HTMLElement).style;
        const old = style.display;
        style.display = 'none';
        const after = doc.scrollWidth;
        style.display = old;
        if (after < before) {
          out.push(
            `${'>'.repeat(depth)}${child.tagName.toLowerCase()}.${child.className} (${before}→${after})`,
          );
          if (depth < 8) walk(child, depth + 1);
        }
      }
    };
    const overflow = doc.scrollWidth - doc.clientWidth;
    if (overflow <= 0) return 0;
    walk(document.body, 0);
    return `${overflow} px: ${out.join(' | ')}`;
  });
}
