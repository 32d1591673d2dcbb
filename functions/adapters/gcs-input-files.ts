import type { Storage } from '@google-cloud/storage';
import type { PathKind } from '../core/nextflow/params';
import type { InputFileState, InputFiles } from '../core/runs/input-files';
import { guardStorage } from './gcs-object-store';

const FORBIDDEN = new Set([401, 403]);
/** Listing a bucket that does not exist answers 404: nothing is there. */
const NOT_FOUND = 404;

const UNAVAILABLE =
  'Cloud Storage is unavailable right now, so the run’s input files could not be checked; nothing was launched. Try again in a minute.';

/** Input objects in any bucket, through the real Cloud Storage client (the local GCS server locally). */
export class GcsInputFiles implements InputFiles {
  constructor(private readonly storage: Storage) {}

  async stat(
    bucket: string,
    name: string,
    kind: PathKind,
  ): Promise<{ state: InputFileState; bytes: number | null }> {
    try {
      // An object's metadata answers both whether it is there and its size, in one request.
      const objectBytes = async (): Promise<number | null> => {
        try {
          const [metadata] = await this.storage.bucket(bucket).file(name).getMetadata();
          const size = Number(metadata.size);
          return Number.isFinite(size) ? size : 0;
        } catch (error) {
          if (Number((error as { code?: unknown }).code) === NOT_FOUND) return null;
          throw error;
        }
      };
      return await guardStorage(async () => {
        if (kind !== 'directory') {
          const bytes = await objectBytes();
          if (bytes !== null) return { state: 'found' as const, bytes };
        }
        if (kind === 'file') return { state: 'missing' as const, bytes: null };
        // A folder in Cloud Storage is a prefix with objects under it.
        const [objects] = await this.storage
          .bucket(bucket)
          .getFiles({ prefix: `${name.replace(/\/+$/, '')}/`, maxResults: 1, autoPaginate: false });
        return { state: objects.length > 0 ? ('found' as const) : ('missing' as const), bytes: null };
      }, UNAVAILABLE);
    } catch (error) {
      const code = Number((error as { code?: unknown }).code);
      if (FORBIDDEN.has(code)) return { state: 'forbidden', bytes: null };
      if (code === NOT_FOUND) return { state: 'missing', bytes: null };
      throw error;
    }
  }
}
