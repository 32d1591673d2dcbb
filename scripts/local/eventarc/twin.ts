/**
 * Eventarc's REST API (eventarc.googleapis.com/v1), the part `doctor` reads: list and get
 * triggers, with Google's error shape, paging, and a refusal without a bearer token. Tests add,
 * break and remove triggers to see `doctor` report them.
 */

import { createServer, type Server } from 'node:http';
import { closeNow, listenOnLoopback } from '../../lib/net';

export interface EventarcTrigger {
  name: string;
  eventFilters: { attribute: string; value: string }[];
  serviceAccount?: string;
  destination: { cloudRun?: { service: string; region: string; path?: string } };
  transport?: { pubsub?: { topic: string; subscription?: string } };
  /** Non-empty when something is wrong (e.g. {"pubsubTopic": {code: "NOT_FOUND", message}}). */
  conditions?: Record<string, { code: string; message: string }>;
  createTime?: string;
  updateTime?: string;
}

const LOCATION =
  /^\/v1\/projects\/([a-z][a-z0-9-]{4,28}[a-z0-9])\/locations\/([a-z0-9-]+)\/triggers(?:\/([a-z0-9-]+))?$/;

function googleError(res: import('node:http').ServerResponse, code: number, status: string, message: string) {
  res.writeHead(code, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify({ error: { code, message, status } }));
}

export class EventarcTwin {
  private readonly triggers = new Map<string, EventarcTrigger>();
  private server: Server | null = null;
  /** Requests seen, for tests. */
  readonly requests: string[] = [];

  put(trigger: EventarcTrigger): void {
    const now = new Date().toISOString();
    this.triggers.set(trigger.name, { createTime: now, updateTime: now, conditions: {}, ...trigger });
  }

  remove(name: string): void {
    this.triggers.delete(name);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      this.requests.push(`${req.method} ${url.pathname}`);
      if (!/^Bearer \S+$/.test(req.headers.authorization ?? ''))
        return googleError(
          res,
          401,
          'UNAUTHENTICATED',
          'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        );
      const match = LOCATION.exec(url.pathname);
      if (req.method !== 'GET' || !match)
        return googleError(res, 404, 'NOT_FOUND', `Method not found: ${req.method} ${url.pathname}`);
      const parent = `projects/${match[1]}/locations/${match[2]}`;
      if (match[3]) {
        const trigger = this.triggers.get(`${parent}/triggers/${match[3]}`);
        if (!trigger)
          return googleError(
            res,
            404,
            'NOT_FOUND',
            `Resource '${parent}/triggers/${match[3]}' was not found`,
          );
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
        return res.end(JSON.stringify(trigger));
      }
      const pageSize = Math.min(Number(url.searchParams.get('pageSize') ?? 100) || 100, 100);
      const start = Number(url.searchParams.get('pageToken') ?? 0) || 0;
      const all = [...this.triggers.values()].filter((t) => t.name.startsWith(`${parent}/triggers/`));
      const page = all.slice(start, start + pageSize);
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(
        JSON.stringify({
          triggers: page,
          ...(start + pageSize < all.length ? { nextPageToken: String(start + pageSize) } : {}),
        }),
      );
    });
    return listenOnLoopback(this.server);
  }

  stop(): Promise<void> {
    return closeNow(this.server);
  }
}
