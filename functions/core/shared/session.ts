/**
 * Firestore access for the web page (ARCHITECTURE §11): the page reads runs straight from
 * Firestore under `infra/firestore.rules`, as the user the API verified. In production the API
 * mints a Firebase custom token carrying the user's email and admin flag; the local stack's
 * page talks to the emulator, which takes the same claims as a mock user token.
 */
import { createHash } from 'node:crypto';
import type { Caller } from './caller';

export interface SessionClaims {
  email: string;
  admin: boolean;
}

export type SessionToken =
  | {
      kind: 'custom_token';
      /** Sign in with signInWithCustomToken(auth, token). */
      token: string;
      expires_at: string;
      uid: string;
      claims: SessionClaims;
      project_id: string;
      /** The Firebase web API key signInWithCustomToken needs; null when FIREBASE_WEB_API_KEY is unset. */
      web_api_key: string | null;
      /** Only against Firebase's emulators (tests): where Auth and Firestore are, as host:port. */
      emulators?: { auth: string; firestore: string };
    }
  | {
      kind: 'emulator';
      /** Pass as connectFirestoreEmulator(…, { mockUserToken }). */
      mock_user_token: {
        [claim: string]: string | boolean;
        user_id: string;
        sub: string;
        arc_email: string;
        admin: boolean;
      };
      emulator_host: string;
      uid: string;
      claims: SessionClaims;
      project_id: string;
    };

export interface SessionTokens {
  mint(caller: Caller): Promise<SessionToken>;
}

/** Firebase uids are at most 128 characters; an email is used as is when it fits. */
export function uidFor(email: string): string {
  return email.length <= 128 ? email : `sha256:${createHash('sha256').update(email).digest('hex')}`;
}

export function sessionClaims(caller: Caller): SessionClaims {
  return { email: caller.email, admin: caller.is_admin };
}

/**
 * The claims as the token carries them and infra/firestore.rules reads them. The email goes in
 * `arc_email`, not `email`: Firebase Auth keeps `email` for the user record's own address and
 * drops a custom claim of that name (seen with its emulator), so rules keyed on `email` would
 * deny every signed-in user.
 */
export function tokenClaims(claims: SessionClaims): { arc_email: string; admin: boolean } {
  return { arc_email: claims.email, admin: claims.admin };
}

/** The local stack: the emulator accepts unsigned mock tokens with the same claims. */
export class EmulatorSessionTokens implements SessionTokens {
  constructor(
    private readonly emulatorHost: string,
    private readonly projectId: string,
  ) {}

  async mint(caller: Caller): Promise<SessionToken> {
    const uid = uidFor(caller.email);
    const claims = sessionClaims(caller);
    return {
      kind: 'emulator',
      mock_user_token: { user_id: uid, sub: uid, ...tokenClaims(claims) },
      emulator_host: this.emulatorHost,
      uid,
      claims,
      project_id: this.projectId,
    };
  }
}
