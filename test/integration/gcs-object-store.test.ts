/**
 * The run bucket's adapter through the real Cloud Storage client and the local GCS server:
 * custom metadata written and listed back, and ranged reads pinned to a generation (the task
 * indexes read their sections at the generation they listed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcsObjectStore } from '../../functions/adapters/gcs-object-store';
import { loadConfig } from '../../functions/config';
import { NotFoundError } from '../../functions/core/shared/errors';
import { createStorage } from '../../functions/deps';
import { LocalGcsServer } from '../../scripts/local/gcs-server';
import { tempDir, uniqueProjectId } from '../helpers/env';

const BUCKET = 'arc-object-store';
let dir: Awaited<ReturnType<typeof tempDir>>;
let gcs: LocalGcsServer;
let objects: GcsObjectStore;

beforeAll(async () => {
  dir = await tempDir('arc-object-store-');
  gcs = new LocalGcsServer({ dataDir: dir.path });
  const url = await gcs.start();
  await gcs.createBucket(BUCKET);
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: uniqueProjectId('arc-objects'),
    STORAGE_EMULATOR_HOST: url,
    RUNS_BUCKET: BUCKET,
  });
  objects = new GcsObjectStore(createStorage(config), BUCKET);
});
afterAll(async () => {
  await gcs?.stop();
  await dir?.remove();
});

describe('GcsObjectStore with the local GCS server', () => {
  it('writes custom metadata and lists and stats it back; an object without any has none', async () => {
    await objects.write('runs/a/one', 'first', 'text/plain', { 'arc-note': 'kept', sections: '{"a":[0,1]}' });
    await objects.write('runs/a/two', 'second', 'text/plain');
    const { objects: listed } = await objects.list('runs/a/', 10);
    expect(listed.map((o) => [o.name, o.contentType, o.metadata])).toEqual([
      ['runs/a/one', 'text/plain', { 'arc-note': 'kept', sections: '{"a":[0,1]}' }],
      ['runs/a/two', 'text/plain', undefined],
    ]);
    expect((await objects.stat('runs/a/one'))?.metadata).toEqual({
      'arc-note': 'kept',
      sections: '{"a":[0,1]}',
    });
  });

  it('refuses custom metadata over GCS’s 8 KiB, as GCS does, and keeps the object as it was', async () => {
    await objects.write('runs/c/obj', 'kept', 'text/plain', { small: 'yes' });
    const error = await objects
      .write('runs/c/obj', 'lost', 'text/plain', { big: 'x'.repeat(8 * 1024) })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 400, message: 'Metadata part is too large.' });
    expect((await objects.read('runs/c/obj')).toString()).toBe('kept');
    expect((await objects.stat('runs/c/obj'))?.metadata).toEqual({ small: 'yes' });
  });

  it('reads a range of the generation asked for, and says when that generation is gone', async () => {
    await objects.write('runs/b/obj', 'abcdefgh', 'text/plain');
    const first = (await objects.stat('runs/b/obj'))!;
    expect((await objects.readRange(first.name, 2, 5, first.generation)).toString()).toBe('cde');
    await objects.write('runs/b/obj', 'ABCDEFGH', 'text/plain');
    const error = await objects.readRange(first.name, 2, 5, first.generation).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toBe(`runs/b/obj is no longer at generation ${first.generation}.`);
    expect((await objects.readRange(first.name, 2, 5)).toString()).toBe('CDE');
  });
});
