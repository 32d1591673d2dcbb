import { type CryptoKey, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IamSessionTokens } from '../../functions/adapters/iam-session-tokens';
import { IamCredentialsTwin } from '../../scripts/local/iam/twin';

const SERVICE_ACCOUNT = 'arc-functions@arc-test-project.iam.gserviceaccount.com';
const ACCESS_TOKEN = 'ya29.test-access-token';

const twin = new IamCredentialsTwin(SERVICE_ACCOUNT, ACCESS_TOKEN);
let endpoint: string;
let publicKey: CryptoKey;
const calls = twin.calls;

beforeAll(async () => {
  endpoint = await twin.start();
  publicKey = twin.publicKey;
});
afterAll(() => twin.stop());

describe('Firebase custom tokens signed through IAM (production session tokens)', () => {
  it('carries the user as uid, email and admin claims, for one hour, signed by the functions account', async () => {
    const now = new Date('2026-11-23T12:00:00Z');
    const tokens = new IamSessionTokens(
      SERVICE_ACCOUNT,
      'arc-test-project',
      async () => ACCESS_TOKEN,
      endpoint,
      () => now,
      'web-api-key-of-the-project',
    );
    const session = await tokens.mint({ email: 'alice@example.com', name: 'Alice', is_admin: true });
    if (session.kind !== 'custom_token') throw new Error('expected a custom token');
    expect(session).toMatchObject({
      uid: 'alice@example.com',
      claims: { email: 'alice@example.com', admin: true },
      expires_at: '2026-11-23T13:00:00.000Z',
      project_id: 'arc-test-project',
      // What the page needs for signInWithCustomToken besides the token.
      web_api_key: 'web-api-key-of-the-project',
    });
    const { payload } = await jwtVerify(session.token, publicKey, { currentDate: now });
    expect(payload).toEqual({
      iss: SERVICE_ACCOUNT,
      sub: SERVICE_ACCOUNT,
      aud: 'https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit',
      iat: now.getTime() / 1000,
      exp: now.getTime() / 1000 + 3600,
      uid: 'alice@example.com',
      // The rules read the email from arc_email (Firebase Auth drops a custom `email` claim).
      claims: { arc_email: 'alice@example.com', admin: true },
    });
    expect(calls.at(-1)?.path).toBe(
      `/v1/projects/-/serviceAccounts/${encodeURIComponent(SERVICE_ACCOUNT)}:signJwt`,
    );
  });

  it('says what to grant when IAM refuses, and what happened when it is unreachable', async () => {
    const forbidden = new IamSessionTokens(
      'other@arc-test-project.iam.gserviceaccount.com',
      'p',
      async () => ACCESS_TOKEN,
      endpoint,
    );
    await expect(
      forbidden.mint({ email: 'a@example.com', name: 'a', is_admin: false }),
    ).rejects.toMatchObject({
      name: 'UpstreamError',
      message: expect.stringMatching(
        /IAM answered 403 .*needs roles\/iam.serviceAccountTokenCreator on itself/,
      ),
    });
    const down = new IamSessionTokens(SERVICE_ACCOUNT, 'p', async () => ACCESS_TOKEN, 'http://127.0.0.1:1');
    await expect(down.mint({ email: 'a@example.com', name: 'a', is_admin: false })).rejects.toMatchObject({
      name: 'UpstreamError',
      message: expect.stringContaining('IAM is unreachable'),
    });
  });
});
