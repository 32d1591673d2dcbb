/**
 * A local Cloud Storage server: the subset of the JSON API that the real
 * `@google-cloud/storage` client uses (simple, multipart and resumable uploads, downloads
 * with Range, list with prefix/delimiter/pagination, metadata get/patch, delete, compose,
 * bucket get/create). Objects live on disk under `dataDir`; every finalized object is
 * announced to `onFinalize` listeners with the same fields as a real
 * `google.cloud.storage.object.v1.finalized` payload (generation and size as strings).
 */
import { createHash, type KeyObject, randomUUID, verify } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CRC32C } from '@google-cloud/storage';

export interface StoredObject {
  kind: 'storage#object';
  id: string;
  selfLink: string;
  mediaLink: string;
  name: string;
  bucket: string;
  generation: string;
  metageneration: string;
  contentType: string;
  storageClass: 'STANDARD';
  size: string;
  md5Hash: string;
  crc32c: string;
  etag: string;
  timeCreated: string;
  updated: string;
  metadata?: Record<string, string>;
}

export type FinalizeListener = (object: StoredObject) => void;

class GcsError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

interface Upload {
  bucket: string;
  metadata: Partial<StoredObject> & { name: string };
  chunks: Buffer[];
  received: number;
  preconditions: URLSearchParams;
}

const API_PREFIXES = ['/upload/storage/v1', '/download/storage/v1', '/storage/v1'];
const MAX_LIST_RESULTS = 1000;

function fileKey(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** GCS limits an object's custom metadata (keys and values together) to 8 KiB. */
const MAX_CUSTOM_METADATA_BYTES = 8 * 1024;

function checkCustomMetadata(metadata: Record<string, string> | undefined): void {
  const bytes = Object.entries(metadata ?? {}).reduce(
    (sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(String(value ?? '')),
    0,
  );
  if (bytes > MAX_CUSTOM_METADATA_BYTES) throw new GcsError(400, 'Metadata part is too large.', 'invalid');
}

function parseMultipart(
  body: Buffer,
  contentType: string,
): { metadata: Record<string, unknown>; media: Buffer; mediaType: string } {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) throw new GcsError(400, 'multipart upload without a boundary', 'invalid');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: string; content: Buffer }[] = [];
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const afterDelimiter = start + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, afterDelimiter);
    if (next === -1) break;
    const part = body.subarray(afterDelimiter, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd === -1) throw new GcsError(400, 'malformed multipart part', 'invalid');
    let content = part.subarray(headerEnd + 4);
    if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
    parts.push({ headers: part.subarray(0, headerEnd).toString(), content });
    start = next;
  }
  const [metaPart, mediaPart] = parts;
  if (!metaPart || !mediaPart)
    throw new GcsError(400, 'multipart upload needs a metadata and a media part', 'invalid');
  const mediaType =
    /content-type:\s*([^\r\n]+)/i.exec(mediaPart.headers)?.[1]?.trim() ?? 'application/octet-stream';
  return {
    metadata: JSON.parse(metaPart.content.toString('utf8')) as Record<string, unknown>,
    media: mediaPart.content,
    mediaType,
  };
}

