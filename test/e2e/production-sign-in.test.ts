/**
 * The page's production sign-in, in Chromium: /api/session/token answers a Firebase custom token
 * (signed through the IAM Credentials API's twin, as in production), the page signs in with
 * signInWithCustomToken against Firebase's Authentication emulator, and reads Firestore (its
 * emulator, under infra/firestore.rules) with the ID token that gives: its own runs, live, and
 * not another user's. No mock token is used on this path.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IamSessionTokens } from '../../functions/adapters/iam-session-tokens';
import { type AuthEmulator, startAuthEmulator } from '../../scripts/lib/auth-emulator';
import { IamCredentialsTwin } from '../../scripts/local/iam/twin';
import { request } from '../helpers/api-server';
import { launchBrowser, openAs, screenshot } from '../helpers/browser';
import { firestoreEmulatorHost, uniqueProjectId } from '../helpers/env';
import { runBody } from '../helpers/samplesheets';
import { lastErrors, startTestStack, type TestStack } from '../helpers/stack';

const PROJECT = uniqueProjectId('demo-arc');
const SERVICE_ACCOUNT = `arc-functions@${PROJECT}.iam.gserviceaccount.com`;
const ACCESS_TOKEN = 'ya29.local-functions-token';
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

let auth: AuthEmulator;
let iam: IamCredentialsTwin;
let stack: TestStack;
let browser: Browser;

const launch = async (email: string) => {
  const created = await request<{ run_id: string }>(`${stack.url}/api/runs`, {
    method: 'POST',
    json: runBody({ params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3' } }),
    headers: { 'x-goog-authenticated-user-email': `accounts.google.com:${email}` },
  });
  expect(created.status, `${JSON.stringify(created.body)}\n${lastErrors(stack.logs)}`).toBe(201);
  return created.body.run_id;
};

beforeAll(async () => {
  auth = await startAuthEmulator(PROJECT);
  iam = new IamCredentialsTwin(SERVICE_ACCOUNT, ACCESS_TOKEN);
  const iamUrl = await iam.start();
  stack = await startTestStack({
    withPage: true,
    env: { GOOGLE_CLOUD_PROJECT: PROJECT, FIREBASE_AUTH_EMULATOR_HOST: auth.host },
    apiOverrides: {
      sessionTokens: new IamSessionTokens(
        SERVICE_ACCOUNT,
        PROJECT,
        async () => ACCESS_TOKEN,
        iamUrl,
        undefined,
        'demo-web-api-key',
        { auth: auth.host, firestore: firestoreEmulatorHost() },
      ),
    },
  });
  browser = await launchBrowser();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await iam?.stop();
  await auth?.stop();
});

describe('the page signed in as in production (custom token, Firebase Auth, Firestore rules)', () => {
  it("lists the user's runs live and is denied another user's", async () => {
    const aliceRun = await launch(ALICE);
    const bobRun = await launch(BOB);
    const { page, errors } = await openAs(browser, stack.url, ALICE);
    const signIns: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('accounts:signInWithCustomToken')) signIns.push(r.url());
    });
    await page.goto('/');
    await page.locator(`tr[data-run-id="${aliceRun}"]`).waitFor({ timeout: 30_000 });
    // Signed in with the custom token IAM signed for alice, at the Auth emulator.
    expect(signIns).toHaveLength(1);
    expect(signIns[0]).toContain(
      `http://${auth.host}/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken`,
    );
    expect(iam.calls.map((c) => c.payload.uid)).toContain(ALICE);
    expect(iam.calls.find((c) => c.payload.uid === ALICE)?.payload.claims).toEqual({
      arc_email: ALICE,
      admin: false,
    });
    // Bob's run is not in her list…
    expect(await page.locator(`tr[data-run-id="${bobRun}"]`).count()).toBe(0);
    // …a new run of hers appears without a reload…
    await page.evaluate(() => {
      (window as unknown as { marker: string }).marker = 'no reload';
    });
    const second = await launch(ALICE);
    await page.locator(`tr[data-run-id="${second}"]`).waitFor({ timeout: 30_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('no reload');
    await screenshot(page, 'production-sign-in-list');
    // …and the rules refuse his run by its address: the page says it is not there.
    await page.goto(`/#/runs/${bobRun}`);
    await page.getByRole('heading', { name: 'Run not found' }).waitFor({ timeout: 30_000 });
    expect(errors.filter((e) => !/permission|insufficient/i.test(e))).toEqual([]);
  }, 120_000);
});
