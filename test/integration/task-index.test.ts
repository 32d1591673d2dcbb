/**
 * The task index (issue 22): ingesting a trace writes a compact index of its rows, and a page
 * of tasks (any sort, any filter) or one task by id is chosen from the indexes and reads only
 * its own rows, through the real Cloud Storage client and the local GCS server. Every answer
 * equals what the whole table gives; a missing, stale or broken index falls back to the whole
 * table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreRunStore } from '../../functions/adapters/firestore-run-store';
import { GcsObjectStore, STORAGE_UNAVAILABLE } from '../../functions/adapters/gcs-object-store';
import { loadConfig } from '../../functions/config';
import { ingestFinalTrace, ingestTraceChunk } from '../../functions/core/runs/artifact-ingest';
import { queryTasks, TaskCatalog, TasksQuery } from '../../functions/core/runs/run-tasks';
import { runPaths, taskIndexName } from '../../functions/core/shared/bucket-layout';

const taskIndexPrefix = (runId: string) => runPaths('', runId).taskIndexes;

import { UpstreamError } from '../../functions/core/shared/errors';
import { createFirestore, createStorage } from '../../functions/deps';
import { LocalGcsServer } from '../../scripts/local/gcs-server';
import { firestoreEmulatorHost, tempDir, uniqueProjectId } from '../helpers/env';
import { storedRunRecord } from '../helpers/runs';

const BUCKET = 'arc-index-runs';
const HEADER =
  'task_id\thash\tnative_id\tname\tstatus\texit\tsubmit\tduration\trealtime\t%cpu\tpeak_rss\tprocess\ttag';
const PROCESSES = [
  'NFCORE_SCRNASEQ:SCRNASEQ:STAR_ALIGN',
  'NFCORE_SCRNASEQ:SCRNASEQ:FASTQC',
  'NFCORE_SCRNASEQ:MTX',
];
const STATUSES = ['COMPLETED', 'COMPLETED', 'CACHED', 'FAILED'];

/** A row of the trace; some tags with non-ASCII text. */
function row(id: number): string {
  const process = PROCESSES[id % PROCESSES.length]!;
  const tag = id % 7 === 0 ? `échantillon-${id} µ` : `S${id}`;
  return [
    id,
    `ab/${id.toString(16).padStart(6, '0')}`,
    `job-${id}`,
    `${process} (${tag})`,
    STATUSES[id % STATUSES.length],
    id % 4 === 3 ? 1 : 0,
    '2026-01-01 10:00:00.000',
    `${(id * 37) % 500}s`,
    `${(id * 53) % 400}s`,
    `${(id * 11) % 100}.5%`,
    `${(id * 13) % 900} MB`,
    process,
    tag,
  ].join('\t');
}
// Tasks finish out of order: each chunk holds the next 60 ids, shuffled.
const ids = Array.from({ length: 360 }, (_, i) => Math.floor(i / 60) * 60 + (((i % 60) * 7) % 60) + 1);
const chunks = Array.from(
  { length: 6 },
  (_, c) =>
    `${HEADER}\n${ids
      .slice(c * 60, (c + 1) * 60)
      .map(row)
      .join('\n')}\n`,
);

let dir: Awaited<ReturnType<typeof tempDir>>;
let gcs: LocalGcsServer;
let objects: GcsObjectStore;
let runs: FirestoreRunStore;
const config = () =>
  loadConfig({
    GOOGLE_CLOUD_PROJECT: uniqueProjectId('arc-index'),
    FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
    STORAGE_EMULATOR_HOST: gcsUrl,
    RUNS_BUCKET: BUCKET,
  });
let gcsUrl = '';

beforeAll(async () => {
  dir = await tempDir('arc-index-');
  gcs = new LocalGcsServer({ dataDir: dir.path });
  gcsUrl = await gcs.start();
  await gcs.createBucket(BUCKET);
  const c = config();
  objects = new GcsObjectStore(createStorage(c), BUCKET);
  runs = new FirestoreRunStore(createFirestore(c));
});
afterAll(async () => {
  await gcs?.stop();
  await dir?.remove();
});

