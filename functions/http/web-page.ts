/**
 * The page, served by the `api` function itself: one origin behind one IAP, nothing else to
 * host. Assets have content-hashed names (the build writes them into index.html), so a browser
 * keeps them a year; index.html is never kept, so a deploy reaches everyone at their next load.
 * Any other path without a file extension is a deep link (`/runs/…`, `/haystack`) and answers
 * index.html, which routes it. Only GET and HEAD.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Request, type Response } from 'express';
import { pageSecurityHeaders } from './security-headers';

/** esbuild's `[name]-[hash]`: eight base32 characters before the extension. */
const HASHED = /-[A-Z0-9]{8}\.[a-z0-9.]+$/;
const YEAR_SECONDS = 31_536_000;

type Handler = (req: Request, res: Response) => Promise<void>;

function run(
  middleware: (req: Request, res: Response, next: (error?: unknown) => void) => void,
  req: Request,
  res: Response,
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    middleware(req, res, (error) => (error ? reject(error) : resolve(false)));
    res.once('finish', () => resolve(true));
  });
}

/** Answers the page's files from `webDir`; `connectSources` are the origins its CSP lets it call. */
export function createPageHandler(webDir: string, connectSources: string[]): Handler {
  const index = join(webDir, 'index.html');
  if (!existsSync(index))
    throw new Error(`WEB_DIR=${webDir} has no index.html: run npm run build, or unset WEB_DIR.`);
  const headers = pageSecurityHeaders(connectSources);
  const files = express.static(webDir, {
    index: false,
    redirect: false,
    dotfiles: 'ignore',
    fallthrough: true,
    setHeaders: (res, path) => {
      res.setHeader(
        'cache-control',
        HASHED.test(path) ? `public, max-age=${YEAR_SECONDS}, immutable` : 'no-cache',
      );
    },
  });
  return async (req, res) => {
    await run(headers, req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(405).set('allow', 'GET, HEAD').type('text/plain').send('The page is read-only.\n');
      return;
    }
    if (req.path !== '/' && req.path !== '/index.html' && (await run(files, req, res))) return;
    const last = req.path.slice(req.path.lastIndexOf('/') + 1);
    if (last.includes('.') && last !== 'index.html') {
      res.status(404).set('cache-control', 'no-store').type('text/plain').send('Not found.\n');
      return;
    }
    res.set('cache-control', 'no-store');
    await new Promise<void>((resolve, reject) =>
      // Relative to `root`: only the path below the page's folder is checked for dotfiles.
      res.sendFile(
        'index.html',
        { root: webDir, headers: { 'content-type': 'text/html; charset=utf-8' } },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
  };
}

/** `/api` and below go to the API; everything else is the page. */
export function withPage(api: Handler, page: Handler | null): Handler {
  if (!page) return api;
  return (req, res) => (req.path === '/api' || req.path.startsWith('/api/') ? api(req, res) : page(req, res));
}