function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null;
  const [, from, to] = match;
  let start: number;
  let end: number;
  if (from === '') {
    const suffix = Number(to);
    if (!suffix) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(from);
    end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export interface LocalGcsServerOptions {
  dataDir: string;
  host?: string;
}

/** The signed-URL query encoding of the storage client (encodeURIComponent plus !'()*). */
function encodeSigned(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function xmlError(res: ServerResponse, status: number, code: string, details: string): void {
  res.writeHead(status, { 'content-type': 'application/xml; charset=UTF-8' });
  res.end(
    `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${code === 'ExpiredToken' ? 'Invalid argument.' : 'Access denied.'}</Message><Details>${details}</Details></Error>`,
  );
}

export class LocalGcsServer {
  private server: Server | null = null;
  private readonly buckets = new Map<string, Map<string, StoredObject>>();
  /** Each bucket's lifecycle configuration, as set with bucket.setMetadata. */
  private readonly lifecycles = new Map<string, { rule: unknown[] }>();
  private readonly uploads = new Map<string, Upload>();
  private readonly listeners = new Set<FinalizeListener>();
  /** Per object file: the latest write or read start, which the next one waits for. */
  private readonly turns = new Map<string, Promise<void>>();
  private lastGeneration = 0;
  private baseUrl = '';
  /** Service accounts whose V4 signatures this server accepts: client_email → public key. */
  private readonly signers = new Map<string, KeyObject | string>();

  constructor(private readonly options: LocalGcsServerOptions) {}

  get url(): string {
    return this.baseUrl;
  }

  /** Trusts V4 signed URLs made with this service account's key. */
  trustSigner(clientEmail: string, publicKey: KeyObject | string): void {
    this.signers.set(clientEmail, publicKey);
  }

  onFinalize(listener: FinalizeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(port = 0): Promise<string> {
    await mkdir(this.options.dataDir, { recursive: true });
    await this.loadIndex();
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => this.sendError(res, error));
    });
    // Google's front ends keep an idle connection for minutes (610 s behind a load balancer);
    // Node's default of 5 s closes pooled sockets under the client, which then resets requests it
    // sent on them as they closed — 'read ECONNRESET' on every retry when a burst of parallel
    // requests left many sockets idle at the same instant (CI saw input checks fail so).
    server.keepAliveTimeout = 610_000;
    this.server = server;
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    this.baseUrl = `http://${host}:${address.port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async createBucket(name: string): Promise<void> {
    if (this.buckets.has(name)) return;
    await mkdir(join(this.options.dataDir, name), { recursive: true });
    this.buckets.set(name, new Map());
  }

  /** Writes an object directly (seeding demo data); listeners hear about it like any upload. */
  async putObject(
    bucket: string,
    name: string,
    content: Buffer | string,
    contentType = 'application/octet-stream',
  ) {
    await this.createBucket(bucket);
    return this.store(bucket, { name, contentType }, Buffer.from(content), new URLSearchParams());
  }

  // ---- storage -------------------------------------------------------------------------

  /** The live objects under a prefix as this server holds them (name and size), in name order. */
  objectsUnder(bucket: string, prefix: string): { name: string; size: number }[] {
    return [...(this.buckets.get(bucket)?.values() ?? [])]
      .filter((object) => object.name.startsWith(prefix))
      .map((object) => ({ name: object.name, size: Number(object.size) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async loadIndex(): Promise<void> {
    for (const entry of await readdir(this.options.dataDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const objects = new Map<string, StoredObject>();
      this.buckets.set(entry.name, objects);
      for (const file of await readdir(join(this.options.dataDir, entry.name))) {
        if (!file.endsWith('.meta.json')) continue;
        const meta = JSON.parse(
          await readFile(join(this.options.dataDir, entry.name, file), 'utf8'),
        ) as StoredObject;
        objects.set(meta.name, meta);
        this.lastGeneration = Math.max(this.lastGeneration, Number(meta.generation));
      }
    }
  }

  private bucket(name: string): Map<string, StoredObject> {
    const objects = this.buckets.get(name);
    if (!objects) throw new GcsError(404, `The specified bucket does not exist: ${name}`, 'notFound');
    return objects;
  }

  /** The live object; with `generation`, only if that is the live generation (buckets here keep no versions). */
  private object(bucket: string, name: string, generation?: string | null): StoredObject {
    const object = this.bucket(bucket).get(name);
    if (!object || (generation && generation !== object.generation))
      throw new GcsError(
        404,
        `No such object: ${bucket}/${name}${generation ? `#${generation}` : ''}`,
        'notFound',
      );
    return object;
  }

  private dataPath(bucket: string, name: string): string {
    return join(this.options.dataDir, bucket, fileKey(name));
  }

  private nextGeneration(): string {
    // Microseconds since the epoch, strictly increasing, like real generations.
    this.lastGeneration = Math.max(this.lastGeneration + 1, Date.now() * 1000);
    return String(this.lastGeneration);
  }

  private checkPreconditions(bucket: string, name: string, query: URLSearchParams): void {
    const ifGenerationMatch = query.get('ifGenerationMatch');
    if (ifGenerationMatch === null) return;
    const existing = this.bucket(bucket).get(name);
    const current = existing?.generation ?? '0';
    if (current !== ifGenerationMatch) {
      throw new GcsError(
        412,
        `At least one of the pre-conditions you specified did not hold.`,
        'conditionNotMet',
      );
    }
  }

  private async store(
    bucket: string,
    metadata: Partial<StoredObject> & { name: string },
    content: Buffer,
    preconditions: URLSearchParams,
  ): Promise<StoredObject> {
    const objects = this.bucket(bucket);
    this.checkPreconditions(bucket, metadata.name, preconditions);
    checkCustomMetadata(metadata.metadata);
    const crc = new CRC32C();
    crc.update(content);
    const generation = this.nextGeneration();
    const now = new Date().toISOString();
    const previous = objects.get(metadata.name);
    const object: StoredObject = {
      kind: 'storage#object',
      id: `${bucket}/${metadata.name}/${generation}`,
      selfLink: `${this.baseUrl}/storage/v1/b/${bucket}/o/${encodeURIComponent(metadata.name)}`,
      mediaLink: `${this.baseUrl}/download/storage/v1/b/${bucket}/o/${encodeURIComponent(metadata.name)}?generation=${generation}&alt=media`,
      name: metadata.name,
      bucket,
      generation,
      metageneration: '1',
      contentType: metadata.contentType || 'application/octet-stream',
      storageClass: 'STANDARD',
      size: String(content.length),
      md5Hash: createHash('md5').update(content).digest('base64'),
      crc32c: crc.toString(),
      etag: createHash('md5').update(generation).digest('base64'),
      timeCreated: previous && previous.generation === generation ? previous.timeCreated : now,
      updated: now,
      ...(metadata.metadata ? { metadata: metadata.metadata } : {}),
    };
    const path = this.dataPath(bucket, object.name);
    const temporary = `${path}.${randomUUID()}.tmp`;
    await writeFile(temporary, content);
    // The new content and its metadata appear together, as on GCS: a read never pairs one
    // generation's metadata (and hashes) with another's bytes.
    await this.exclusive(path, async () => {
      await rename(temporary, path);
      objects.set(object.name, object);
    });
    await writeFile(`${path}.meta.json`, JSON.stringify(object));
    for (const listener of this.listeners) listener(object);
    return object;
  }

  /** Runs `step` after the object's earlier writes and read starts, alone. */
  private async exclusive<T>(path: string, step: () => Promise<T>): Promise<T> {
    const previous = this.turns.get(path) ?? Promise.resolve();
    const turn = previous.then(step);
    const settled = turn.then(
      () => {},
      () => {},
    );
    this.turns.set(path, settled);
    try {
      return await turn;
    } finally {
      if (this.turns.get(path) === settled) this.turns.delete(path);
    }
  }

  private async remove(bucket: string, name: string): Promise<void> {
    this.object(bucket, name);
    const path = this.dataPath(bucket, name);
    await this.exclusive(path, async () => {
      this.bucket(bucket).delete(name);
      await rm(path, { force: true });
    });
    await rm(`${path}.meta.json`, { force: true });
  }

  // ---- HTTP ----------------------------------------------------------------------------

  private sendJson(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(text);
  }

  private sendError(res: ServerResponse, error: unknown): void {
    const status = error instanceof GcsError ? error.status : 500;
    const message = error instanceof Error ? error.message : String(error);
    const reason = error instanceof GcsError ? error.reason : 'backendError';
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.sendJson(res, status, {
      error: { code: status, message, errors: [{ message, domain: 'global', reason }] },
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path = url.pathname;
    const isUpload = path.startsWith('/upload/');
    for (const prefix of API_PREFIXES) {
      if (path.startsWith(`${prefix}/`)) {
        path = path.slice(prefix.length);
        break;
      }
    }
    const method = req.method ?? 'GET';
    const segments = path.split('/').filter(Boolean);

    if (segments[0] !== 'b' && path === url.pathname && (method === 'GET' || method === 'HEAD')) {
      return this.handleSignedDownload(req, res, url);
    }
    if (segments[0] !== 'b') throw new GcsError(404, `Not found: ${url.pathname}`, 'notFound');
    if (segments.length === 1 && method === 'POST') {
      const body = JSON.parse((await readBody(req)).toString('utf8') || '{}') as { name?: string };
      if (!body.name) throw new GcsError(400, 'bucket name required', 'invalid');
      await this.createBucket(body.name);
      return this.sendJson(res, 200, { kind: 'storage#bucket', name: body.name, id: body.name });
    }
    const bucket = decodeURIComponent(segments[1] ?? '');
    if (segments.length === 2) {
      this.bucket(bucket);
      const resource = () => ({
        kind: 'storage#bucket',
        name: bucket,
        id: bucket,
        ...(this.lifecycles.has(bucket) ? { lifecycle: this.lifecycles.get(bucket) } : {}),
      });
      if (method === 'GET') return this.sendJson(res, 200, resource());
      if (method === 'PATCH') {
        // bucket.setMetadata({lifecycle}): the rules GCS accepts (an action type and a condition).
        const body = JSON.parse((await readBody(req)).toString('utf8') || '{}') as {
          lifecycle?: { rule?: { action?: { type?: string }; condition?: Record<string, unknown> }[] };
        };
        if (body.lifecycle) {
          for (const rule of body.lifecycle.rule ?? []) {
            if (
              !['Delete', 'SetStorageClass', 'AbortIncompleteMultipartUpload'].includes(
                rule.action?.type ?? '',
              )
            )
              throw new GcsError(400, `Invalid lifecycle action: ${rule.action?.type}`, 'invalid');
            if (!rule.condition || Object.keys(rule.condition).length === 0)
              throw new GcsError(400, 'A lifecycle rule needs at least one condition.', 'invalid');
          }
          this.lifecycles.set(bucket, { rule: body.lifecycle.rule ?? [] });
        }
        return this.sendJson(res, 200, resource());
      }
      throw new GcsError(405, `${method} is not supported on buckets here`, 'invalid');
    }
    if (segments[2] !== 'o') throw new GcsError(404, `Not found: ${url.pathname}`, 'notFound');

    if (isUpload && segments.length === 3) return this.handleUpload(req, res, bucket, url);
    if (segments.length === 3 && method === 'GET') return this.handleList(res, bucket, url.searchParams);

    // Object names may contain '/', encoded as %2F: rejoin what follows /o/.
    const rest = url.pathname.slice(url.pathname.indexOf('/o/') + 3);
    const isCompose = rest.endsWith('/compose') && method === 'POST';
    const name = decodeURIComponent(isCompose ? rest.slice(0, -'/compose'.length) : rest);
    if (isCompose) return this.handleCompose(req, res, bucket, name, url.searchParams);

    switch (method) {
      case 'GET':
        if (url.searchParams.get('alt') === 'media')
          return this.handleDownload(req, res, bucket, name, url.searchParams.get('generation'));
        return this.sendJson(res, 200, this.object(bucket, name, url.searchParams.get('generation')));
      case 'PATCH': {
        const object = this.object(bucket, name);
        const patch = JSON.parse((await readBody(req)).toString('utf8') || '{}') as Partial<StoredObject>;
        if (patch.metadata) checkCustomMetadata({ ...object.metadata, ...patch.metadata });
        const updated: StoredObject = {
          ...object,
          ...(patch.contentType ? { contentType: patch.contentType } : {}),
          ...(patch.metadata ? { metadata: { ...object.metadata, ...patch.metadata } } : {}),
          metageneration: String(Number(object.metageneration) + 1),
          updated: new Date().toISOString(),
        };
        this.bucket(bucket).set(name, updated);
        await writeFile(`${this.dataPath(bucket, name)}.meta.json`, JSON.stringify(updated));
        return this.sendJson(res, 200, updated);
      }
      case 'DELETE':
        await this.remove(bucket, name);
        res.writeHead(204);
        res.end();
        return;
      default:
        throw new GcsError(405, `${method} is not supported on objects here`, 'invalid');
    }
  }

  /**
   * `GET /{bucket}/{object}?X-Goog-Signature=…`: a V4 signed URL, verified like GCS does it
   * (RSA-SHA256 over the canonical request, expiry from X-Goog-Date + X-Goog-Expires).
   * Anything expired, altered or unsigned is refused with 403.
   */
  private async handleSignedDownload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const query = url.searchParams;
    const signature = query.get('X-Goog-Signature');
    if (!signature || query.get('X-Goog-Algorithm') !== 'GOOG4-RSA-SHA256') {
      return xmlError(res, 403, 'AccessDenied', 'Anonymous caller does not have storage.objects.get access.');
    }
    const credential = query.get('X-Goog-Credential') ?? '';
    const email = credential.slice(0, credential.indexOf('/'));
    const scope = credential.slice(credential.indexOf('/') + 1);
    const date = query.get('X-Goog-Date') ?? '';
    const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
    const expires = Number(query.get('X-Goog-Expires'));
    if (!match || !Number.isFinite(expires))
      return xmlError(res, 403, 'AuthenticationRequired', 'Malformed signed URL.');
    const signedAt = Date.UTC(
      Number(match[1]),
      Number(match[2]) - 1,
      Number(match[3]),
      Number(match[4]),
      Number(match[5]),
      Number(match[6]),
    );
    if (Date.now() > signedAt + expires * 1000) {
      return xmlError(
        res,
        403,
        'ExpiredToken',
        `The provided token has expired. Request signature expired at: ${new Date(signedAt + expires * 1000).toISOString()}`,
      );
    }
    const key = this.signers.get(email);
    if (!key) return xmlError(res, 403, 'AccessDenied', `${email} is not allowed to sign URLs here.`);
    const canonicalQuery = [...query.entries()]
      .filter(([name]) => name !== 'X-Goog-Signature')
      .map(([name, value]) => [encodeSigned(name), encodeSigned(value)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([name, value]) => `${name}=${value}`)
      .join('&');
    const signedHeaders = (query.get('X-Goog-SignedHeaders') ?? '').split(';');
    const header = (name: string) =>
      name === 'host' ? (req.headers.host ?? '').replace(/:\d+$/, '') : String(req.headers[name] ?? '');
    const canonicalHeaders = signedHeaders.map((name) => `${name}:${header(name).trim()}\n`).join('');
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const canonicalRequest = [
      req.method,
      rawPath,
      canonicalQuery,
      canonicalHeaders,
      signedHeaders.join(';'),
      'UNSIGNED-PAYLOAD',
    ].join('\n');
    const stringToSign = [
      'GOOG4-RSA-SHA256',
      date,
      scope,
      createHash('sha256').update(canonicalRequest).digest('hex'),
    ].join('\n');
    const valid =
      /^[0-9a-f]+$/i.test(signature) &&
      verify('RSA-SHA256', Buffer.from(stringToSign), key, Buffer.from(signature, 'hex'));
    if (!valid) {
      return xmlError(
        res,
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
      );
    }
    const [, bucket, ...rest] = rawPath.split('/');
    const disposition = query.get('response-content-disposition');
    if (disposition) res.setHeader('content-disposition', disposition);
    // As GCS does: a signed URL may name the response's content type (an HTML report shown inline).
    return this.handleDownload(
      req,
      res,
      decodeURIComponent(bucket ?? ''),
      decodeURIComponent(rest.join('/')),
      null,
      query.get('response-content-type'),
    );
  }

  private handleList(res: ServerResponse, bucket: string, query: URLSearchParams): void {
    const prefix = query.get('prefix') ?? '';
    const delimiter = query.get('delimiter') ?? '';
    const maxResults = Math.min(
      Number(query.get('maxResults') ?? MAX_LIST_RESULTS) || MAX_LIST_RESULTS,
      MAX_LIST_RESULTS,
    );
    const startAfter = query.get('pageToken')
      ? Buffer.from(query.get('pageToken')!, 'base64url').toString()
      : '';
    const names = [...this.bucket(bucket).keys()].filter((n) => n.startsWith(prefix)).sort();
    const items: StoredObject[] = [];
    const prefixes = new Set<string>();
    let lastEmitted = '';
    let nextPageToken: string | undefined;
    for (const name of names) {
      if (name <= startAfter) continue;
      let entry = name;
      if (delimiter) {
        const cut = name.indexOf(delimiter, prefix.length);
        if (cut !== -1) entry = name.slice(0, cut + delimiter.length);
      }
      // A prefix already returned (on this page or an earlier one) is not repeated.
      if (entry !== name && (entry <= startAfter || prefixes.has(entry))) continue;
      if (items.length + prefixes.size >= maxResults) {
        nextPageToken = Buffer.from(lastEmitted).toString('base64url');
        break;
      }
      if (entry !== name) prefixes.add(entry);
      else items.push(this.bucket(bucket).get(name)!);
      lastEmitted = entry;
    }
    this.sendJson(res, 200, {
      kind: 'storage#objects',
      ...(items.length ? { items } : {}),
      ...(prefixes.size ? { prefixes: [...prefixes] } : {}),
      ...(nextPageToken ? { nextPageToken } : {}),
    });
  }

  private async handleDownload(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    name: string,
    generation?: string | null,
    contentType?: string | null,
  ): Promise<void> {
    // The metadata and an open handle on its bytes, taken together (a later write replaces the
    // file, not what this handle reads).
    const path = this.dataPath(bucket, name);
    const { object, file } = await this.exclusive(path, async () => {
      const object = this.object(bucket, name, generation);
      return { object, file: await open(path) };
    });
    const size = Number(object.size);
    const range = parseRange(req.headers.range, size);
    const headers: Record<string, string> = {
      'content-type': contentType ?? object.contentType,
      'x-goog-generation': object.generation,
      'x-goog-metageneration': object.metageneration,
      'x-goog-stored-content-length': object.size,
      'x-goog-stored-content-encoding': 'identity',
      'accept-ranges': 'bytes',
      etag: object.etag,
      'last-modified': new Date(object.updated).toUTCString(),
    };
    if (range === 'unsatisfiable') {
      await file.close();
      res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` });
      res.end();
      return;
    }
    if (range) {
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${range.start}-${range.end}/${size}`,
        'content-length': String(range.end - range.start + 1),
      });
      if (req.method === 'HEAD' || range.end < range.start) {
        await file.close();
        return void res.end();
      }
      file.createReadStream({ start: range.start, end: range.end }).pipe(res);
      return;
    }
    res.writeHead(200, {
      ...headers,
      'content-length': object.size,
      'x-goog-hash': `crc32c=${object.crc32c},md5=${object.md5Hash}`,
    });
    if (size === 0) {
      await file.close();
      return void res.end();
    }
    file.createReadStream().pipe(res);
  }

  private async handleCompose(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    name: string,
    query: URLSearchParams,
  ) {
    const body = JSON.parse((await readBody(req)).toString('utf8')) as {
      sourceObjects?: { name: string }[];
      destination?: Partial<StoredObject>;
    };
    const sources = body.sourceObjects ?? [];
    if (sources.length === 0 || sources.length > 32) {
      throw new GcsError(400, 'compose takes between 1 and 32 source objects', 'invalid');
    }
    const parts: Buffer[] = [];
    for (const source of sources) {
      this.object(bucket, source.name);
      parts.push(await readFile(this.dataPath(bucket, source.name)));
    }
    const object = await this.store(
      bucket,
      {
        ...body.destination,
        name,
        contentType: body.destination?.contentType ?? this.object(bucket, sources[0]!.name).contentType,
      },
      Buffer.concat(parts),
      query,
    );
    this.sendJson(res, 200, object);
  }

  private async handleUpload(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    url: URL,
  ): Promise<void> {
    const query = url.searchParams;
    const uploadType = query.get('uploadType');
    this.bucket(bucket);

    if (uploadType === 'resumable') {
      const uploadId = query.get('upload_id');
      if (req.method === 'POST' && !uploadId) {
        const text = (await readBody(req)).toString('utf8');
        const metadata = (text ? JSON.parse(text) : {}) as Partial<StoredObject>;
        const name = metadata.name ?? query.get('name');
        if (!name) throw new GcsError(400, 'Required parameter: name', 'required');
        this.checkPreconditions(bucket, name, query);
        const id = randomUUID();
        this.uploads.set(id, {
          bucket,
          metadata: {
            ...metadata,
            name,
            contentType:
              metadata.contentType ??
              req.headers['x-upload-content-type']?.toString() ??
              'application/octet-stream',
          },
          chunks: [],
          received: 0,
          preconditions: new URLSearchParams(query),
        });
        const location = `${this.baseUrl}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&upload_id=${id}`;
        res.writeHead(200, { location, 'x-guploader-uploadid': id, 'content-length': '0' });
        res.end();
        return;
      }
      const upload = uploadId ? this.uploads.get(uploadId) : undefined;
      if (!upload) throw new GcsError(404, 'No such upload session', 'notFound');
      if (req.method === 'DELETE') {
        this.uploads.delete(uploadId!);
        res.writeHead(499);
        res.end();
        return;
      }
      const chunk = await readBody(req);
      const contentRange = req.headers['content-range'];
      const match = contentRange ? /^bytes (\*|(\d+)-(\d+))\/(\*|\d+)$/.exec(contentRange) : null;
      let total: number | null = null;
      if (match) {
        total = match[4] === '*' ? null : Number(match[4]);
        if (match[2] !== undefined) {
          const start = Number(match[2]);
          if (start !== upload.received) {
            // The client resends from what we confirmed; keep only the new tail.
            const skip = upload.received - start;
            if (skip < 0) throw new GcsError(400, 'upload chunk leaves a gap', 'invalid');
            if (skip < chunk.length) {
              upload.chunks.push(chunk.subarray(skip));
              upload.received += chunk.length - skip;
            }
          } else {
            upload.chunks.push(chunk);
            upload.received += chunk.length;
          }
        }
      } else {
        upload.chunks.push(chunk);
        upload.received += chunk.length;
        total = upload.received;
      }
      if (total !== null && upload.received >= total) {
        this.uploads.delete(uploadId!);
        const object = await this.store(
          upload.bucket,
          upload.metadata,
          Buffer.concat(upload.chunks),
          upload.preconditions,
        );
        return this.sendJson(res, 200, object);
      }
      const headers: Record<string, string> = { 'content-length': '0' };
      if (upload.received > 0) headers.range = `bytes=0-${upload.received - 1}`;
      res.writeHead(308, headers);
      res.end();
      return;
    }

    const body = await readBody(req);
    if (uploadType === 'multipart') {
      const { metadata, media, mediaType } = parseMultipart(body, req.headers['content-type'] ?? '');
      const name = (metadata.name as string | undefined) ?? query.get('name');
      if (!name) throw new GcsError(400, 'Required parameter: name', 'required');
      const object = await this.store(
        bucket,
        {
          ...(metadata as Partial<StoredObject>),
          name,
          contentType: (metadata.contentType as string | undefined) ?? mediaType,
        },
        media,
        query,
      );
      return this.sendJson(res, 200, object);
    }
    if (uploadType === 'media' || uploadType === null) {
      const name = query.get('name');
      if (!name) throw new GcsError(400, 'Required parameter: name', 'required');
      const object = await this.store(
        bucket,
        { name, contentType: req.headers['content-type'] ?? 'application/octet-stream' },
        body,
        query,
      );
      return this.sendJson(res, 200, object);
    }
    throw new GcsError(400, `Unsupported uploadType ${uploadType}`, 'invalid');
  }
}
