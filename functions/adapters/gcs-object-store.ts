import type { Storage } from '@google-cloud/storage';
import type { ObjectStore } from '../core/ports';

const NOT_FOUND = 404;

/** The run bucket through the real Cloud Storage client (the local GCS server locally). */
export class GcsObjectStore implements ObjectStore {
  constructor(
    private readonly storage: Storage,
    readonly bucket: string,
  ) {}

  private file(name: string) {
    return this.storage.bucket(this.bucket).file(name);
  }

  async write(name: string, content: string | Uint8Array, contentType: string): Promise<void> {
    await this.file(name).save(Buffer.from(content), { contentType, resumable: false });
  }

  async read(name: string): Promise<Buffer> {
    const [content] = await this.file(name).download();
    return content;
  }

  async exists(name: string): Promise<boolean> {
    const [exists] = await this.file(name).exists();
    return exists;
  }

  async ping(): Promise<void> {
    try {
      await this.storage.bucket(this.bucket).getMetadata();
    } catch (error) {
      if ((error as { code?: number }).code === NOT_FOUND) {
        throw new Error(`bucket ${this.bucket} does not exist`);
      }
      throw error;
    }
  }
}
