import { afterAll, describe, expect, it } from 'vitest';
import { FirestoreRunStore } from '../../functions/adapters/firestore-run-store';
import { loadConfig } from '../../functions/config';
import { STATUS_RANK } from '../../functions/core/shared/run-status';
import { createFirestore } from '../../functions/deps';
import { createRunEventOutbox } from '../../functions/deps/events';
import { waitFor } from '../../scripts/lib/net';
import { ensureTopic } from '../../scripts/lib/pubsub-emulator';
import { firestoreEmulatorHost, pubsubEmulatorHost, uniqueProjectId } from '../helpers/env';
import { subscribeToRunEvents } from '../helpers/pubsub';
import { storedRunRecord } from '../helpers/runs';

const config = loadConfig({
  GOOGLE_CLOUD_PROJECT: uniqueProjectId('arc-events'),
  FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
  PUBSUB_EMULATOR_HOST: pubsubEmulatorHost(),
});
const db = createFirestore(config);
const outbox = createRunEventOutbox(config, db);
const publishErrors: string[] = [];
const runs = new FirestoreRunStore(db, {
  events: { outbox, project: config.project, onPublishError: (runId) => publishErrors.push(runId) },
});
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const close of closers) await close();
});

const at = (minute: number) => `2026-11-27T10:${String(minute).padStart(2, '0')}:00.000Z`;

describe('run status events', () => {
  it('keeps an event whose publish failed and the sweeper publishes it once, in order with what follows', async () => {
    // The topic does not exist yet: Pub/Sub answers NOT_FOUND and the change still commits.
    const run = storedRunRecord({ created_at: at(0), updated_at: at(0) });
    await runs.create(run);
    const applied = await runs.apply(run.run_id, { to: 'submitted', at: at(1), source: 'workflow' });
    expect(applied?.run.status).toBe('submitted');
    expect(publishErrors).toEqual([run.run_id]);
    const staged = await db.collection('run_event_outbox').where('run_id', '==', run.run_id).get();
    expect(staged.docs.map((d) => d.id)).toEqual([`${run.run_id}~submitted`]);

    await ensureTopic(pubsubEmulatorHost(), config.project, config.runEventsTopic);
    const subscriber = await subscribeToRunEvents(
      pubsubEmulatorHost(),
      config.project,
      config.runEventsTopic,
    );
    closers.push(subscriber.close);
    // The next change publishes what was left first, then itself.
    await runs.apply(run.run_id, { to: 'running', at: at(2), source: 'batch-event' });
    // Two sweeps at once, like overlapping scheduler calls: nothing goes out twice.
    await runs.apply(run.run_id, { to: 'completed', at: at(3), source: 'workflow' });
    const sweeps = await Promise.all([
      outbox.drainStale(new Date(Date.now() + 60_000).toISOString(), 100),
      outbox.drainStale(new Date(Date.now() + 60_000).toISOString(), 100),
    ]);
    expect(sweeps).toEqual([0, 0]);
    await waitFor(() => subscriber.received.length >= 3, {
      timeoutMs: 10_000,
      what: 'three events',
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(subscriber.received.map((r) => r.event.id)).toEqual([
      `${run.run_id}/submitted`,
      `${run.run_id}/running`,
      `${run.run_id}/completed`,
    ]);
    expect(subscriber.received.at(-1)!.event.data).toMatchObject({
      from: 'running',
      to: 'completed',
      duration_seconds: 60,
    });
    expect((await db.collection('run_event_outbox').get()).size).toBe(0);
  });

  it('publishes each of many concurrent changes of many runs exactly once', async () => {
    await ensureTopic(pubsubEmulatorHost(), config.project, config.runEventsTopic);
    const subscriber = await subscribeToRunEvents(
      pubsubEmulatorHost(),
      config.project,
      config.runEventsTopic,
    );
    closers.push(subscriber.close);
    const many = Array.from({ length: 6 }, (_, i) =>
      storedRunRecord({ created_at: at(i), updated_at: at(i) }),
    );
    await Promise.all(many.map((run) => runs.create(run)));
    // Every writer reports every status, twice, at once.
    await Promise.all(
      many.flatMap((run) =>
        (['submitted', 'running', 'failed', 'submitted', 'running', 'failed'] as const).map((to, i) =>
          runs.apply(run.run_id, { to, at: at(10 + (i % 3)), source: 'batch-event' }),
        ),
      ),
    );
    // Statuses may be skipped (failed can land before running): what counts is that what went
    // out is what was applied, once each, in order.
    const applied = new Map<string, string[]>();
    for (const run of many) {
      const history = await runs.history(run.run_id);
      applied.set(
        run.run_id,
        history
          .filter((h) => h.applied && h.from !== null && STATUS_RANK[h.to] > STATUS_RANK[h.from])
          .map((h) => `${h.from}→${h.to}`),
      );
    }
    const expected = [...applied.values()].flat().length;
    await waitFor(() => subscriber.received.length >= expected, {
      timeoutMs: 15_000,
      what: 'every event',
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(subscriber.received).toHaveLength(expected);
    for (const run of many) {
      const mine = subscriber.received.filter((r) => r.orderingKey === run.run_id);
      expect(mine.map((r) => `${r.event.data.from}→${r.event.data.to}`)).toEqual(applied.get(run.run_id));
      expect(mine.at(-1)!.event.data.to).toBe('failed');
    }
  });
});
