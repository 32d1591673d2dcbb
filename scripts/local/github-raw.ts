/**
 * A local twin of GitHub's raw file host (raw.githubusercontent.com) for `npm run pipelines --
 * add`: GET /{owner}/{repo}/{ref}/{path} answers the file under `root/{owner}/{repo}/{ref}/`
 * as text/plain, and anything missing with 404 "404: Not Found", as the host does. Only GET
 * and HEAD; a path that tries to leave the root is a 400.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';

export interface GithubRaw {
  url: string;
  /** Requests served, as "GET /owner/repo/ref/path 200", for tests. */
  requests: string[];
  close(): Promise<void>;
}

const SEGMENT = /^[\w.-]+$/;

export async function startGithubRaw(root: string): Promise<GithubRaw> {
  const base = resolve(root);
  const requests: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://raw').pathname);
    const answer = (code: number, body: string | Buffer) => {
      requests.push(`${req.method} ${path} ${code}`);
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, 'Method Not Allowed');
    const parts = path.split('/').slice(1);
    if (parts.length < 4 || parts.some((part) => !SEGMENT.test(part) || part === '..' || part === '.'))
      return answer(400, '400: Invalid request');
    const file = join(base, ...parts);
    if (!file.startsWith(base + sep)) return answer(400, '400: Invalid request');
    try {
      if (!(await stat(file)).isFile()) return answer(404, '404: Not Found');
      return answer(200, await readFile(file));
    } catch {
      return answer(404, '404: Not Found');
    }
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
