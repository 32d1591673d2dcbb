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

  async state(bucket: string, name: string, kind: PathKind): Promise<InputFileState> {
    try {
      const found = await guardStorage(async () => {
        if (kind !== 'directory' && (await this.storage.bucket(bucket).file(name).exists())[0]) return true;
        if (kind === 'file') return false;
        // A folder in Cloud Storage is a prefix with objects under it.
        const [objects] = await this.storage
          .bucket(bucket)
          .getFiles({ prefix: `${name.replace(/\/+$/, '')}/`, maxResults: 1, autoPaginate: false });
        return objects.length > 0;
      }, UNAVAILABLE);
      return found ? 'found' : 'missing';
    } catch (error) {
      const code = Number((error as { code?: unknown }).code);
      if (FORBIDDEN.has(code)) return 'forbidden';
      if (code === NOT_FOUND) return 'missing';
      throw error;
    }
  }
}
