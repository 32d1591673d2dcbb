/**
 * Google's REST APIs that `doctor` reads and no other twin plays, on one loopback server, each at
 * the path its real API uses: Cloud Functions v2 (a function), Compute (a backend service), the
 * Firebase Rules API (a release and its ruleset), Firestore's admin API (the composite indexes)
 * and Batch (the jobs list, as the reachability check). Resources are what a test puts; every
 * answer has Google's shape, errors included; a bearer token is required, as there.
 */

import { createServer, type Server, type ServerResponse } from 'node:http';
import { closeNow, listenOnLoopback } from '../../lib/net';

export interface CloudFunction {
  name: string;
  state: 'ACTIVE' | 'FAILED' | 'DEPLOYING' | 'DELETING' | 'UNKNOWN';
  labels?: Record<string, string>;
  serviceConfig?: { ingressSettings?: string; uri?: string };
}

export interface FirestoreIndex {
  name: string;
  queryScope: 'COLLECTION' | 'COLLECTION_GROUP';
  fields: { fieldPath: string; order?: string; arrayConfig?: string }[];
  state: 'CREATING' | 'READY' | 'NEEDS_REPAIR';
}

const PROJECT = '([a-z][a-z0-9-]{4,28}[a-z0-9])';

export class GoogleApisTwin {
  readonly functions = new Map<string, CloudFunction>();
  /** Backend services by name: whether IAP is on. */
  readonly backendServices = new Map<string, { iap?: { enabled: boolean } }>();
  /** The cloud.firestore release's rules source, or null for no release. */
  firestoreRules: string | null = null;
  readonly indexes: FirestoreIndex[] = [];
  /** Regions where Batch answers; elsewhere it answers as for an unsupported location. */
  readonly batchRegions = new Set<string>();
  private server: Server | null = null;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (!/^Bearer \S+$/.test(req.headers.authorization ?? ''))
        return error(res, 401, 'UNAUTHENTICATED', 'Request is missing required authentication credential.');
      if (req.method !== 'GET')
        return error(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not supported here`);
      const answer = this.route(path);
      if (answer === null) return error(res, 404, 'NOT_FOUND', `Resource '${path.slice(1)}' was not found`);
      if ('error' in answer) return error(res, answer.error[0], answer.error[1], answer.error[2]);
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(answer.body));
    });
    return listenOnLoopback(this.server);
  }

  private route(path: string): { body: unknown } | { error: [number, string, string] } | null {
    let m = new RegExp(
      `^/v2/(projects/${PROJECT}/locations/[a-z0-9-]+/functions/[A-Za-z][\\w-]{0,62})$`,
    ).exec(path);
    if (m) {
      const fn = this.functions.get(m[1]!);
      return fn ? { body: fn } : null;
    }
    m = new RegExp(`^/compute/v1/projects/${PROJECT}/global/backendServices/([a-z][a-z0-9-]{0,62})$`).exec(
      path,
    );
    if (m) {
      const backend = this.backendServices.get(m[2]!);
      return backend ? { body: { name: m[2], ...backend } } : null;
    }
    m = new RegExp(`^/v1/projects/${PROJECT}/releases/cloud\\.firestore$`).exec(path);
    if (m)
      return this.firestoreRules === null
        ? null
        : {
            body: {
              name: `projects/${m[1]}/releases/cloud.firestore`,
              rulesetName: `projects/${m[1]}/rulesets/r1`,
            },
          };
    m = new RegExp(`^/v1/projects/${PROJECT}/rulesets/r1$`).exec(path);
    if (m && this.firestoreRules !== null)
      return {
        body: {
          name: `projects/${m[1]}/rulesets/r1`,
          source: { files: [{ name: 'firestore.rules', content: this.firestoreRules }] },
        },
      };
    m = new RegExp(`^/v1/projects/${PROJECT}/databases/\\(default\\)/collectionGroups/-/indexes$`).exec(path);
    if (m) return { body: { indexes: this.indexes } };
    m = new RegExp(`^/v1/projects/${PROJECT}/locations/([a-z0-9-]+)/jobs$`).exec(path);
    if (m)
      return this.batchRegions.has(m[2]!)
        ? { body: { jobs: [] } }
        : { error: [400, 'INVALID_ARGUMENT', `Location ${m[2]} is not supported for Batch.`] };
    return null;
  }

  stop(): Promise<void> {
    return closeNow(this.server);
  }
}

function error(res: ServerResponse, code: number, status: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify({ error: { code, message, status } }));
}
