/** Instruments for the bench: a realistic trace, a byte-counting object store, a write-counting Firestore. */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Firestore, WriteBatch } from '@google-cloud/firestore';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { TRACE_FIELDS } from '../../functions/core/nextflow/nextflow-config';
import { liveChunkName, runPaths } from '../../functions/core/shared/bucket-layout';
import type { ObjectStore } from '../../functions/core/shared/ports';
import { createRunArtifactHandler } from '../../functions/events/batch-job-events';
import { formatDuration, formatMemory, formatTimestamp } from '../../orchestrator/src/replay/format';
import type { StoredObject } from '../local/gcs-server';
import type { Backends } from './harness';

/** A realistic trace of `count` tasks of `samples` samples (SAMPLE_0…) in the platform's trace fields. */
export function generateTrace(count: number, samples = 500): string {
  const fields = TRACE_FIELDS;
  const processes = [
    'FASTQC',
    'STAR_ALIGN',
    'MTX_TO_H5AD',
    'CELLBENDER_REMOVEBACKGROUND',
    'ANNDATA_BARCODES',
  ].map((p) => `NFCORE_SCRNASEQ:SCRNASEQ:${p}`);
  const lines = [fields.join('\t')];
  const start = Date.UTC(2026, 10, 1, 8);
  for (let i = 1; i <= count; i++) {
    const process = processes[i % processes.length]!;
    const hash = createHash('md5').update(String(i)).digest('hex');
    const realtime = 30_000 + ((i * 7919) % 3_000_000);
    const submit = start + i * 1_000;
    const status = i % 97 === 0 ? 'FAILED' : i % 13 === 0 ? 'CACHED' : 'COMPLETED';
    const values: Record<string, string> = {
      task_id: String(i),
      hash: `${hash.slice(0, 2)}/${hash.slice(2, 8)}`,
      native_id: `nf-${hash.slice(0, 8)}-${submit}`,
      process,
      tag: `SAMPLE_${i % samples}`,
      name: `${process} (SAMPLE_${i % samples})`,
      status,
      exit: status === 'FAILED' ? '1' : '0',
      cpus: String(1 + (i % 12)),
      memory: `${6 * (1 + (i % 6))} GB`,
      attempt: '1',
      submit: formatTimestamp(submit),
      start: formatTimestamp(submit + 20_000),
      complete: formatTimestamp(submit + 20_000 + realtime),
      duration: formatDuration(20_000 + realtime),
      realtime: formatDuration(realtime),
      '%cpu': `${(90 + (i % 900)).toFixed(1)}%`,
      '%mem': `${(i % 50).toFixed(1)}%`,
      peak_rss: formatMemory(200 * 1024 * 1024 + ((i * 104729) % (30 * 1024 ** 3))),
      peak_vmem: formatMemory(300 * 1024 * 1024 + ((i * 104729) % (40 * 1024 ** 3))),
      rchar: formatMemory((i * 15485863) % (20 * 1024 ** 3)),
      wchar: formatMemory((i * 32452843) % (5 * 1024 ** 3)),
      read_bytes: formatMemory((i * 15485863) % (20 * 1024 ** 3)),
      write_bytes: formatMemory((i * 32452843) % (5 * 1024 ** 3)),
      workdir: `gs://arc-bench-runs/work/run-bench0000001/${hash.slice(0, 2)}/${hash.slice(2)}`,
      error_action: status === 'FAILED' ? 'TERMINATE' : '-',
    };
    lines.push(fields.map((f) => values[f] ?? '-').join('\t'));
  }
  return `${lines.join('\n')}\n`;
}

