/**
 * The IAM Credentials API's signJwt (POST /v1/projects/-/serviceAccounts/{email}:signJwt) on
 * loopback: signs the payload (RS256) with the account's own key; 401 without the bearer token,
 * 403 for an account the caller may not use, in Google's error shape, as the service answers.
 * The production session tokens (IamSessionTokens) are minted through it in tests.
 */

import { createServer, type Server } from 'node:http';
import { type CryptoKey, generateKeyPair, SignJWT } from 'jose';
import { closeNow, listenOnLoopback } from '../../lib/net';

export class IamCredentialsTwin {
  readonly calls: { path: string; payload: Record<string, unknown> }[] = [];
  private server: Server | null = null;
  private keys: { publicKey: CryptoKey; privateKey: CryptoKey } | null = null;

  constructor(
    /** The one service account it signs for. */
    readonly serviceAccount: string,
    /** The access token a caller must present. */
    readonly accessToken: string,
  ) {}

  /** The account's public key, to verify what it signed. */
  get publicKey(): CryptoKey {
    if (!this.keys) throw new Error('start() the twin first');
    return this.keys.publicKey;
  }

  async start(): Promise<string> {
    this.keys = await generateKeyPair('RS256');
    const keys = this.keys;
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => {
        raw += chunk.toString();
      });
      req.on('end', async () => {
        const reply = (status: number, body: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        };
        if (req.headers.authorization !== `Bearer ${this.accessToken}`)
          return reply(401, {
            error: {
              code: 401,
              message: 'Request had invalid authentication credentials.',
              status: 'UNAUTHENTICATED',
            },
          });
        const match = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):signJwt$/.exec(req.url ?? '');
        if (!match || decodeURIComponent(match[1]!) !== this.serviceAccount)
          return reply(403, {
            error: {
              code: 403,
              message: "Permission 'iam.serviceAccounts.signJwt' denied on resource (or it may not exist).",
              status: 'PERMISSION_DENIED',
            },
          });
        let payload: Record<string, unknown>;
        try {
          payload = JSON.parse((JSON.parse(raw) as { payload: string }).payload) as Record<string, unknown>;
        } catch {
          return reply(400, {
            error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' },
          });
        }
        this.calls.push({ path: req.url!, payload });
        const signedJwt = await new SignJWT(payload)
          .setProtectedHeader({ alg: 'RS256', kid: 'key-1', typ: 'JWT' })
          .sign(keys.privateKey);
        return reply(200, { keyId: 'key-1', signedJwt });
      });
    });
    return listenOnLoopback(this.server);
  }

  stop(): Promise<void> {
    return closeNow(this.server);
  }
}