/** A running run whose live chunks are written and the first `ingested` ingested (each writing its index). */
async function liveRun(contents = chunks, ingested = contents.length) {
  const run = storedRunRecord({ status: 'running' }, BUCKET);
  await runs.create(run);
  const names: string[] = [];
  for (const [i, content] of contents.entries()) {
    const name = `runs/${run.run_id}/logs/live/trace.01-${String(i + 1).padStart(6, '0')}.tsv`;
    const stored = await gcs.putObject(BUCKET, name, content, 'text/tab-separated-values');
    if (i < ingested)
      await ingestTraceChunk(
        { runs, objects, prices: c().prices },
        run.run_id,
        name,
        String(stored.generation),
      );
    names.push(name);
  }
  return { runId: run.run_id, names };
}
const c = () => config();

const QUERIES = [
  {},
  { order: 'desc' },
  { page: '3', page_size: '25' },
  { status: 'FAILED' },
  { status: 'completed,cached', order: 'desc', page: '2', page_size: '40' },
  { process: 'STAR_ALIGN' },
  { process: 'NFCORE_SCRNASEQ:MTX', status: 'FAILED', page_size: '7' },
  { page: '99' },
  { sort: 'realtime' },
  { sort: 'peak_rss', order: 'desc', status: 'COMPLETED', page: '2', page_size: '30' },
  { sort: 'cpu_percent', process: 'FASTQC' },
  // Ties (exit is 0 or 1) ordered by task id; a field the trace lacks (memory) is null throughout.
  { sort: 'exit', order: 'desc', page: '2', page_size: '50' },
  { sort: 'memory', order: 'desc' },
].map((q) => TasksQuery.parse(q));

/** What the whole table answers (the path every page took before the index). */
async function expected(runId: string, query: TasksQuery) {
  const set = await new TaskCatalog(objects).tasks(runId);
  return { source: set.source, ...queryTasks(set.tasks, query) };
}

