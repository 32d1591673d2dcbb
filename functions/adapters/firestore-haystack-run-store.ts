import type { Firestore, Query, Transaction } from '@google-cloud/firestore';
import type { HaystackRunStore } from '../core/haystack/ports';
import {
  applyHaystackEvents,
  type HaystackFields,
  HaystackRun,
  haystackEventView,
} from '../core/haystack/run-model';
import type { RunEvent } from '../core/shared/lifecycle';
import { runStatusEvent } from '../core/shared/run-events';
import type { KernelFields, StaleQuery } from '../core/shared/run-kind';
import type { RunStatus } from '../core/shared/run-status';
import { publishAfterCommit, type StatusEvents } from './firestore-run-event-outbox';
import { firestoreSdk } from './google-sdks';

/** The fields no status owns: the only ones `update` and `setFields` may write. */
const LIFECYCLE_OWNED = new Set([
  'run_id',
  'status',
  'submitted_at',
  'started_at',
  'completed_at',
  'failed_at',
  'cancelled_at',
]);

/**
 * `haystack_runs/{run_id}`: one document a run; changes in transactions. A status change goes
 * through the lifecycle's reducer (`apply`) and stages its status event in the same commit.
 */
export class FirestoreHaystackRunStore implements HaystackRunStore {
  constructor(
    private readonly db: Firestore,
    private readonly events: StatusEvents | null = null,
    private readonly collection = 'haystack_runs',
  ) {}

  private runs() {
    return this.db.collection(this.collection);
  }

  async create(run: HaystackRun): Promise<void> {
    await this.runs().doc(run.run_id).create(run);
  }

  async get(runId: string): Promise<HaystackRun | null> {
    const snapshot = await this.runs().doc(runId).get();
    return snapshot.exists ? HaystackRun.parse(snapshot.data()) : null;
  }

  async list(
    filter: { user_email?: string; status?: RunStatus },
    page: { page: number; page_size: number },
  ): Promise<{ runs: HaystackRun[]; total: number }> {
    let query: Query = this.runs();
    if (filter.user_email !== undefined) query = query.where('user_email', '==', filter.user_email);
    if (filter.status !== undefined) query = query.where('status', '==', filter.status);
    query = query.orderBy('created_at', 'desc').orderBy(firestoreSdk().FieldPath.documentId(), 'desc');
    const [snapshot, total] = await Promise.all([
      query
        .offset((page.page - 1) * page.page_size)
        .limit(page.page_size)
        .get(),
      query.count().get(),
    ]);
    return { runs: snapshot.docs.map((doc) => HaystackRun.parse(doc.data())), total: total.data().count };
  }

  async findStale(query: StaleQuery): Promise<HaystackRun[]> {
    const snapshot = await this.runs()
      .where('status', 'in', query.statuses)
      .where(query.field, '<', query.before)
      .orderBy(query.field, 'asc')
      .limit(query.limit)
      .get();
    return snapshot.docs.map((doc) => HaystackRun.parse(doc.data()));
  }

  async apply(
    runId: string,
    events: RunEvent | RunEvent[],
  ): Promise<{ run: HaystackRun; applied: boolean } | null> {
    const list = Array.isArray(events) ? events : [events];
    const ref = this.runs().doc(runId);
    let entered: RunStatus[] = [];
    const result = await this.db.runTransaction(async (tx) => {
      entered = [];
      const snapshot = await tx.get(ref);
      if (!snapshot.exists) return null;
      const original = HaystackRun.parse(snapshot.data());
      const changed = applyHaystackEvents(original, list);
      if (!changed) return { run: original, applied: false };
      tx.update(ref, changedFields(original, changed.run));
      this.stage(tx, changed.run, changed.entered);
      entered = changed.entered.map((t) => t.to);
      return { run: changed.run, applied: true };
    });
    if (entered.length > 0) await publishAfterCommit(this.events, runId);
    return result;
  }

  async setFields(runId: string, fields: KernelFields): Promise<boolean> {
    return (await this.update(runId, () => fields)) !== null;
  }

  async update(
    runId: string,
    change: (run: HaystackRun) => HaystackFields | null,
  ): Promise<HaystackRun | null> {
    const ref = this.runs().doc(runId);
    return this.db.runTransaction(async (tx) => {
      const snapshot = await tx.get(ref);
      if (!snapshot.exists) return null;
      const run = HaystackRun.parse(snapshot.data());
      const patch = change(run);
      if (!patch) return run;
      const owned = Object.keys(patch).filter((key) => LIFECYCLE_OWNED.has(key));
      if (owned.length > 0)
        throw new Error(`${owned.join(', ')} change only through the lifecycle (apply), not update`);
      tx.update(ref, patch);
      return { ...run, ...patch };
    });
  }

  /** Each status the run entered, as its event, in the commit that made the change. */
  private stage(
    tx: Transaction,
    run: HaystackRun,
    transitions: { from: RunStatus; to: RunStatus; at: string }[],
  ): void {
    if (!this.events) return;
    for (const transition of transitions) {
      const event = runStatusEvent(
        haystackEventView(run),
        { ...run, pipeline: 'haystack', pipeline_version: null },
        transition,
        this.events.project,
      );
      this.events.outbox.stage(tx, event);
    }
  }
}

/** The fields of `after` that differ from `before` (a lifecycle patch and what entering a status set). */
function changedFields(before: HaystackRun, after: HaystackRun): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(after).filter(
      ([key, value]) => JSON.stringify(value) !== JSON.stringify((before as Record<string, unknown>)[key]),
    ),
  );
}
