/**
 * The Workflows API's REST face for deployed workflows (workflows.googleapis.com/v1, GET of a
 * workflow), backed by LocalWorkflows' deployments: what `doctor` reads to compare the deployed
 * definition with workflows/. Google's error shape; a bearer token is required, as there.
 */
import { createServer, type Server } from 'node:http';
import { closeNow, listenOnLoopback } from '../lib/net';
import type { LocalWorkflows } from './local-workflows';

const WORKFLOW =
  /^\/v1\/(projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/locations\/[a-z0-9-]+\/workflows\/([a-zA-Z][a-zA-Z0-9_-]{0,63}))$/;

export async function serveWorkflowsRest(
  workflows: LocalWorkflows,
): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(body));
    };
    const error = (code: number, status: string, message: string) =>
      send(code, { error: { code, message, status } });
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? ''))
      return error(401, 'UNAUTHENTICATED', 'Request is missing required authentication credential.');
    const match = WORKFLOW.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (req.method !== 'GET' || !match)
      return error(404, 'NOT_FOUND', `Method not found: ${req.method} ${req.url}`);
    const deployed = workflows.deployment(match[2]!);
    if (!deployed) return error(404, 'NOT_FOUND', `Resource '${match[1]}' was not found`);
    send(200, {
      name: match[1],
      state: 'ACTIVE',
      revisionId: `${String(deployed.revision).padStart(6, '0')}-local`,
      updateTime: deployed.updated,
      sourceContents: deployed.source,
    });
  });
  return { url: await listenOnLoopback(server), stop: () => closeNow(server) };
}
