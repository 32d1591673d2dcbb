import { exportSPKI, importJWK, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IapAuthenticator } from '../../functions/http/identity';
import {
  APP_AUDIENCE,
  AUDIENCE,
  iapHeaders,
  iapToken,
  type SigningKey,
  signingKey,
  startJwks,
} from '../../scripts/lib/iap-keys';
import { request, startTestApi, type TestApi } from '../helpers/api-server';
import { spawnBuiltFunction } from '../helpers/built-function';
import { CLOUD_SAMPLE } from '../helpers/env';
import { samplesheet } from '../helpers/samplesheets';

type ErrorBody = { error: { code: string; message: string } };

let first: SigningKey;
let jwks: Awaited<ReturnType<typeof startJwks>>;
let api: TestApi;

beforeAll(async () => {
  first = await signingKey('key-2026-11');
  jwks = await startJwks([first]);
  api = await startTestApi({
    env: {
      AUTH_MODE: 'iap',
      IAP_AUDIENCE: `${AUDIENCE},${APP_AUDIENCE}`,
      IAP_JWKS_URL: jwks.url,
      ADMIN_EMAILS: 'admin@example.com',
    },
  });
});
afterAll(async () => {
  await api?.close();
  await jwks?.close();
});

async function get(headers: Record<string, string>) {
  return request<ErrorBody & { runs?: unknown[] }>(`${api.url}/api/runs`, { headers });
}

async function expectRefused(headers: Record<string, string>, code: string) {
  const response = await get(headers);
  expect(response.status, JSON.stringify(response.body)).toBe(401);
  expect(response.body.error.code).toBe(code);
  // A reason a client can act on, never the library's internals or a stack.
  expect(JSON.stringify(response.body)).not.toMatch(/\bat .+:\d+|node_modules|jose|ERR_/);
  return response.body.error.message;
}

describe('IAP identity (AUTH_MODE=iap)', () => {
  it('accepts a valid assertion, for either audience form, and identifies the user by its email claim', async () => {
    const response = await get(iapHeaders(await iapToken(first, { email: 'Alice@Example.com' })));
    expect(response.status).toBe(200);
    const apps = await get(iapHeaders(await iapToken(first, {}, { audience: APP_AUDIENCE })));
    expect(apps.status).toBe(200);
    const created = await request<{ user_email: string; user_name: string }>(`${api.url}/api/runs`, {
      method: 'POST',
      headers: iapHeaders(await iapToken(first, { email: 'carol@example.com', name: 'Carol C.' })),
      json: {
        pipeline: 'nf-core/scrnaseq',
        samplesheet_csv: samplesheet(1),
        params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3' },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ user_email: 'carol@example.com', user_name: 'Carol C.' });
    expect(api.logs.entries).toContainEqual(
      expect.objectContaining({
        message: 'audit',
        fields: expect.objectContaining({ event: 'sign_in', user: 'carol@example.com', via: 'iap' }),
      }),
    );
  });

  it('refuses a missing assertion, and the development header is not an identity', async () => {
    const message = await expectRefused({}, 'missing_token');
    expect(message).toContain('Identity-Aware Proxy');
    await expectRefused(
      { 'x-goog-authenticated-user-email': 'accounts.google.com:admin@example.com' },
      'missing_token',
    );
    expect(api.logs.entries).toContainEqual(
      expect.objectContaining({
        message: 'audit',
        fields: expect.objectContaining({
          event: 'access_denied',
          user: null,
          reason: 'missing_token',
          status: 401,
        }),
      }),
    );
  });

  it('refuses expired and not-yet-valid assertions (30 s of clock skew allowed)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(
      iapHeaders(await iapToken(first, {}, { issuedAt: now - 700, expiresAt: now - 100 })),
      'token_expired',
    );
    await expectRefused(
      iapHeaders(await iapToken(first, {}, { issuedAt: now + 300, expiresAt: now + 900 })),
      'token_not_yet_valid',
    );
    await expectRefused(
      iapHeaders(await iapToken(first, { nbf: now + 300 }, { issuedAt: now, expiresAt: now + 900 })),
      'token_not_yet_valid',
    );
    const skewed = await get(
      iapHeaders(await iapToken(first, {}, { issuedAt: now + 10, expiresAt: now + 610 })),
    );
    expect(skewed.status).toBe(200);
  });

  it('refuses the wrong audience and the wrong issuer', async () => {
    await expectRefused(
      iapHeaders(await iapToken(first, {}, { audience: '/projects/1/global/backendServices/2' })),
      'wrong_audience',
    );
    await expectRefused(
      iapHeaders(await iapToken(first, {}, { issuer: 'https://accounts.google.com' })),
      'wrong_issuer',
    );
  });

  it('refuses a tampered payload, alg none, and HS256 signed with the public key', async () => {
    const [header, , signature] = (await iapToken(first)).split('.');
    const forged = Buffer.from(
      JSON.stringify({
        iss: 'https://cloud.google.com/iap',
        aud: AUDIENCE,
        email: 'admin@example.com',
        sub: 'x',
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 600,
      }),
    ).toString('base64url');
    await expectRefused(iapHeaders(`${header}.${forged}.${signature}`), 'bad_signature');

    const none = new UnsecuredJWT({ email: 'admin@example.com', sub: 'x' })
      .setIssuer('https://cloud.google.com/iap')
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('10m')
      .encode();
    await expectRefused(iapHeaders(none), 'algorithm_not_allowed');

    const publicPem = await exportSPKI(
      (await importJWK(first.publicJwk, 'ES256', { extractable: true })) as CryptoKey,
    );
    const hs256 = await new SignJWT({ email: 'admin@example.com', sub: 'x' })
      .setProtectedHeader({ alg: 'HS256', kid: first.kid })
      .setIssuer('https://cloud.google.com/iap')
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(publicPem));
    await expectRefused(iapHeaders(hs256), 'algorithm_not_allowed');

    await expectRefused(iapHeaders('not-a-jwt'), 'malformed_token');
    await expectRefused(iapHeaders(`${'a'.repeat(9000)}.b.c`), 'malformed_token');
  });
});

