import type { Storage } from '@google-cloud/storage';
import { parseGcsUrl } from './env';

export interface Uploader {
  /** Uploads to a gs:// URL, retrying with backoff; false (logged, never thrown) if it keeps failing. */
  upload(url: string, content: string | Buffer, contentType: string): Promise<boolean>;
  download(url: string): Promise<Buffer>;
}

export function gcsUploader(
  storage: Storage,
  log: (message: string) => void,
  attempts = 5,
  firstDelayMs = 500,
): Uploader {
  return {
    async upload(url, content, contentType) {
      const { bucket, name } = parseGcsUrl(url);
      let delay = firstDelayMs;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
          await storage
            .bucket(bucket)
            .file(name)
            .save(Buffer.from(content), { contentType, resumable: false });
          return true;
        } catch (error) {
          log(`upload of ${url} failed (attempt ${attempt}/${attempts}): ${(error as Error).message}`);
          if (attempt === attempts) return false;
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay = Math.min(delay * 2, 8_000);
        }
      }
      return false;
    },
    async download(url) {
      const { bucket, name } = parseGcsUrl(url);
      const [content] = await storage.bucket(bucket).file(name).download();
      return content;
    },
  };
}
