/** HAYSTACK runs, live from Firestore (`haystack_runs`, the owner's under the rules). */
import { collection, doc, limit, onSnapshot, orderBy, query, where } from 'firebase/firestore';
import { useEffect, useState } from 'preact/hooks';
import type { HaystackRun } from '../../../functions/core/haystack/run-model';
import type { Live, Session } from '../live';

export type { HaystackRun };

export function useHaystackRun(session: Session, runId: string): Live<HaystackRun | null> {
  const [live, setLive] = useState<Live<HaystackRun | null>>({ state: 'loading' });
  useEffect(() => {
    setLive({ state: 'loading' });
    return onSnapshot(
      doc(session.db, 'haystack_runs', runId),
      (snapshot) =>
        setLive({ state: 'ready', value: snapshot.exists() ? (snapshot.data() as HaystackRun) : null }),
      (error) =>
        setLive(
          error.code === 'permission-denied'
            ? { state: 'ready', value: null }
            : { state: 'error', message: error.message },
        ),
    );
  }, [session, runId]);
  return live;
}

/** The user's 25 newest runs, live. */
export function useHaystackRuns(session: Session): Live<HaystackRun[]> {
  const [live, setLive] = useState<Live<HaystackRun[]>>({ state: 'loading' });
  useEffect(
    () =>
      onSnapshot(
        query(
          collection(session.db, 'haystack_runs'),
          where('user_email', '==', session.email),
          orderBy('created_at', 'desc'),
          limit(25),
        ),
        (snapshot) => setLive({ state: 'ready', value: snapshot.docs.map((d) => d.data() as HaystackRun) }),
        (error) => setLive({ state: 'error', message: error.message }),
      ),
    [session],
  );
  return live;
}
