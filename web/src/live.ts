/**
 * Live data from Firestore (ARCHITECTURE §1): the page reads runs and their status history
 * straight from Firestore under infra/firestore.rules, as the user the API verified. Locally
 * that is the emulator with the dev identity's mock token; in production a Firebase custom
 * token from /api/session/token.
 */

import { type FirebaseApp, initializeApp } from 'firebase/app';
import {
  collection,
  connectFirestoreEmulator,
  type DocumentSnapshot,
  doc,
  type Firestore,
  getCountFromServer,
  getFirestore,
  limit,
  onSnapshot,
  orderBy,
  type Query,
  type QueryConstraint,
  query,
  startAfter,
  where,
} from 'firebase/firestore';
import { useEffect, useState } from 'preact/hooks';
import type { RunHistoryEntry } from '../../functions/core/runs/ports';
import { withRunDefaults } from '../../functions/core/runs/run-document';
import type { Run } from '../../functions/core/runs/run-model';
import { searchKey } from '../../functions/core/runs/search';
import type { SessionToken } from '../../functions/core/shared/session';
import { api } from './api';

export interface Session {
  email: string;
  admin: boolean;
  db: Firestore;
}

/** Points `db` at the Firestore emulator at `hostPort` (host:port, as the API gives it). */
function toEmulator(
  db: Firestore,
  hostPort: string,
  options?: Parameters<typeof connectFirestoreEmulator>[3],
): void {
  const separator = hostPort.lastIndexOf(':');
  connectFirestoreEmulator(db, hostPort.slice(0, separator), Number(hostPort.slice(separator + 1)), options);
}

export async function connect(): Promise<Session> {
  const token = await api<SessionToken>('/api/session/token');
  performance.mark('arc:session-token');
  let app: FirebaseApp;
  let db: Firestore;
  if (token.kind === 'emulator') {
    app = initializeApp({ projectId: token.project_id, apiKey: 'local-emulator' }, 'arc');
    db = getFirestore(app);
    toEmulator(db, token.emulator_host, { mockUserToken: token.mock_user_token });
  } else {
    if (!token.web_api_key) {
      throw new Error(
        'Live updates are not configured: the api function has no FIREBASE_WEB_API_KEY (Terraform variable firebase_web_api_key). Ask your platform team to set it.',
      );
    }
    app = initializeApp(
      {
        apiKey: token.web_api_key,
        projectId: token.project_id,
        authDomain: `${token.project_id}.firebaseapp.com`,
      },
      'arc',
    );
    const { connectAuthEmulator, getAuth, signInWithCustomToken } = await import('firebase/auth');
    const auth = getAuth(app);
    db = getFirestore(app);
    if (token.emulators) {
      // Tests of this very path run it against Firebase's emulators.
      connectAuthEmulator(auth, `http://${token.emulators.auth}`, { disableWarnings: true });
      toEmulator(db, token.emulators.firestore);
    }
    await signInWithCustomToken(auth, token.token);
  }
  return { email: token.claims.email, admin: token.claims.admin, db };
}

/**
 * A run document as the page uses it. The server reads documents through its zod schema,
 * which fills defaults; the page gets them raw, so documents written by older versions
 * (without a counter, say) are completed here with the same defaults (run-document.ts).
 */
export function asRun(data: unknown): Run {
  return withRunDefaults(data as Run);
}

export type Live<T> =
  | { state: 'loading' }
  | { state: 'ready'; value: T }
  | { state: 'error'; message: string };

function describe(error: { code?: string; message: string }): string {
  if (error.code === 'permission-denied')
    return 'You do not have access to this. If it is yours, reload the page to sign in again.';
  if (error.code === 'unavailable')
    return 'Live updates are unavailable (offline?). They resume when the connection is back.';
  return error.message;
}

/** A run, live; `null` when it does not exist or is not the user's. */
export function useRun(session: Session, runId: string): Live<Run | null> {
  const [live, setLive] = useState<Live<Run | null>>({ state: 'loading' });
  useEffect(() => {
    setLive({ state: 'loading' });
    return onSnapshot(
      doc(session.db, 'runs', runId),
      (snapshot) => setLive({ state: 'ready', value: snapshot.exists() ? asRun(snapshot.data()) : null }),
      // Rules answer permission-denied for someone else's run: the same as no run at all.
      (error) =>
        setLive(
          error.code === 'permission-denied'
            ? { state: 'ready', value: null }
            : { state: 'error', message: describe(error) },
        ),
    );
  }, [session, runId]);
  return live;
}

/** The run's status history, oldest first, live. */
export function useRunEvents(session: Session, runId: string): RunHistoryEntry[] {
  const [events, setEvents] = useState<RunHistoryEntry[]>([]);
  useEffect(() => {
    setEvents([]);
    return onSnapshot(
      query(collection(session.db, 'runs', runId, 'events'), orderBy('at')),
      (snapshot) => setEvents(snapshot.docs.map((d) => d.data() as RunHistoryEntry)),
      () => setEvents([]),
    );
  }, [session, runId]);
  return events;
}

/** Every run of a recovery chain (same root), oldest first. */
export function useRecoveryChain(session: Session, run: Run | null): Run[] {
  const [chain, setChain] = useState<Run[]>([]);
  const root = run?.root_run_id;
  const owner = run?.user_email;
  useEffect(() => {
    if (!root || !owner) return undefined;
    return onSnapshot(
      query(
        collection(session.db, 'runs'),
        where('user_email', '==', owner),
        where('root_run_id', '==', root),
      ),
      (snapshot) =>
        setChain(
          snapshot.docs.map((d) => asRun(d.data())).sort((a, b) => a.created_at.localeCompare(b.created_at)),
        ),
      () => setChain([]),
    );
  }, [session, root, owner]);
  return chain;
}

