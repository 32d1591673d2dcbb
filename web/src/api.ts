/** Calls to the API (same origin; behind IAP in production, the IAP cookie goes along). */

import { useEffect, useState } from 'preact/hooks';
import type { FieldProblem } from '../../functions/core/shared/errors';
import type { Live } from './live';

export type { FieldProblem };

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly details: unknown,
  ) {
    super(message);
  }

  get problems(): FieldProblem[] {
    return Array.isArray(this.details) ? (this.details as FieldProblem[]) : [];
  }
}

/** What to tell the user when a request fails: the API's message, or what went wrong on the way. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError)
    return 'The server could not be reached. Check your connection and try again.';
  return error instanceof Error ? error.message : String(error);
}

export async function api<T>(
  path: string,
  options: { method?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  const init: RequestInit = {
    method: options.method ?? 'GET',
    headers: { accept: 'application/json' },
    credentials: 'same-origin',
  };
  if (options.signal) init.signal = options.signal;
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers = { ...init.headers, 'content-type': 'application/json' };
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
    const retry = response.headers.get('retry-after');
    const message =
      error?.message ??
      (response.status === 401 || response.status === 403
        ? 'You are not signed in or not allowed to do this. Reload the page to sign in again.'
        : `The server answered ${response.status} ${response.statusText}. Try again in a moment.`);
    throw new ApiError(
      retry && response.status === 429 ? `${message} Try again in ${retry} s.` : message,
      response.status,
      error?.code ?? `http_${response.status}`,
      error?.details,
    );
  }
  return body as T;
}

export const enc = encodeURIComponent;

/**
 * A REST read as the page shows it, the same `Live<T>` the Firestore hooks give: loading,
 * the value, or the error in words. Read again when `path` or any of `deps` changes (the
 * value shown meanwhile stays); `null` reads nothing.
 */
export function useApi<T>(path: string | null, deps: unknown[] = []): Live<T> {
  const [live, setLive] = useState<Live<T>>({ state: 'loading' });
  useEffect(() => {
    if (path === null) return;
    const controller = new AbortController();
    setLive((previous) => (previous.state === 'ready' ? previous : { state: 'loading' }));
    api<T>(path, { signal: controller.signal }).then(
      (value) => setLive({ state: 'ready', value }),
      (error: unknown) => {
        if (!controller.signal.aborted) setLive({ state: 'error', message: errorText(error) });
      },
    );
    return () => controller.abort();
  }, [path, ...deps]);
  return live;
}
