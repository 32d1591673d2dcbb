import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IamSessionTokens } from '../../functions/adapters/iam-session-tokens';

const SERVICE_ACCOUNT = 'arc-functions@arc-test-project.iam.gserviceaccount.com';
const ACCESS_TOKEN = 'ya29.test-access-token';

/**
 * The IAM Credentials API's signJwt (POST /v1/projects/-/serviceAccounts/{email}:signJwt) on
 * loopback: signs the payload with the account's key; 401 without a bearer token, 403 for an
 * account the caller may not use, as the service answers.
 */
let server: Server;
let endpoint: string;
let publicKey: CryptoKey;
const calls: { path: string; payload: Record<string, unknown> }[] = [];

beforeAll(async () => {
  const keys = await generateKeyPair('RS256');
  publicKey = keys.publicKey;
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString();
    });
    req.on('end', async () => {
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${ACCESS_TOKEN}`) {
        return reply(401, {
          error: {
            code: 401,
            message: 'Request had invalid authentication credentials.',
            status: 'UNAUTHENTICATED',
          },
        });
      }
      const match = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):signJwt$/.exec(req.url ?? '');
      if (!match || decodeURIComponent(match[1]!) !== SERVICE_ACCOUNT) {
        return reply(403, {
          error: {
            code: 403,
            message: "Permission 'iam.serviceAccounts.signJwt' denied on resource (or it may not exist).",
            status: 'PERMISSION_DENIED',
          },
        });
      }
      const payload = JSON.parse((JSON.parse(raw) as { payload: string }).payload) as Record<string, unknown>;
      calls.push({ path: req.url!, payload });
      const signedJwt = await new SignJWT(payload)
        .setProtectedHeader({ alg: 'RS256', kid: 'key-1', typ: 'JWT' })
        .sign(keys.privateKey);
      return reply(200, { keyId: 'key-1', signedJwt });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

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
      claims: { email: 'alice@example.com', admin: true },
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