/** An ObjectStore that counts the bytes it reads (a decorator; every call goes to the real store). */
export class CountingObjectStore implements ObjectStore {
  bytesRead = 0;
  constructor(private readonly inner: ObjectStore) {}
  get bucket() {
    return this.inner.bucket;
  }
  write(name: string, content: string | Uint8Array, contentType: string, metadata?: Record<string, string>) {
    return this.inner.write(name, content, contentType, metadata);
  }
  async read(name: string) {
    const content = await this.inner.read(name);
    this.bytesRead += content.length;
    return content;
  }
  async readGeneration(name: string, generation: string) {
    const content = await this.inner.readGeneration(name, generation);
    this.bytesRead += content?.length ?? 0;
    return content;
  }
  async readRange(name: string, start: number, end: number, generation?: string) {
    const content = await this.inner.readRange(name, start, end, generation);
    this.bytesRead += content.length;
    return content;
  }
  readStream(name: string) {
    return this.inner.readStream(name);
  }
  delete(name: string) {
    return this.inner.delete(name);
  }
  exists(name: string) {
    return this.inner.exists(name);
  }
  stat(name: string) {
    return this.inner.stat(name);
  }
  list(prefix: string, limit: number) {
    return this.inner.list(prefix, limit);
  }
  listPage(prefix: string, pageToken: string | null, pageSize: number) {
    return this.inner.listPage(prefix, pageToken, pageSize);
  }
  signedUrl(name: string, expires: number, downloadName?: string) {
    return this.inner.signedUrl(name, expires, downloadName);
  }
  ping() {
    return this.inner.ping();
  }
}

/** Counts the document writes and commits made through a Firestore client (wraps batch() and runTransaction()). */
export function countWrites(db: Firestore): { writes: number; commits: number; transactions: number } {
  const counts = { writes: 0, commits: 0, transactions: 0 };
  const batch = db.batch.bind(db);
  db.batch = () => {
    const b = batch();
    for (const method of ['create', 'set', 'update', 'delete'] as const) {
      const original = b[method].bind(b) as (...args: unknown[]) => WriteBatch;
      (b as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        counts.writes++;
        return original(...args);
      };
    }
    const commit = b.commit.bind(b);
    b.commit = () => {
      counts.commits++;
      return commit();
    };
    return b;
  };
  const runTransaction = db.runTransaction.bind(db) as (
    fn: (tx: unknown) => Promise<unknown>,
  ) => Promise<unknown>;
  (db as unknown as { runTransaction: unknown }).runTransaction = (fn: (tx: unknown) => Promise<unknown>) => {
    counts.transactions++;
    return runTransaction(fn);
  };
  return counts;
}

/** The trace written as `count` live chunks of the run (attempt 1), as the orchestrator uploads them. */
export async function putTraceChunks(
  backends: Backends,
  bucket: string,
  runId: string,
  trace: string,
  count: number,
): Promise<StoredObject[]> {
  const [header, ...rows] = trace.trim().split('\n');
  const perChunk = Math.ceil(rows.length / count);
  const chunks: StoredObject[] = [];
  for (let i = 0; i < count; i++) {
    const content = `${header}\n${rows.slice(i * perChunk, (i + 1) * perChunk).join('\n')}\n`;
    chunks.push(
      await backends.gcs.putObject(
        bucket,
        `${runPaths(bucket, runId).logs}${liveChunkName('trace', 1, i + 1)}`,
        content,
        'text/tab-separated-values',
      ),
    );
  }
  return chunks;
}

/**
 * Delivers each chunk's finalized event to onRunArtifact under the Functions Framework, as
 * Eventarc would, `concurrency` at a time; the milliseconds it took.
 */
export async function ingestThroughFunction(
  deps: Parameters<typeof createRunArtifactHandler>[0],
  chunks: StoredObject[],
  name: string,
  concurrency = 4,
): Promise<number> {
  functions.cloudEvent(name, createRunArtifactHandler(deps));
  const server = getTestServer(name);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const started = performance.now();
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < chunks.length) {
          const object = chunks[next++]!;
          const response = await fetch(url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'ce-specversion': '1.0',
              'ce-id': `bench-${object.name}`,
              'ce-type': 'google.cloud.storage.object.v1.finalized',
              'ce-source': '//bench',
              'ce-subject': `objects/${object.name}`,
            },
            body: JSON.stringify(object),
          });
          if (response.status >= 300) throw new Error(`onRunArtifact answered ${response.status}`);
        }
      }),
    );
    return performance.now() - started;
  } finally {
    server.closeAllConnections();
    server.close();
  }
}
