import { createHash, randomBytes } from 'node:crypto';
import { type GetFilesOptions, type GetFilesResponse, Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../scripts/lib/net';
import { LocalGcsServer, type StoredObject } from '../../scripts/local/gcs-server';
import { localSigner } from '../../scripts/local/signer';
import { tempDir } from '../helpers/env';

let server: LocalGcsServer;
let storage: Storage;
let dir: Awaited<ReturnType<typeof tempDir>>;
const finalized: StoredObject[] = [];
const BUCKET = 'gcs-test';

beforeAll(async () => {
  dir = await tempDir('arc-gcs-');
  server = new LocalGcsServer({ dataDir: dir.path });
  const url = await server.start();
  await server.createBucket(BUCKET);
  server.onFinalize((object) => finalized.push(object));
  storage = new Storage({ apiEndpoint: url, projectId: 'arc-test' });
});
afterAll(async () => {
  await server.stop();
  await dir.remove();
});

const bucket = () => storage.bucket(BUCKET);

describe('local GCS server with the real storage client', () => {
  it('round-trips a multipart upload with matching md5 and crc32c', async () => {
    const content = randomBytes(70_000);
    await bucket()
      .file('a/multipart.bin')
      .save(content, { resumable: false, contentType: 'application/x-test' });
    const [metadata] = await bucket().file('a/multipart.bin').getMetadata();
    expect(metadata.size).toBe('70000');
    expect(metadata.contentType).toBe('application/x-test');
    expect(metadata.md5Hash).toBe(createHash('md5').update(content).digest('base64'));
    const [downloaded] = await bucket().file('a/multipart.bin').download({ validation: 'crc32c' });
    expect(downloaded.equals(content)).toBe(true);
  });

  it('accepts a chunked resumable upload', async () => {
    const content = randomBytes(600 * 1024);
    await bucket()
      .file('a/resumable.bin')
      .save(content, { resumable: true, chunkSize: 256 * 1024 });
    const [downloaded] = await bucket().file('a/resumable.bin').download({ validation: 'md5' });
    expect(downloaded.equals(content)).toBe(true);
  });

  it('serves each read one generation whole, while the object is written again and again', async () => {
    const versions = Array.from({ length: 8 }, () => randomBytes(200_000));
    const file = bucket().file('a/rewritten.bin');
    await file.save(versions[0]!, { resumable: false });
    // Writers and readers at once: a read that paired one generation's hashes with another's
    // bytes would fail the client's validation.
    const writes = versions.slice(1).map((v) => file.save(v, { resumable: false }));
    const reads = Array.from({ length: 40 }, () => file.download({ validation: 'crc32c' }));
    await Promise.all(writes);
    for (const [content] of await Promise.all(reads))
      expect(versions.some((v) => v.equals(content))).toBe(true);
  });

  it('serves byte ranges', async () => {
    await bucket().file('a/text.txt').save('0123456789', { resumable: false });
    const [middle] = await bucket().file('a/text.txt').download({ start: 2, end: 5 });
    expect(middle.toString()).toBe('2345');
    const response = await fetch(`${server.url}/storage/v1/b/${BUCKET}/o/a%2Ftext.txt?alt=media`, {
      headers: { range: 'bytes=-3' },
    });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe('bytes 7-9/10');
    expect(await response.text()).toBe('789');
    const beyond = await fetch(`${server.url}/storage/v1/b/${BUCKET}/o/a%2Ftext.txt?alt=media`, {
      headers: { range: 'bytes=50-' },
    });
    expect(beyond.status).toBe(416);
  });

  it('lists with prefix, delimiter and pagination', async () => {
    for (const name of ['l/x/1', 'l/x/2', 'l/y/1', 'l/z', 'l/zz'])
      await bucket().file(name).save(name, { resumable: false });
    const [files, , response] = await bucket().getFiles({
      prefix: 'l/',
      delimiter: '/',
      autoPaginate: false,
    });
    expect(files.map((f) => f.name)).toEqual(['l/z', 'l/zz']);
    expect((response as { prefixes: string[] }).prefixes).toEqual(['l/x/', 'l/y/']);
    const names: string[] = [];
    type ListQuery = GetFilesOptions & { autoPaginate: false };
    let query: ListQuery | null = { prefix: 'l/', maxResults: 2, autoPaginate: false };
    while (query) {
      const [page, next]: GetFilesResponse = await bucket().getFiles(query);
      names.push(...page.map((f) => f.name));
      query = (next as ListQuery | null) ?? null;
    }
    expect(names).toEqual(['l/x/1', 'l/x/2', 'l/y/1', 'l/z', 'l/zz']);
  });

  it('reports existence, deletes, and answers 404 for what is missing', async () => {
    await bucket().file('d/gone').save('x', { resumable: false });
    expect((await bucket().file('d/gone').exists())[0]).toBe(true);
    await bucket().file('d/gone').delete();
    expect((await bucket().file('d/gone').exists())[0]).toBe(false);
    await expect(bucket().file('d/gone').download()).rejects.toMatchObject({ code: 404 });
    await expect(
      storage.bucket('no-such-bucket').file('x').save('x', { resumable: false }),
    ).rejects.toMatchObject({ code: 404 });
  });

  it('composes objects', async () => {
    await bucket().file('c/1').save('hello ', { resumable: false });
    await bucket().file('c/2').save('world', { resumable: false });
    await bucket().combine([bucket().file('c/1'), bucket().file('c/2')], bucket().file('c/all'));
    expect((await bucket().file('c/all').download())[0].toString()).toBe('hello world');
  });

  it('enforces ifGenerationMatch preconditions', async () => {
    await bucket()
      .file('p/once')
      .save('first', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    await expect(
      bucket()
        .file('p/once')
        .save('second', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }),
    ).rejects.toMatchObject({ code: 412 });
  });

  it('announces each finalized object like the storage.object.v1.finalized payload', async () => {
    finalized.length = 0;
    await bucket().file('e/event.txt').save('abc', { resumable: false, contentType: 'text/plain' });
    expect(finalized).toEqual([
      expect.objectContaining({
        bucket: BUCKET,
        name: 'e/event.txt',
        size: '3',
        contentType: 'text/plain',
        generation: expect.stringMatching(/^\d+$/),
      }),
    ]);
    await bucket().file('e/event.txt').save('abcd', { resumable: false });
    expect(Number(finalized[1]!.generation)).toBeGreaterThan(Number(finalized[0]!.generation));
  });

  it('keeps objects across a restart of the server', async () => {
    await bucket().file('r/persist.txt').save('still here', { resumable: false });
    await server.stop();
    const again = new LocalGcsServer({ dataDir: dir.path });
    const url = await again.start();
    try {
      const [content] = await new Storage({ apiEndpoint: url, projectId: 'arc-test' })
        .bucket(BUCKET)
        .file('r/persist.txt')
        .download();
      expect(content.toString()).toBe('still here');
    } finally {
      await again.stop();
      server = new LocalGcsServer({ dataDir: dir.path });
      storage = new Storage({ apiEndpoint: await server.start(), projectId: 'arc-test' });
    }
  });

  describe('V4 signed URLs', () => {
    const signer = localSigner('arc-test');
    const other = localSigner('arc-test');
    const signed = (credentials = signer.credentials) =>
      new Storage({ apiEndpoint: server.url, projectId: 'arc-test', credentials }).bucket(BUCKET);

    beforeAll(async () => {
      server.trustSigner(signer.credentials.client_email, signer.publicKey);
      await bucket()
        .file('s/report.html')
        .save('<h1>report</h1>', { resumable: false, contentType: 'text/html' });
    });

    it('serves an object through a URL signed by a trusted key, with the download name', async () => {
      const [url] = await signed()
        .file('s/report.html')
        .getSignedUrl({
          version: 'v4',
          action: 'read',
          expires: Date.now() + 60_000,
          responseDisposition: 'attachment; filename="report.html"',
        });
      expect(url.startsWith(`${server.url}/${BUCKET}/s/report.html?`)).toBe(true);
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('<h1>report</h1>');
      expect(response.headers.get('content-disposition')).toBe('attachment; filename="report.html"');
    });

    it('refuses an altered URL with 403', async () => {
      const [url] = await signed()
        .file('s/report.html')
        .getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + 60_000 });
      const altered = url.replace('s/report.html', 's/other.html');
      const response = await fetch(altered);
      expect(response.status).toBe(403);
      expect(await response.text()).toContain('SignatureDoesNotMatch');
      const longer = new URL(url);
      longer.searchParams.set('X-Goog-Expires', '604800');
      expect((await fetch(longer)).status).toBe(403);
    });

    it('refuses an expired URL with 403', async () => {
      const [url] = await signed()
        .file('s/report.html')
        .getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + 1_000 });
      expect((await fetch(url)).status).toBe(200);
      let last: Response | null = null;
      await waitFor(
        async () => {
          last = await fetch(url);
          return last.status !== 200;
        },
        { timeoutMs: 5_000, intervalMs: 200, what: 'the one-second link to expire' },
      );
      expect(last!.status).toBe(403);
      expect(await last!.text()).toContain('ExpiredToken');
    });

    it('refuses URLs signed by an unknown key, and unsigned requests', async () => {
      const [url] = await signed(other.credentials)
        .file('s/report.html')
        .getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + 60_000 });
      const forged = url.replace(
        encodeURIComponent(other.credentials.client_email),
        encodeURIComponent(signer.credentials.client_email),
      );
      expect((await fetch(forged)).status).toBe(403);
      expect((await fetch(`${server.url}/${BUCKET}/s/report.html`)).status).toBe(403);
    });
  });
});
