import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorText } from './api';
import { ErrorNote, Loading } from './components/ui';
import { lazy } from './lazy';
import { connect, type Session } from './live';
import { RunDetail } from './pages/run-detail';
import { RunsList } from './pages/runs-list';
import { useRoute } from './router';

// Loaded when first visited: the first screen (the runs list) needs none of them.
const NewRun = lazy(() => import('./pages/new-run').then((m) => m.NewRun), 'the launch form');
const HaystackPage = lazy(() => import('./pages/haystack').then((m) => m.HaystackPage), 'cell prompting');
const HaystackRunPage = lazy(
  () => import('./pages/haystack-run').then((m) => m.HaystackRunPage),
  'the cell prompting run',
);
const ComparePage = lazy(() => import('./pages/compare').then((m) => m.ComparePage), 'the comparison');
const StoragePage = lazy(() => import('./pages/storage').then((m) => m.StoragePage), 'the work directories');
const SettingsPage = lazy(() => import('./pages/settings').then((m) => m.SettingsPage), 'notifications');

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<string | null>(null);
  const route = useRoute();

  useEffect(() => {
    connect()
      .then(setSession)
      .catch((e: unknown) => setError(errorText(e)));
  }, []);

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a href="#/" class="brand">
          Arc Reactor
        </a>
        <nav aria-label="Main">
          <a
            href="#/"
            aria-current={
              route.name === 'runs' || route.name === 'run' || route.name === 'compare' ? 'page' : undefined
            }
          >
            Runs
          </a>
          <a href="#/new" aria-current={route.name === 'new' ? 'page' : undefined}>
            New run
          </a>
          <a
            href="#/haystack"
            aria-current={route.name === 'haystack' || route.name === 'haystack-run' ? 'page' : undefined}
          >
            Cell prompting
          </a>
          <a href="#/storage" aria-current={route.name === 'storage' ? 'page' : undefined}>
            Storage
          </a>
          <a href="#/settings" aria-current={route.name === 'settings' ? 'page' : undefined}>
            Notifications
          </a>
        </nav>
        {session && (
          <span class="user" data-testid="user">
            {session.email}
            {session.admin ? ' (admin)' : ''}
          </span>
        )}
      </header>
      <main id="main">
        {error && <ErrorNote title="Could not sign you in.">{error} Reload the page to try again.</ErrorNote>}
        {!session && !error && <Loading what="Signing in…" />}
        {session && route.name === 'runs' && <RunsList session={session} query={route.query} />}
        {session && route.name === 'run' && <RunDetail session={session} runId={route.id} />}
        {session && route.name === 'new' && <NewRun session={session} />}
        {session && route.name === 'haystack' && <HaystackPage session={session} />}
        {session && route.name === 'settings' && <SettingsPage />}
        {session && route.name === 'storage' && <StoragePage />}
        {session && route.name === 'compare' && <ComparePage a={route.a} b={route.b} />}
        {session && route.name === 'haystack-run' && <HaystackRunPage session={session} runId={route.id} />}
        {session && route.name === 'missing' && (
          <section class="empty">
            <h1>Page not found</h1>
            <p>
              Nothing lives at <span class="mono">{route.path}</span>. <a href="#/">Go to your runs</a>
            </p>
          </section>
        )}
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root) {
  root.replaceChildren();
  render(<App />, root);
}
