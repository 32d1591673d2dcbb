/**
 * Parts of the page only some visits use (the wizard, HAYSTACK, the assistant, the charts),
 * loaded when first shown: the first screen (the runs list) downloads none of them. esbuild
 * splits each `import()` into a chunk of its own.
 */
import { type ComponentType, h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorText } from './api';
import { ErrorNote, Loading } from './components/ui';

export function lazy<P extends object>(
  load: () => Promise<ComponentType<P>>,
  what: string,
): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  let pending: Promise<ComponentType<P>> | null = null;
  return function Lazy(props: P) {
    const [, setReady] = useState(0);
    const [error, setError] = useState<string | null>(null);
    useEffect(() => {
      if (loaded) return;
      let live = true;
      pending ??= load();
      pending.then(
        (component) => {
          loaded = component;
          if (live) setReady((n) => n + 1);
        },
        (e: unknown) => {
          pending = null;
          if (live) setError(errorText(e));
        },
      );
      return () => {
        live = false;
      };
    }, []);
    if (loaded) return h(loaded, props);
    if (error)
      return <ErrorNote title={`Could not load ${what}.`}>{error} Reload the page to try again.</ErrorNote>;
    return <Loading what={`Loading ${what}…`} />;
  };
}