describe('IAP signing keys', () => {
  const config = {
    mode: 'iap' as const,
    devUser: undefined,
    adminEmails: [],
    audiences: [AUDIENCE],
    hostedDomain: undefined,
  };

  it('are cached, fetched again for an unknown kid (rotation), and a kid Google never published is refused', async () => {
    const authenticator = new IapAuthenticator({ ...config, jwksUrl: jwks.url }, { cooldownMs: 0 });
    const before = jwks.state.fetches;
    await authenticator.authenticate(iapHeaders(await iapToken(first)));
    await authenticator.authenticate(iapHeaders(await iapToken(first)));
    expect(jwks.state.fetches).toBe(before + 1);

    const rotated = await signingKey('key-2026-12');
    jwks.state.keys.push(rotated);
    await expect(authenticator.authenticate(iapHeaders(await iapToken(rotated)))).resolves.toMatchObject({
      email: 'alice@example.com',
    });
    expect(jwks.state.fetches).toBe(before + 2);

    const stranger = await signingKey('key-nobody-published');
    await expect(authenticator.authenticate(iapHeaders(await iapToken(stranger)))).rejects.toMatchObject({
      name: 'UnauthenticatedError',
      code: 'unknown_key',
    });
  });

  it('are not fetched again within the cool-down, however many unknown kids arrive', async () => {
    const authenticator = new IapAuthenticator({ ...config, jwksUrl: jwks.url });
    await authenticator.authenticate(iapHeaders(await iapToken(first)));
    const before = jwks.state.fetches;
    for (let i = 0; i < 20; i++) {
      const made = await signingKey(`made-up-${i}`);
      await expect(authenticator.authenticate(iapHeaders(await iapToken(made)))).rejects.toMatchObject({
        code: 'unknown_key',
      });
    }
    expect(jwks.state.fetches).toBe(before);
  });

  it('being unreachable is a 503 (retry), not a 401', async () => {
    const authenticator = new IapAuthenticator({ ...config, jwksUrl: jwks.url }, { cooldownMs: 0 });
    jwks.state.down = true;
    try {
      await expect(authenticator.authenticate(iapHeaders(await iapToken(first)))).rejects.toMatchObject({
        name: 'UpstreamError',
        message: expect.stringContaining('IAP signing keys could not be fetched'),
      });
    } finally {
      jwks.state.down = false;
    }
  });
  it.each([
    ['answers 503', (state: typeof jwks.state) => Object.assign(state, { failWith: 503 })],
    ['drops the connection', (state: typeof jwks.state) => Object.assign(state, { down: true })],
  ])(
    'a new key id while the key endpoint %s is "cannot verify now" (503), not "invalid" (401)',
    async (_how, breakIt) => {
      const authenticator = new IapAuthenticator({ ...config, jwksUrl: jwks.url }, { cooldownMs: 0 });
      await authenticator.authenticate(iapHeaders(await iapToken(first)));
      const rotated = await signingKey(`key-rotated-during-outage-${_how.length}`);
      breakIt(jwks.state);
      try {
        await expect(authenticator.authenticate(iapHeaders(await iapToken(rotated)))).rejects.toMatchObject({
          name: 'UpstreamError',
          message: expect.stringContaining('IAP signing keys could not be fetched'),
        });
        // The keys already cached still verify the tokens signed with them.
        await expect(authenticator.authenticate(iapHeaders(await iapToken(first)))).resolves.toMatchObject({
          email: 'alice@example.com',
        });
      } finally {
        Object.assign(jwks.state, { down: false, failWith: 0 });
      }
    },
  );
});

