import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreRunStore } from '../../functions/adapters/firestore-run-store';
import { FirestoreUserStore } from '../../functions/adapters/firestore-user-store';
import { loadConfig } from '../../functions/config';
import { sampleMatcher } from '../../functions/core/nextflow/sample-attribution';
import { parseTrace } from '../../functions/core/nextflow/trace';
import { countTraceTasks } from '../../functions/core/runs/progress';
import type { Run } from '../../functions/core/runs/run-model';
import { getRunWithHistory } from '../../functions/core/runs/run-service';
import type { RunEvent } from '../../functions/core/shared/lifecycle';
import { createFirestore } from '../../functions/deps';
import { migrate } from '../../scripts/migrate';
import { firestoreEmulatorHost, uniqueProjectId } from '../helpers/env';
import { storedRunRecord } from '../helpers/runs';

const config = loadConfig({
  GOOGLE_CLOUD_PROJECT: uniqueProjectId('arc-store'),
  FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
});
const db = createFirestore(config);
const runs = new FirestoreRunStore(db);
let serial = 0;

function newRun(overrides: Partial<Run> = {}): Run {
  return storedRunRecord({
    run_id: `run-${String(++serial).padStart(12, '0')}`,
    user_email: 'store@example.com',
    user_name: 'store',
    created_at: '2026-11-23T10:00:00.000Z',
    sample_count: 4,
    samples: [],
    ...overrides,
  });
}

function event(to: RunEvent['to'], second: number, source: RunEvent['source'] = 'batch-event'): RunEvent {
  return { to, at: `2026-11-23T10:00:${String(second).padStart(2, '0')}.000Z`, source };
}

