import type { Bucket, File, Storage } from '@google-cloud/storage';
import { NotFoundError, UpstreamError } from '../core/shared/errors';
import type { ObjectInfo, ObjectStore } from '../core/shared/ports';

const NOT_FOUND = 404;

export const STORAGE_UNAVAILABLE =
  'Cloud Storage is unavailable right now, so the run’s files cannot be read or written. Try again in a minute.';

/**
 * Whether Cloud Storage (not the request) failed: no HTTP answer at all (refused, reset, timed
 * out, DNS) or a 5xx, 408 or 429. A 404 or 403 is an answer about the object and stays as it is.
 */
export function isStorageOutage(error: unknown): boolean {
  if (error instanceof UpstreamError) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'number') return true;
  return code >= 500 || code === 408 || code === 429;
}

/** An outage becomes an UpstreamError (503, Retry-After) whose message names no address or errno. */
export async function guardStorage<T>(call: () => Promise<T>, message = STORAGE_UNAVAILABLE): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isStorageOutage(error)) throw new UpstreamError(message, { cause: error });
    throw error;
  }
}

function info(file: File): ObjectInfo {
  const m = file.metadata;
  return {
    name: file.name,
    size: Number(m.size ?? 0),
    updated: String(m.updated ?? m.timeCreated ?? ''),
    contentType: m.contentType ?? null,
    generation: String(m.generation ?? file.generation ?? ''),
    ...(m.metadata ? { metadata: customMetadata(m.metadata) } : {}),
  };
}

/** Custom metadata as strings (the client types values as string | number | boolean | null). */
function customMetadata(metadata: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(metadata).flatMap(([key, value]) => (value === null ? [] : [[key, String(value)]])),
  );
}

/** The run bucket through the real Cloud Storage client (the local GCS server locally). */
export class GcsObjectStore implements ObjectStore {
  private handle: Bucket | undefined;

  constructor(
    private readonly storage: Storage,
    readonly bucket: string,
  ) {}

  /**
   * The client's Bucket, made on first use and kept: making one (with its ACL helpers) on
   * every call was a tenth of a small ranged read's client time (a task page reads 100 rows).
   */
  private get gcsBucket(): Bucket {
    this.handle ??= this.storage.bucket(this.bucket);
    return this.handle;
  }

  private file(name: string, generation?: string) {
    return this.gcsBucket.file(name, generation ? { generation: Number(generation) } : {});
  }

  async write(
    name: string,
    content: string | Uint8Array,
    contentType: string,
    metadata?: Record<string, string>,
  ): Promise<void> {
    await guardStorage(() =>
      this.file(name).save(Buffer.from(content), {
        resumable: false,
        metadata: { contentType, ...(metadata ? { metadata } : {}) },
      }),
    );
  }

  async read(name: string): Promise<Buffer> {
    const [content] = await guardStorage(() => this.file(name).download());
    return content;
  }

  async readGeneration(name: string, generation: string): Promise<Buffer | null> {
    try {
      const [content] = await guardStorage(() => this.file(name, generation).download());
      return content;
    } catch (error) {
      if ((error as { code?: number }).code === NOT_FOUND) return null;
      throw error;
    }
  }

  async readRange(name: string, start: number, end: number, generation?: string): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    const file = this.file(name, generation);
    try {
      const [content] = await guardStorage(() => file.download({ start, end: end - 1, validation: false }));
      return content;
    } catch (error) {
      if (generation && (error as { code?: number }).code === NOT_FOUND)
        throw new NotFoundError(`${name} is no longer at generation ${generation}.`, { cause: error });
      throw error;
    }
  }

  readStream(name: string): NodeJS.ReadableStream {
    return this.file(name).createReadStream();
  }

  async delete(name: string): Promise<void> {
    await guardStorage(() => this.file(name).delete({ ignoreNotFound: true }));
  }

  async exists(name: string): Promise<boolean> {
    const [exists] = await guardStorage(() => this.file(name).exists());
    return exists;
  }

  async stat(name: string): Promise<ObjectInfo | null> {
    try {
      const [metadata] = await guardStorage(() => this.file(name).getMetadata());
      return info(Object.assign(this.file(name), { metadata }));
    } catch (error) {
      if ((error as { code?: number }).code === NOT_FOUND) return null;
      throw error;
    }
  }

  async list(prefix: string, limit: number): Promise<{ objects: ObjectInfo[]; truncated: boolean }> {
    const objects: ObjectInfo[] = [];
    let pageToken: string | undefined;
    do {
      const [files, next] = await guardStorage(() =>
        this.gcsBucket.getFiles({
          prefix,
          autoPaginate: false,
          maxResults: Math.min(1000, limit - objects.length + 1),
          ...(pageToken ? { pageToken } : {}),
        }),
      );
      objects.push(...files.map(info));
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken && objects.length <= limit);
    return { objects: objects.slice(0, limit), truncated: objects.length > limit || Boolean(pageToken) };
  }

  async listPage(
    prefix: string,
    pageToken: string | null,
    pageSize: number,
  ): Promise<{ objects: ObjectInfo[]; nextPageToken: string | null }> {
    const [files, next] = await guardStorage(() =>
      this.gcsBucket.getFiles({
        prefix,
        autoPaginate: false,
        maxResults: Math.max(1, Math.min(1000, pageSize)),
        ...(pageToken ? { pageToken } : {}),
      }),
    );
    return {
      objects: files.map(info),
      nextPageToken: (next as { pageToken?: string } | null)?.pageToken ?? null,
    };
  }

  async signedUrl(
    name: string,
    expiresInSeconds: number,
    downloadName?: string,
    inlineType?: string,
  ): Promise<string> {
    const [url] = await guardStorage(() =>
      this.file(name).getSignedUrl({
        version: 'v4',
        action: 'read',
        expires: Date.now() + expiresInSeconds * 1000,
        ...(inlineType
          ? { responseDisposition: 'inline', responseType: inlineType }
          : downloadName
            ? { responseDisposition: `attachment; filename="${downloadName.replace(/["\\\r\n]/g, '_')}"` }
            : {}),
      }),
    );
    return url;
  }

  async ping(): Promise<void> {
    try {
      await guardStorage(() => this.gcsBucket.getMetadata());
    } catch (error) {
      if ((error as { code?: number }).code === NOT_FOUND) {
        throw new UpstreamError(`bucket ${this.bucket} does not exist`);
      }
      throw error;
    }
  }
}
