import type { Storage } from '@google-cloud/storage';
import type { InputFileState, InputFiles } from '../core/runs/input-files';
import { guardStorage } from './gcs-object-store';

const FORBIDDEN = new Set([401, 403]);

/** Input objects in any bucket, through the real Cloud Storage client (the local GCS server locally). */
export class GcsInputFiles implements InputFiles {
  constructor(private readonly storage: Storage) {}

  async state(bucket: string, name: string): Promise<InputFileState> {
    try {
      const [exists] = await guardStorage(
        () => this.storage.bucket(bucket).file(name).exists(),
        'Cloud Storage is unavailable right now, so the samplesheet’s input files could not be checked; nothing was launched. Try again in a minute.',
      );
      return exists ? 'found' : 'missing';
    } catch (error) {
      if (FORBIDDEN.has(Number((error as { code?: unknown }).code))) return 'forbidden';
      throw error;
    }
  }
}