describe('a page of tasks', () => {
  it('is chosen from the indexes ingest wrote and equals the whole table’s page, reading only its rows', async () => {
    const { runId, names } = await liveRun();
    const listed = await objects.list(taskIndexPrefix(runId), 100);
    expect(listed.objects.map((o) => o.name).sort()).toEqual(names.map(taskIndexName).sort());

    const catalog = new TaskCatalog(objects);
    for (const query of QUERIES)
      expect(await catalog.page(runId, query)).toEqual(await expected(runId, query));
    // The default first page read its 100 rows' lines, not the run's traces.
    const fresh = new TaskCatalog(objects);
    const first = await fresh.page(runId, TasksQuery.parse({}));
    expect(first.tasks.map((t) => t.task_id)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(first.tasks.find((t) => t.task_id === 7)?.tag).toBe('échantillon-7 µ');
    const traceBytes = chunks.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
    expect(fresh.bytesRead).toBeLessThan(traceBytes / 2);
  });

  it('reads the whole table while a chunk has no index yet, and answers the same', async () => {
    const { runId } = await liveRun(chunks, chunks.length - 1);
    const catalog = new TaskCatalog(objects);
    const page = await catalog.page(runId, QUERIES[0]!);
    expect(page).toEqual(await expected(runId, QUERIES[0]!));
    expect(page.total).toBe(ids.length);
    const traceBytes = chunks.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
    expect(catalog.bytesRead).toBe(traceBytes);
  });

  it('does not trust an index of another generation, or one that is not an index', async () => {
    const { runId, names } = await liveRun();
    // The chunk written again (a new generation): its index describes the old one.
    const rewritten = chunks[2]!.replace('\tCOMPLETED\t', '\tFAILED\t');
    await gcs.putObject(BUCKET, names[2]!, rewritten, 'text/tab-separated-values');
    const failed = TasksQuery.parse({ status: 'FAILED', page_size: '500' });
    const page = await new TaskCatalog(objects).page(runId, failed);
    expect(page).toEqual(await expected(runId, failed));
    expect(page.total).toBe(ids.filter((id) => id % 4 === 3).length + 1);

    // An object without an index's metadata, and one whose sections are not where it says.
    await objects.write(taskIndexName(names[0]!), '{"v":1,"start":[-5]}', 'application/json');
    const broken = await new TaskCatalog(objects).page(runId, QUERIES[3]!);
    expect(broken).toEqual(await expected(runId, QUERIES[3]!));
    const { runId: older, names: olderNames } = await liveRun();
    const stored = (await objects.stat(taskIndexName(olderNames[1]!)))!;
    const content = await objects.read(stored.name);
    await objects.write(
      stored.name,
      Buffer.concat([Buffer.from(' '), content]),
      'application/octet-stream',
      stored.metadata,
    );
    for (const query of [QUERIES[0]!, QUERIES[9]!])
      expect(await new TaskCatalog(objects).page(older, query)).toEqual(await expected(older, query));
  });

  it('reads a long run’s indexes from the rollups ingest wrote: a few objects, not one per chunk', async () => {
    // 105 chunks of a few rows each: chunks 1–99 roll up to one object (level 2), 100–105 do not (yet).
    const many = Array.from(
      { length: 105 },
      (_, i) => `${HEADER}\n${[3 * i + 3, 3 * i + 1, 3 * i + 2].map(row).join('\n')}\n`,
    );
    const run = { run_id: (await liveRun(many)).runId };
    const rollups = (await objects.list(taskIndexPrefix(run.run_id), 1_000)).objects
      .map((o) => o.name.slice(o.name.lastIndexOf('/') + 1))
      .filter((name) => name.endsWith('x.idx'));
    expect(rollups).toEqual([
      ...Array.from({ length: 10 }, (_, g) => `trace.01-0000${g}x.idx`),
      'trace.01-0000xx.idx',
    ]);

    const reads: string[] = [];
    const counting = Object.assign(Object.create(objects) as GcsObjectStore, {
      readRange: (name: string, start: number, end: number, generation?: string) => {
        if (name.includes('/index/')) reads.push(name);
        return objects.readRange(name, start, end, generation);
      },
    });
    const catalog = new TaskCatalog(counting);
    for (const query of [...QUERIES.slice(0, 4), ...QUERIES.slice(8)])
      expect(await catalog.page(run.run_id, query)).toEqual(await expected(run.run_id, query));
    // One level-2 rollup and the six chunks after it, the base of each once, then each field
    // sorted by once (memory has no section: the trace has no such column).
    const fields = QUERIES.slice(8).filter((q) => q.sort !== 'memory').length;
    expect(reads.filter((name) => name.endsWith('xx.idx'))).toHaveLength(1 + fields);
    expect(reads).toHaveLength(7 * (1 + fields));
  });

  it('fails a page while Cloud Storage fails, and uses the index once it answers again', async () => {
    const { runId } = await liveRun();
    let down = true;
    const flaky = Object.assign(Object.create(objects) as GcsObjectStore, {
      readRange: (name: string, start: number, end: number, generation?: string) =>
        down && name.includes('/index/')
          ? Promise.reject(new UpstreamError(STORAGE_UNAVAILABLE))
          : objects.readRange(name, start, end, generation),
    });
    const catalog = new TaskCatalog(flaky);
    await expect(catalog.page(runId, QUERIES[0]!)).rejects.toThrow(STORAGE_UNAVAILABLE);
    down = false;
    expect(await catalog.page(runId, QUERIES[0]!)).toEqual(await expected(runId, QUERIES[0]!));
    // From the index, not the whole table: the outage was not remembered as "no index".
    const traceBytes = chunks.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
    expect(catalog.bytesRead).toBeLessThan(traceBytes / 2);
  });

  it('keeps one run’s whole table per instance: another run’s replaces it', async () => {
    const a = await liveRun(chunks, 0);
    const b = await liveRun(chunks.slice(0, 2), 0);
    const catalog = new TaskCatalog(objects);
    const bytes = (list: string[]) => list.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
    await catalog.tasks(a.runId);
    await catalog.tasks(a.runId);
    expect(catalog.bytesRead).toBe(bytes(chunks));
    await catalog.tasks(b.runId);
    await catalog.tasks(a.runId);
    expect(catalog.bytesRead).toBe(2 * bytes(chunks) + bytes(chunks.slice(0, 2)));
  });

  it('writes a group’s rollup that two racing ingests both missed, at the next group’s sixth chunk', async () => {
    const few = Array.from(
      { length: 15 },
      (_, i) => `${HEADER}\n${[2 * i + 1, 2 * i + 2].map(row).join('\n')}\n`,
    );
    const { runId, names } = await liveRun(few, 9);
    const rollup = `${taskIndexPrefix(runId)}trace.01-00000x.idx`;
    expect(await objects.exists(rollup)).toBe(true);
    // As if the ingests of chunks 8 and 9 each listed the group before the other's index was there.
    await createStorage(c()).bucket(BUCKET).file(rollup).delete();
    const ingest = async (name: string) =>
      ingestTraceChunk(
        { runs, objects, prices: c().prices },
        runId,
        name,
        (await objects.stat(name))!.generation,
      );
    for (const name of names.slice(9, 14)) await ingest(name);
    expect(await objects.exists(rollup)).toBe(false);
    await ingest(names[14]!);
    expect(await objects.exists(rollup)).toBe(true);
    const catalog = new TaskCatalog(objects);
    for (const query of QUERIES.slice(0, 3))
      expect(await catalog.page(runId, query)).toEqual(await expected(runId, query));
  });

  it('uses the final trace’s index once the run has finished', async () => {
    const run = storedRunRecord({ status: 'completed' }, BUCKET);
    await runs.create(run);
    const name = `runs/${run.run_id}/logs/trace.txt`;
    const whole = `${HEADER}\n${ids.map(row).join('\n')}\n`;
    const stored = await gcs.putObject(BUCKET, name, whole, 'text/tab-separated-values');
    await ingestFinalTrace(
      { runs, objects, prices: c().prices },
      run.run_id,
      name,
      String(stored.generation),
    );
    const catalog = new TaskCatalog(objects);
    for (const query of QUERIES)
      expect(await catalog.page(run.run_id, query)).toEqual(await expected(run.run_id, query));
    const fresh = new TaskCatalog(objects);
    await fresh.page(run.run_id, TasksQuery.parse({}));
    expect(fresh.bytesRead).toBeLessThan(Buffer.byteLength(whole) / 2);
  });
});

describe('one task by id', () => {
  it('is found in the indexes and reads its own row: the latest attempt when the id repeats', async () => {
    // Task 5 failed in chunk 1 and was retried in chunk 3.
    const failed = row(5).replace('\tCOMPLETED\t', '\tFAILED\t');
    const retried = chunks.map((text, i) =>
      i === 0 ? text.replace(row(5), failed) : i === 2 ? text.replace(/\n$/, `\n${row(5)}\n`) : text,
    );
    expect(retried[0]).toContain(failed);
    const { runId } = await liveRun(retried);
    const catalog = new TaskCatalog(objects);
    const task = await catalog.task(runId, '5');
    const table = (await new TaskCatalog(objects).tasks(runId)).tasks;
    expect(task).toEqual(table.findLast((t) => t.task_id === 5));
    expect(task.status).toBe('COMPLETED');
    expect(catalog.bytesRead).toBeLessThan(Buffer.byteLength(retried[2]!));
    await expect(catalog.task(runId, '100000')).rejects.toThrow(
      `Task 100000 is not in run ${runId}'s trace.`,
    );
    await expect(catalog.task(runId, 'x')).rejects.toThrow('is not in run');
  });

  it('is found in the whole table while a chunk has no index yet', async () => {
    const { runId } = await liveRun(chunks, chunks.length - 1);
    const catalog = new TaskCatalog(objects);
    expect((await catalog.task(runId, String(ids.at(-1)))).task_id).toBe(ids.at(-1));
    await expect(catalog.task(runId, '100000')).rejects.toThrow('is not in run');
  });
});