describe('FirestoreRunStore under concurrent writers', () => {
  beforeAll(async () => {
    await new FirestoreUserStore(db, 0).signIn(
      { email: 'store@example.com', name: 'store' },
      new Date('2026-11-23T09:00:00Z'),
    );
  });
  afterAll(async () => {
    await db.terminate();
  });

  it('applies events racing on one run as if one after another: one terminal transition, stats counted once', async () => {
    const run = newRun();
    await runs.create(run);
    const events = [
      event('submitted', 1, 'workflow'),
      event('submitted', 2),
      event('running', 3),
      event('running', 4, 'workflow'),
      event('completed', 9),
      event('completed', 9, 'workflow'),
      event('completed', 10, 'artifact'),
      event('running', 5),
    ];
    // Every event three times, all at once: the redeliveries Eventarc and the workflow make.
    const results = await Promise.all(
      [...events, ...events, ...events].map((e) => runs.apply(run.run_id, e)),
    );
    expect(results.every((r) => r !== null)).toBe(true);

    const final = (await runs.get(run.run_id))!;
    expect(final).toMatchObject({
      status: 'completed',
      submitted_at: '2026-11-23T10:00:01.000Z',
      started_at: '2026-11-23T10:00:03.000Z',
      completed_at: '2026-11-23T10:00:09.000Z',
      ingest: { stats_counted: true },
    });
    const history = await runs.history(run.run_id);
    expect(history).toHaveLength(1 + 24);
    // Later reports of the same status may still fill in or correct fields; one entry moves the run there.
    expect(history.filter((h) => h.applied && h.from !== 'completed' && h.to === 'completed')).toHaveLength(
      1,
    );
    const user = (await db.collection('users').doc('store@example.com').get()).data();
    expect(user?.stats).toEqual({ total_runs: 1, successful_runs: 1, total_samples_processed: 4 });
  });

  it('loses no read-modify-write when many changes race on one run, and counts each key once', async () => {
    const run = newRun({ status: 'running' });
    await runs.create(run);
    const bump = (r: Run) => ({
      ingest: { ...r.ingest, trace_generation: String(Number(r.ingest.trace_generation ?? 0) + 1) },
    });
    const keys = Array.from({ length: 12 }, (_, i) => `chunk-${i}`);
    const outcomes = await Promise.all(
      [...keys, ...keys].map((key) => runs.applyOnce(run.run_id, key, bump)),
    );
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(12);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(12);
    expect((await runs.get(run.run_id))?.ingest.trace_generation).toBe('12');
  });

  it('records each recovery on the run it recovers, so reading a run needs no query for them', async () => {
    const parent = newRun({ status: 'failed' });
    await runs.create(parent);
    expect((await runs.get(parent.run_id))?.recovery_run_ids).toEqual([]);
    for (const n of [1, 2]) {
      const child = newRun({
        parent_run_id: parent.run_id,
        root_run_id: parent.run_id,
        is_recovery: true,
        created_at: `2026-11-23T11:0${n}:00.000Z`,
      });
      await runs.createInChain(child, parent.run_id, 'Recovery', async () => {});
      expect((await runs.get(parent.run_id))?.recovery_run_ids?.at(-1)).toBe(child.run_id);
    }
    const recorded = (await runs.get(parent.run_id))?.recovery_run_ids;
    expect(recorded).toEqual(await runs.recoveriesOf(parent.run_id));
    expect(recorded).toHaveLength(2);
  });

  it('keeps every recovery of a run stored before runs recorded them: read by a query, then recorded whole', async () => {
    const { recovery_run_ids: _none, ...stored } = newRun({ status: 'failed' });
    await db.collection('runs').doc(stored.run_id).set(stored);
    // A recovery from before: it did not record itself.
    const { recovery_run_ids: _also, ...earlier } = newRun({
      parent_run_id: stored.run_id,
      root_run_id: stored.run_id,
      is_recovery: true,
      created_at: '2026-11-23T11:00:00.000Z',
    });
    await db.collection('runs').doc(earlier.run_id).set(earlier);
    const caller = { email: stored.user_email, name: 'store', is_admin: false };
    expect((await getRunWithHistory({ runs }, caller, stored.run_id, false)).recoveries).toEqual([
      earlier.run_id,
    ]);
    // A new recovery records the whole list on the parent, the earlier one included.
    const later = newRun({
      parent_run_id: stored.run_id,
      root_run_id: stored.run_id,
      is_recovery: true,
      created_at: '2026-11-23T12:00:00.000Z',
    });
    await runs.createInChain(later, stored.run_id, 'Recovery', async () => {});
    expect((await runs.get(stored.run_id))?.recovery_run_ids).toEqual([earlier.run_id, later.run_id]);
    expect((await getRunWithHistory({ runs }, caller, stored.run_id, false)).recoveries).toEqual([
      earlier.run_id,
      later.run_id,
    ]);
  });

  it("counts a chunk of 300 samples once, though it takes several commits (Firestore's 500 transforms), redelivered or not", async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `S.${i} /x`);
    const run = newRun({ samples: ids, sample_count: ids.length });
    await runs.create(run);
    const rows = ids
      .map(
        (id, i) =>
          `${i + 1}\tab/${String(i).padStart(6, '0')}\tALIGN (${id})\t${i === 7 ? 'FAILED' : 'COMPLETED'}\t2\t1m\t${i === 7 ? 1 : 0}`,
      )
      .join('\n');
    const delta = countTraceTasks(
      parseTrace(`task_id\thash\tname\tstatus\tcpus\trealtime\texit\n${rows}\n`).tasks,
      sampleMatcher(ids),
    );
    const problems = { malformedRows: 0, warnings: [] };
    const outcomes = await Promise.all([
      runs.addProgressOnce(run.run_id, 'trace.000001.tsv@1', delta, problems),
      runs.addProgressOnce(run.run_id, 'trace.000001.tsv@1', delta, problems),
    ]);
    expect(outcomes.sort()).toEqual(['applied', 'duplicate']);
    expect(await runs.addProgressOnce(run.run_id, 'trace.000001.tsv@1', delta, problems)).toBe('duplicate');
    // Two parts (≈ 600 increments), each counted under its own marker.
    const markers = await db.collection('runs').doc(run.run_id).collection('ingested').get();
    expect(markers.docs.map((d) => d.id).sort()).toEqual(['trace.000001.tsv@1', 'trace.000001.tsv@1#1']);
    const { samples } = await runs.sampleProgress(run.run_id, 1);
    expect(Object.keys(samples)).toHaveLength(300);
    expect(Object.values(samples).reduce((sum, c) => sum + c.completed + c.failed, 0)).toBe(300);
    expect(samples['S.0 /x']).toMatchObject({ completed: 1, cpu_ms: 120_000 });
    expect(samples['S.7 /x']).toMatchObject({ failed: 1, failed_task: { exit: 1, task_id: 8 } });
    // The run document keeps the run's counters only: the page that watches it stays light.
    const stored = (await runs.get(run.run_id))!;
    expect(stored.progress.completed).toBe(299);
    expect(JSON.stringify(stored.progress)).not.toContain('S.0 /x');
    expect((await runs.sampleProgress(run.run_id, 2)).samples).toEqual({});

    // The final trace's counts replace the live ones; an older generation arriving late does not.
    const final = {
      samples: { 'S.0 /x': { ...samples['S.0 /x']!, completed: 2 } },
      whole_run: samples['S.1 /x']!,
    };
    expect(await runs.setFinalSampleProgress(run.run_id, 1, '20', final)).toBe('applied');
    expect(
      await runs.setFinalSampleProgress(run.run_id, 1, '19', { samples: {}, whole_run: final.whole_run }),
    ).toBe('unchanged');
    const read = await runs.sampleProgress(run.run_id, 1);
    expect(Object.keys(read.samples)).toEqual(['S.0 /x']);
    expect(read.samples['S.0 /x']!.completed).toBe(2);
  });

  it("sums what a user's runs created since a moment accrued (a monthly cap's figure), no one else's", async () => {
    const spender = 'spender@example.com';
    await Promise.all([
      runs.create(newRun({ user_email: spender, created_at: '2026-11-30T23:59:59.000Z', accrued_usd: 7 })),
      runs.create(newRun({ user_email: spender, created_at: '2026-12-01T00:00:00.000Z', accrued_usd: 1.25 })),
      runs.create(newRun({ user_email: spender, created_at: '2026-12-05T08:00:00.000Z', accrued_usd: 2.5 })),
      runs.create(
        newRun({ user_email: 'other@example.com', created_at: '2026-12-05T08:00:00.000Z', accrued_usd: 9 }),
      ),
    ]);
    expect(await runs.spentSince(spender, '2026-12-01T00:00:00.000Z')).toBe(3.75);
    expect(await runs.spentSince(spender, '2026-11-01T00:00:00.000Z')).toBe(10.75);
    expect(await runs.spentSince('nobody@example.com', '2026-12-01T00:00:00.000Z')).toBe(0);
  });

  it('answers missing for a run that does not exist', async () => {
    expect(await runs.apply('run-doesnotexist', event('running', 1))).toBeNull();
    expect(await runs.applyOnce('run-doesnotexist', 'k', () => ({ executor: 'local' }))).toBe('missing');
  });

  it('keeps the user document whole when the first touch and the first stats race', async () => {
    const users = new FirestoreUserStore(db, 0);
    const run = newRun({ user_email: 'racer@example.com', status: 'running' });
    await runs.create(run);
    await Promise.all([
      users.signIn({ email: 'racer@example.com', name: 'Racer' }, new Date('2026-11-23T11:00:00Z')),
      runs.apply(run.run_id, event('failed', 30)),
      users.signIn({ email: 'racer@example.com', name: 'Racer' }, new Date('2026-11-23T11:00:01Z')),
    ]);
    const user = (await db.collection('users').doc('racer@example.com').get()).data();
    expect(user).toMatchObject({
      email: 'racer@example.com',
      display_name: 'Racer',
      stats: { total_runs: 1, successful_runs: 0 },
    });
    expect(['2026-11-23T11:00:00.000Z', '2026-11-23T11:00:01.000Z']).toContain(user?.last_login_at);
  });
});

