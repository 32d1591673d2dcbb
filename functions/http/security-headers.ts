/**
 * Response hardening (ARCHITECTURE §11): helmet's headers on every API answer and on the
 * page, with a strict CSP (no inline script), and CORS only for configured origins.
 */
import cors from 'cors';
import type { Request, Response } from 'express';
import helmet from 'helmet';

type Middleware = (req: Request, res: Response, next: (error?: unknown) => void) => void;

function run(middleware: Middleware, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) =>
    middleware(req, res, (error) => (error ? reject(error) : resolve())),
  );
}

/** JSON answers are never documents: nothing may load, frame or sniff them. */
const apiHelmet = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
    },
  },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  referrerPolicy: { policy: 'no-referrer' },
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
  xFrameOptions: { action: 'deny' },
}) as Middleware;

export function apiSecurityHeaders(req: Request, res: Response): Promise<void> {
  return run(apiHelmet, req, res);
}

/**
 * The page's policy: its own scripts and styles only; it talks to its own origin (the API) and
 * to Firestore — Google's endpoints in production, the emulator locally.
 */
export function pageSecurityHeaders(connectSources: string[]): Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'", ...connectSources],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'same-origin' },
    xFrameOptions: { action: 'deny' },
  }) as Middleware;
}

/** Where the page's Firestore traffic goes in production (Firestore, and Firebase Auth for the custom token). */
export const FIREBASE_CONNECT_SOURCES = [
  'https://firestore.googleapis.com',
  'https://identitytoolkit.googleapis.com',
  'https://securetoken.googleapis.com',
];

/**
 * CORS for the configured origins only; with none configured, no Access-Control-* header is
 * ever sent and browsers on other origins cannot read answers. Answers preflights itself:
 * true means the response is finished.
 */
export function corsFor(origins: string[]): (req: Request, res: Response) => Promise<boolean> {
  if (origins.length === 0) return async () => false;
  const middleware = cors({
    origin: origins,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['content-type', 'x-request-id', 'last-event-id'],
    exposedHeaders: ['x-request-id', 'retry-after', 'location'],
    maxAge: 600,
  }) as Middleware;
  return (req, res) =>
    new Promise((resolve, reject) => {
      let continued = false;
      middleware(req, res, (error) => {
        continued = true;
        if (error) reject(error);
        else resolve(false);
      });
      // A preflight is answered (204) without calling next.
      if (!continued && res.writableEnded) resolve(true);
    });
}
