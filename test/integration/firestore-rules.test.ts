import { readFileSync } from 'node:fs';
import {
  assertFails,
  assertSucceeds,
  initializeTestEnvironment,
  type RulesTestEnvironment,
} from '@firebase/rules-unit-testing';
import { deleteApp, initializeApp } from 'firebase/app';
import {
  collection,
  connectFirestoreEmulator,
  doc,
  getDoc,
  getDocs,
  getFirestore,
  query,
  terminate,
  where,
} from 'firebase/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionToken } from '../../functions/core/shared/session';
import { tokenClaims } from '../../functions/core/shared/session';
import { request, startTestApi, type TestApi } from '../helpers/api-server';
import { firestoreEmulatorHost, uniqueProjectId } from '../helpers/env';
import { runBody } from '../helpers/samplesheets';

const projectId = uniqueProjectId('arc-rules');
const [host, port] = firestoreEmulatorHost().split(':') as [string, string];
let env: RulesTestEnvironment;

const ALICE = { email: 'alice@example.com', admin: false };
const BOB = { email: 'bob@example.com', admin: false };
const ADMIN = { email: 'admin@example.com', admin: true };

function as(claims: { email: string; admin: boolean }) {
  return env.authenticatedContext(claims.email, tokenClaims(claims)).firestore();
}

beforeAll(async () => {
  env = await initializeTestEnvironment({
    projectId,
    firestore: { rules: readFileSync('infra/firestore.rules', 'utf8'), host, port: Number(port) },
  });
  await env.withSecurityRulesDisabled(async (context) => {
    const db = context.firestore();
    await db
      .doc('runs/run-alice0000001')
      .set({ run_id: 'run-alice0000001', user_email: ALICE.email, status: 'running' });
    await db.doc('runs/run-alice0000001/events/e1').set({ to: 'running', source: 'batch-event' });
    await db.doc('runs/run-alice0000001/ingested/trace.000001').set({ key: 'k' });
    await db
      .doc('runs/run-bob000000001')
      .set({ run_id: 'run-bob000000001', user_email: BOB.email, status: 'failed' });
    await db.doc('runs/run-bob000000001/events/e1').set({ to: 'failed', source: 'artifact' });
    await db.doc(`users/${ALICE.email}`).set({ email: ALICE.email, role: 'user' });
    await db.doc(`users/${BOB.email}`).set({ email: BOB.email, role: 'user' });
    await db.doc('rate_limits/launch:alice@example.com:1').set({ count: 1 });
    await db
      .doc('haystack_runs/hs-alice0000001')
      .set({ run_id: 'hs-alice0000001', user_email: ALICE.email, status: 'running' });
    await db
      .doc(`users/${ALICE.email}/conversations/c1`)
      .set({ id: 'c1', title: 'why did it fail', messages_json: '[]' });
  });
});
afterAll(async () => {
  await env?.cleanup();
});