describe('npm run migrate', () => {
  it('gives runs stored before search_terms and label_pairs both, a page at a time, and changes nothing the second time', async () => {
    const project = uniqueProjectId('arc-migrate');
    const env = { GOOGLE_CLOUD_PROJECT: project, FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost() };
    const oldDb = createFirestore(loadConfig(env));
    // 650 runs written as the code before search_terms stored them (more than two pages of 300),
    // and one written by today's code, which is left as it is.
    // As stored before the derived fields existed: without recovery_run_ids either.
    const old = Array.from({ length: 650 }, (_, i) => {
      const { recovery_run_ids: _none, ...record } = storedRunRecord({
        run_id: `run-old${String(i).padStart(9, '0')}`,
        user_email: 'old@example.com',
        name: i === 7 ? 'PBMC stim day 3' : null,
        samples: [`PBMC_${i}`],
        source_ngs_runs: ['261128_VH00963_0129_PLYRVDSX8'],
        source_project: 'Organoid Development',
        labels: i === 7 ? { team: 'genomics' } : {},
        // Run 9 recovered run 7, and run 11 recovered it again, before runs recorded their recoveries.
        ...(i === 9 || i === 11
          ? {
              parent_run_id: 'run-old000000007',
              is_recovery: true,
              created_at: `2026-11-2${i - 8}T10:00:00.000Z`,
            }
          : {}),
      });
      return record;
    });
    for (let i = 0; i < old.length; i += 400) {
      const batch = oldDb.batch();
      for (const run of old.slice(i, i + 400)) batch.set(oldDb.collection('runs').doc(run.run_id), run);
      await batch.commit();
    }
    await new FirestoreRunStore(oldDb).create(storedRunRecord({ run_id: 'run-new000000000', name: 'New' }));
    const before = (await oldDb.collection('runs').doc('run-old000000007').get()).data();
    expect(before?.search_terms).toBeUndefined();

    const lines: string[] = [];
    const first = await migrate(env, (line) => lines.push(line));
    expect(first).toEqual({ scanned: 651, updated: 650 });
    // Progress is said page by page.
    expect(lines.filter((l) => /runs read/.test(l))).toEqual([
      '  300 runs read, 299 updated', // run-new… sorts first and has them already
      '  600 runs read, 599 updated',
      '  651 runs read, 650 updated',
    ]);
    // The page's search and label filter now find the old runs.
    const byName = await oldDb.collection('runs').where('search_terms', 'array-contains', 'stim').get();
    expect(byName.docs.map((d) => d.id)).toEqual(['run-old000000007']);
    const bySample = await oldDb.collection('runs').where('search_terms', 'array-contains', 'pbmc_64').get();
    expect(bySample.docs.map((d) => d.id)).toContain('run-old000000064');
    const byLabel = await oldDb
      .collection('runs')
      .where('label_pairs', 'array-contains', 'team=genomics')
      .get();
    expect(byLabel.docs.map((d) => d.id)).toEqual(['run-old000000007']);
    // Every run now carries its recoveries, oldest first: reading it needs no query.
    const recovered = (await oldDb.collection('runs').doc('run-old000000007').get()).data();
    expect(recovered?.recovery_run_ids).toEqual(['run-old000000009', 'run-old000000011']);
    expect((await oldDb.collection('runs').doc('run-old000000008').get()).get('recovery_run_ids')).toEqual(
      [],
    );
    // Nothing else about a run changed.
    const after = (await oldDb.collection('runs').doc('run-old000000007').get()).data();
    expect({
      ...after,
      search_terms: undefined,
      label_pairs: undefined,
      recovery_run_ids: undefined,
    }).toEqual({
      ...before,
      search_terms: undefined,
      label_pairs: undefined,
      recovery_run_ids: undefined,
    });

    expect(await migrate(env, () => {})).toEqual({ scanned: 651, updated: 0 });
    await oldDb.terminate();
  }, 120_000);
});
