/** Test and benchmark stand-ins for Identity-Aware Proxy: ES256 keys, a JWKS endpoint, signed assertions. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

export const AUDIENCE = '/projects/123456789/global/backendServices/987654321';
export const APP_AUDIENCE = '/projects/123456789/apps/arc-test-project';
export const ISSUER = 'https://cloud.google.com/iap';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/**
 * IAP's key endpoint (https://www.gstatic.com/iap/verify/public_key-jwk) on loopback: serves
 * the keys it is given, counts fetches, and can be made unreachable.
 */
export async function startJwks(keys: SigningKey[]) {
  /** down: the connection is dropped; failWith: answered with that HTTP status (a 5xx from Google's front end). */
  const state = { keys: [...keys], fetches: 0, down: false, failWith: 0 };
  const server = createServer((_req, res) => {
    state.fetches += 1;
    if (state.down) {
      res.destroy();
      return;
    }
    if (state.failWith) {
      res.writeHead(state.failWith, { 'content-type': 'text/html' });
      res.end('<html><body>Service Unavailable</body></html>');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' });
    res.end(JSON.stringify({ keys: state.keys.map((k) => k.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/iap/verify/public_key-jwk`,
    state,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An IAP assertion as IAP signs it: ES256, kid, iss, aud, sub, email, iat, exp (10 minutes). */
export async function iapToken(
  key: SigningKey,
  claims: JWTPayload & { email?: string } = {},
  options: { issuedAt?: number; expiresAt?: number; audience?: string; issuer?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const email = claims.email ?? 'alice@example.com';
  return new SignJWT({ email, sub: `accounts.google.com:${email.length}`, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(options.issuedAt ?? now)
    .setExpirationTime(options.expiresAt ?? now + 600)
    .sign(key.privateKey);
}

export function iapHeaders(token: string): Record<string, string> {
  return { 'x-goog-iap-jwt-assertion': token };
}
