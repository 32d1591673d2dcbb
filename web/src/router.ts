import { useEffect, useState } from 'preact/hooks';
import { HAYSTACK_RUN_ID, RUN_ID } from '../../functions/core/shared/ids';

/** Hash routes, so the page works as static files anywhere: #/, #/runs/{id}, #/new. */
export type Route =
  | { name: 'runs'; query: URLSearchParams }
  | { name: 'run'; id: string }
  | { name: 'new' }
  | { name: 'haystack' }
  | { name: 'settings' }
  | { name: 'storage' }
  | { name: 'haystack-run'; id: string }
  | { name: 'compare'; a: string | null; b: string | null }
  | { name: 'missing'; path: string };

export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?');
  if (path === '' || path === '/' || path === '/runs')
    return { name: 'runs', query: new URLSearchParams(search) };
  if (path === '/new') return { name: 'new' };
  if (path === '/haystack') return { name: 'haystack' };
  if (path === '/settings') return { name: 'settings' };
  if (path === '/storage') return { name: 'storage' };
  if (path === '/compare') {
    const query = new URLSearchParams(search);
    const id = (name: string) => {
      const value = query.get(name);
      return value && new RegExp(`^${RUN_ID}$`).test(value) ? value : null;
    };
    return { name: 'compare', a: id('a'), b: id('b') };
  }
  const question = new RegExp(`^/haystack/(${HAYSTACK_RUN_ID})$`).exec(path);
  if (question) return { name: 'haystack-run', id: question[1]! };
  const run = new RegExp(`^/runs/(${RUN_ID})$`).exec(path);
  if (run) return { name: 'run', id: run[1]! };
  return { name: 'missing', path };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

export function navigate(hash: string): void {
  location.hash = hash;
}