export interface RunFilters {
  status: string;
  pipeline: string;
  search: string;
  /** `key=value`: runs with this label. */
  label: string;
  /** Admins: every user's runs. */
  everyone: boolean;
}

export interface RunsPage {
  runs: Run[];
  hasNext: boolean;
  /** The last document of the page: the cursor of the next one. */
  last: DocumentSnapshot | null;
  /** How many runs match (null while counting, or for a search). */
  total: number | null;
}

const SEARCH_LIMIT = 100;

function baseConstraints(session: Session, filters: RunFilters): QueryConstraint[] {
  const constraints: QueryConstraint[] = [];
  if (!(session.admin && filters.everyone)) constraints.push(where('user_email', '==', session.email));
  if (filters.status) constraints.push(where('status', '==', filters.status));
  if (filters.pipeline) constraints.push(where('pipeline', '==', filters.pipeline));
  return constraints;
}

/** The label filter: a query of its own (array-contains), except in a search, which uses it already. */
function withLabel(filters: RunFilters): QueryConstraint[] {
  return filters.label ? [where('label_pairs', 'array-contains', filters.label)] : [];
}

const hasLabel = (run: Run, label: string) => {
  if (!label) return true;
  const at = label.indexOf('=');
  return run.labels[label.slice(0, at)] === label.slice(at + 1);
};

/**
 * Search: a run id prefix, or an exact sample or NGS run name (Firestore has no substring
 * search; sample and NGS run names are matched as stored on the run).
 */
function searchQueries(session: Session, filters: RunFilters): Query[] {
  const runs = collection(session.db, 'runs');
  const base = baseConstraints(session, filters);
  const text = filters.search.trim();
  if (/^run-/.test(text)) {
    return [
      query(
        runs,
        ...base,
        where('run_id', '>=', text),
        where('run_id', '<=', `${text}\uf8ff`),
        orderBy('run_id'),
        limit(SEARCH_LIMIT),
      ),
    ];
  }
  // A run's name, samples, NGS runs and project, case-insensitively and by prefix (search_terms).
  return [
    query(
      runs,
      ...base,
      where('search_terms', 'array-contains', searchKey(text)),
      orderBy('created_at', 'desc'),
      limit(SEARCH_LIMIT),
    ),
  ];
}

/** One page of the user's runs, newest first, live: a run changing status updates in place. */
export function useRunsPage(
  session: Session,
  filters: RunFilters,
  pageSize: number,
  after: DocumentSnapshot | null,
): Live<RunsPage> {
  const [live, setLive] = useState<Live<RunsPage>>({ state: 'loading' });
  const [total, setTotal] = useState<number | null>(null);
  const key = JSON.stringify(filters);

  useEffect(() => {
    setLive({ state: 'loading' });
    const onError = (error: { code?: string; message: string }) =>
      setLive({ state: 'error', message: describe(error) });
    if (filters.search.trim()) {
      const results = new Map<number, Run[]>();
      const queries = searchQueries(session, filters);
      const unsubscribes = queries.map((q, index) =>
        onSnapshot(
          q,
          (snapshot) => {
            results.set(
              index,
              snapshot.docs.map((d) => asRun(d.data())),
            );
            if (results.size < queries.length) return;
            const merged = new Map<string, Run>();
            for (const list of results.values()) for (const run of list) merged.set(run.run_id, run);
            const runs = [...merged.values()]
              .filter((run) => hasLabel(run, filters.label))
              .sort((a, b) => b.created_at.localeCompare(a.created_at));
            setLive({ state: 'ready', value: { runs, hasNext: false, last: null, total: runs.length } });
          },
          onError,
        ),
      );
      return () => {
        for (const unsubscribe of unsubscribes) unsubscribe();
      };
    }
    const constraints = [
      ...baseConstraints(session, filters),
      ...withLabel(filters),
      orderBy('created_at', 'desc'),
    ];
    if (after) constraints.push(startAfter(after));
    // One more than a page tells whether there is a next one.
    constraints.push(limit(pageSize + 1));
    return onSnapshot(
      query(collection(session.db, 'runs'), ...constraints),
      (snapshot) => {
        performance.mark('arc:runs-snapshot');
        const docs = snapshot.docs.slice(0, pageSize);
        setLive({
          state: 'ready',
          value: {
            runs: docs.map((d) => asRun(d.data())),
            hasNext: snapshot.docs.length > pageSize,
            last: docs.at(-1) ?? null,
            total: null,
          },
        });
      },
      onError,
    );
  }, [session, key, pageSize, after]);

  // The count of matching runs, once the page is shown (it must not hold the page up), and again
  // when the first page changes (a run was added).
  const ready = live.state === 'ready';
  const firstId = ready && !after ? live.value.runs[0]?.run_id : undefined;
  useEffect(() => {
    if (filters.search.trim() || !ready) return;
    let cancelled = false;
    getCountFromServer(
      query(collection(session.db, 'runs'), ...baseConstraints(session, filters), ...withLabel(filters)),
    )
      .then((count) => {
        if (!cancelled) setTotal(count.data().count);
      })
      .catch(() => {
        if (!cancelled) setTotal(null);
      });
    return () => {
      cancelled = true;
    };
  }, [session, key, firstId, ready]);

  if (live.state !== 'ready') return live;
  return { state: 'ready', value: { ...live.value, total: live.value.total ?? total } };
}
