import type { Caller } from '../core/shared/caller';
import { UpstreamError } from '../core/shared/errors';
import {
  type SessionToken,
  type SessionTokens,
  sessionClaims,
  tokenClaims,
  uidFor,
} from '../core/shared/session';

const AUDIENCE = 'https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit';
/** Firebase accepts custom tokens that live at most one hour. */
const LIFETIME_SECONDS = 3600;

/**
 * Firebase custom tokens signed by the functions' own service account through the IAM
 * Credentials API (`signJwt`): no private key exists anywhere but in Google's IAM.
 */
export class IamSessionTokens implements SessionTokens {
  constructor(
    private readonly serviceAccount: string,
    private readonly projectId: string,
    private readonly accessToken: () => Promise<string>,
    private readonly endpoint = 'https://iamcredentials.googleapis.com',
    private readonly now: () => Date = () => new Date(),
    /** The project's Firebase web API key, which the page signs in with (FIREBASE_WEB_API_KEY). */
    private readonly webApiKey: string | null = null,
    /** Firebase's Auth and Firestore emulators, when the page is to sign in against them (tests). */
    private readonly emulators: { auth: string; firestore: string } | null = null,
  ) {}

  async mint(caller: Caller): Promise<SessionToken> {
    const uid = uidFor(caller.email);
    const claims = sessionClaims(caller);
    const iat = Math.floor(this.now().getTime() / 1000);
    const payload = {
      iss: this.serviceAccount,
      sub: this.serviceAccount,
      aud: AUDIENCE,
      iat,
      exp: iat + LIFETIME_SECONDS,
      uid,
      claims: tokenClaims(claims),
    };
    const url = `${this.endpoint}/v1/projects/-/serviceAccounts/${encodeURIComponent(this.serviceAccount)}:signJwt`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${await this.accessToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ payload: JSON.stringify(payload) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new UpstreamError(
        'The session token could not be signed: IAM is unreachable. Try again in a minute.',
        {
          cause: error,
        },
      );
    }
    const body = (await response.json().catch(() => ({}))) as {
      signedJwt?: string;
      error?: { message?: string };
    };
    if (!response.ok || typeof body.signedJwt !== 'string') {
      throw new UpstreamError(
        `The session token could not be signed: IAM answered ${response.status}${body.error?.message ? ` (${body.error.message})` : ''}. The functions' service account needs roles/iam.serviceAccountTokenCreator on itself.`,
      );
    }
    return {
      kind: 'custom_token',
      token: body.signedJwt,
      expires_at: new Date((iat + LIFETIME_SECONDS) * 1000).toISOString(),
      uid,
      claims,
      project_id: this.projectId,
      web_api_key: this.webApiKey,
      ...(this.emulators ? { emulators: this.emulators } : {}),
    };
  }
}
