/**
 * Identity-Aware Proxy on the local stack (`AUTH_MODE=iap npm start`): the api verifies tokens
 * exactly as in production (ES256, key id, issuer, audience, expiry), against a signing key kept
 * in the stack's data folder and served as a JWKS on loopback. `npm run token -- alice@example.com`
 * signs a token with the same key, so the IAP path can be exercised with curl.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { iapToken, type SigningKey, startJwks } from './iap-keys';

/** The audience the local stack's api expects: a backend-service audience no real project has. */
export const LOCAL_IAP_AUDIENCE = '/projects/0/global/backendServices/0';

const keyFile = (dataDir: string) => join(dataDir, 'iap', 'signing-key.json');

/** The local IAP signing key, made on first use and kept (owner-only) so tokens outlive a restart. */
export async function localIapKey(dataDir: string): Promise<SigningKey> {
  const file = keyFile(dataDir);
  if (existsSync(file)) {
    const stored = JSON.parse(await readFile(file, 'utf8')) as { kid: string; private: JWK; public: JWK };
    return {
      kid: stored.kid,
      privateKey: (await importJWK(stored.private, 'ES256')) as SigningKey['privateKey'],
      publicJwk: stored.public,
    };
  }
  const kid = `local-${Date.now().toString(36)}`;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  await mkdir(join(dataDir, 'iap'), { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify({ kid, private: await exportJWK(privateKey), public: publicJwk }), {
    mode: 0o600,
  });
  await chmod(file, 0o600);
  return { kid, privateKey, publicJwk };
}

/** Serves the key as IAP's JWKS; answers the env that points the api at it. */
export async function startLocalIap(dataDir: string) {
  const key = await localIapKey(dataDir);
  const jwks = await startJwks([key]);
  return { env: { IAP_JWKS_URL: jwks.url, IAP_AUDIENCE: LOCAL_IAP_AUDIENCE }, close: () => jwks.close() };
}

/** A token for `email`, as IAP would put in X-Goog-IAP-JWT-Assertion, valid `minutes`. */
export async function localIapToken(dataDir: string, email: string, minutes = 60): Promise<string> {
  if (!existsSync(keyFile(dataDir)))
    throw new Error(
      `No local IAP key in ${join(dataDir, 'iap')}: start the stack with AUTH_MODE=iap npm start first (same ARC_DATA_DIR).`,
    );
  const now = Math.floor(Date.now() / 1000);
  return iapToken(
    await localIapKey(dataDir),
    { email },
    { audience: LOCAL_IAP_AUDIENCE, issuedAt: now, expiresAt: now + minutes * 60 },
  );
}