describe('Firestore rules (infra/firestore.rules) in the emulator', () => {
  it('lets a user read their own runs and their history, and nobody else’s', async () => {
    const alice = as(ALICE);
    await assertSucceeds(alice.doc('runs/run-alice0000001').get());
    await assertSucceeds(alice.collection('runs/run-alice0000001/events').get());
    await assertSucceeds(alice.collection('runs').where('user_email', '==', ALICE.email).get());
    await assertFails(alice.doc('runs/run-bob000000001').get());
    await assertFails(alice.collection('runs/run-bob000000001/events').get());
    // A query that could return someone else's runs is refused as a whole.
    await assertFails(alice.collection('runs').get());
    await assertFails(alice.collection('runs').where('status', '==', 'failed').get());
  });

  it('lets an admin read every run and history', async () => {
    const admin = as(ADMIN);
    await assertSucceeds(admin.doc('runs/run-bob000000001').get());
    await assertSucceeds(admin.collection('runs/run-bob000000001/events').get());
    const all = await assertSucceeds(admin.collection('runs').get());
    expect(all.size).toBe(2);
  });

  it('lets a user read their own user document only', async () => {
    await assertSucceeds(as(ALICE).doc(`users/${ALICE.email}`).get());
    await assertFails(as(ALICE).doc(`users/${BOB.email}`).get());
    await assertFails(as(ALICE).collection('users').get());
    await assertSucceeds(as(ADMIN).doc(`users/${BOB.email}`).get());
  });

  it('lets a user follow their own HAYSTACK runs live, an admin all, nobody else, and nobody write', async () => {
    await assertSucceeds(as(ALICE).doc('haystack_runs/hs-alice0000001').get());
    await assertSucceeds(as(ALICE).collection('haystack_runs').where('user_email', '==', ALICE.email).get());
    await assertSucceeds(as(ADMIN).doc('haystack_runs/hs-alice0000001').get());
    await assertFails(as(BOB).doc('haystack_runs/hs-alice0000001').get());
    await assertFails(as(BOB).collection('haystack_runs').get());
    await assertFails(as(ALICE).doc('haystack_runs/hs-alice0000001').update({ status: 'completed' }));
  });

  it("keeps a user's assistant conversations to that user, admins included, and read-only", async () => {
    const mine = `users/${ALICE.email}/conversations`;
    expect((await assertSucceeds(as(ALICE).doc(`${mine}/c1`).get())).get('title')).toBe('why did it fail');
    await assertSucceeds(as(ALICE).collection(mine).get());
    await assertFails(as(BOB).doc(`${mine}/c1`).get());
    await assertFails(as(BOB).collection(mine).get());
    await assertFails(as(ADMIN).doc(`${mine}/c1`).get());
    await assertFails(as(ALICE).doc(`${mine}/c2`).set({ title: 'x' }));
  });

  it('refuses signed-out readers, tokens without an email, and server-only collections', async () => {
    const anonymous = env.unauthenticatedContext().firestore();
    await assertFails(anonymous.doc('runs/run-alice0000001').get());
    await assertFails(anonymous.collection('runs').where('user_email', '==', ALICE.email).get());
    const noEmail = env.authenticatedContext('someone', {}).firestore();
    await assertFails(noEmail.doc('runs/run-alice0000001').get());
    // The email is read from arc_email alone: Firebase Auth keeps `email` for the user record.
    const plainEmail = env.authenticatedContext(ALICE.email, { email: ALICE.email }).firestore();
    await assertFails(plainEmail.doc('runs/run-alice0000001').get());
    // Ingest markers and rate-limit windows: not even their owner or an admin.
    await assertFails(as(ALICE).doc('runs/run-alice0000001/ingested/trace.000001').get());
    await assertFails(as(ADMIN).doc('rate_limits/launch:alice@example.com:1').get());
  });

  it('denies every write from a client, even an admin’s', async () => {
    for (const db of [as(ALICE), as(ADMIN), env.unauthenticatedContext().firestore()]) {
      await assertFails(db.doc('runs/run-alice0000001').update({ status: 'completed' }));
      await assertFails(db.doc('runs/run-alice0000001').delete());
      await assertFails(db.doc('runs/run-new000000001').set({ user_email: ALICE.email }));
      await assertFails(db.collection('runs/run-alice0000001/events').add({ to: 'completed' }));
      await assertFails(db.doc(`users/${ALICE.email}`).set({ role: 'admin' }, { merge: true }));
      await assertFails(db.doc('rate_limits/launch:alice@example.com:1').delete());
    }
  });
});

describe('GET /api/session/token', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi({ env: { GOOGLE_CLOUD_PROJECT: projectId, ADMIN_EMAILS: ADMIN.email } });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('gives the page a token the rules accept for the signed-in user, and only for them', async () => {
    const created = await request<{ run_id: string }>(`${api.url}/api/runs`, {
      method: 'POST',
      json: runBody(),
      headers: { 'x-goog-authenticated-user-email': `accounts.google.com:${ALICE.email}` },
    });
    expect(created.status).toBe(201);
    const session = await request<SessionToken>(`${api.url}/api/session/token`, {
      headers: { 'x-goog-authenticated-user-email': `accounts.google.com:${ALICE.email}` },
    });
    expect(session.status).toBe(200);
    expect(session.headers.get('cache-control')).toBe('no-store');
    expect(session.body).toMatchObject({
      kind: 'emulator',
      project_id: projectId,
      emulator_host: firestoreEmulatorHost(),
      claims: { email: ALICE.email, admin: false },
      mock_user_token: { user_id: ALICE.email, arc_email: ALICE.email, admin: false },
    });
    if (session.body.kind !== 'emulator') throw new Error('expected an emulator token');

    // The web SDK, as the page uses it.
    const app = initializeApp({ projectId, apiKey: 'emulator' }, `rules-${Date.now()}`);
    const db = getFirestore(app);
    connectFirestoreEmulator(db, host, Number(port), { mockUserToken: session.body.mock_user_token });
    try {
      const own = await getDoc(doc(db, 'runs', created.body.run_id));
      expect(own.get('user_email')).toBe(ALICE.email);
      const mine = await getDocs(query(collection(db, 'runs'), where('user_email', '==', ALICE.email)));
      expect(mine.docs.map((d) => d.id)).toContain(created.body.run_id);
      await expect(getDoc(doc(db, 'runs', 'run-bob000000001'))).rejects.toMatchObject({
        code: 'permission-denied',
      });
    } finally {
      await terminate(db);
      await deleteApp(app);
    }

    const adminSession = await request<SessionToken>(`${api.url}/api/session/token`, {
      headers: { 'x-goog-authenticated-user-email': `accounts.google.com:${ADMIN.email}` },
    });
    expect(adminSession.body.claims).toEqual({ email: ADMIN.email, admin: true });
  });
});
