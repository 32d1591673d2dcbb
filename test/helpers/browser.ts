/**
 * Headless Chromium for the page's tests (scripts/lib/chromium.ts). Each user gets a context of their own whose API calls carry the IAP
 * email header, as the dev identity of the local stack reads it.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../scripts/lib/chromium';
import { asUser } from './api-server';

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
  viewport = { width: 1280, height: 900 },
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