describe('an allowed hosted domain (IAP_HOSTED_DOMAIN)', () => {
  let domainApi: TestApi;
  beforeAll(async () => {
    domainApi = await startTestApi({
      env: {
        AUTH_MODE: 'iap',
        IAP_AUDIENCE: AUDIENCE,
        IAP_JWKS_URL: jwks.url,
        IAP_HOSTED_DOMAIN: 'lab.example.org',
      },
    });
  });
  afterAll(async () => {
    await domainApi?.close();
  });

  it('admits accounts of the domain only', async () => {
    const inside = await request(`${domainApi.url}/api/runs`, {
      headers: iapHeaders(await iapToken(first, { email: 'dana@lab.example.org', hd: 'lab.example.org' })),
    });
    expect(inside.status).toBe(200);
    const outside = await request<ErrorBody>(`${domainApi.url}/api/runs`, {
      headers: iapHeaders(await iapToken(first, { email: 'eve@gmail.com' })),
    });
    expect(outside.status).toBe(401);
    expect(outside.body.error).toMatchObject({
      code: 'wrong_domain',
      message: expect.stringContaining('lab.example.org'),
    });
  });
});

describe('the deployed api function', () => {
  /** The built bundle under the real Functions Framework, as Cloud Run starts it. */
  async function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    const fn = await spawnBuiltFunction('api', env);
    const timer = setTimeout(() => fn.child.kill('SIGKILL'), 20_000);
    const code = await fn.exited;
    clearTimeout(timer);
    return { code, stderr: fn.output() };
  }

  it('refuses to start on Google Cloud with AUTH_MODE=dev, and in iap mode without an audience', async () => {
    const dev = await start({ K_SERVICE: 'api', AUTH_MODE: 'dev', GOOGLE_CLOUD_PROJECT: 'arc-test-project' });
    expect(dev.code).not.toBe(0);
    expect(dev.code).not.toBeNull();
    expect(dev.stderr).toContain('AUTH_MODE=dev trusts unverified identity headers');

    const noAudience = await start({
      K_SERVICE: 'api',
      ...CLOUD_SAMPLE,
    });
    expect(noAudience.code).not.toBe(0);
    expect(noAudience.code).not.toBeNull();
    expect(noAudience.stderr).toContain('IAP_AUDIENCE is required with AUTH_MODE=iap');
  });
});
