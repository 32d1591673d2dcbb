import type { Firestore, Query } from '@google-cloud/firestore';
import type { HaystackRunStore } from '../core/haystack/ports';
import { HaystackRun } from '../core/haystack/run-model';
import { runStatusEvent } from '../core/shared/run-events';
import type { RunStatus } from '../core/shared/run-status';
import { publishAfterCommit, type StatusEvents } from './firestore-run-event-outbox';
import { firestoreSdk } from './google-sdks';

/** `haystack_runs/{run_id}`: one document a run; changes in transactions. */
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

  async findStale(query: {
    statuses: RunStatus[];
    field: 'updated_at' | 'created_at';
    before: string;
    limit: number;
  }): Promise<HaystackRun[]> {
    const snapshot = await this.runs()
      .where('status', 'in', query.statuses)
      .where(query.field, '<', query.before)
      .orderBy(query.field, 'asc')
      .limit(query.limit)
      .get();
    return snapshot.docs.map((doc) => HaystackRun.parse(doc.data()));
  }

  async update(
    runId: string,
    change: (run: HaystackRun) => Partial<HaystackRun> | null,
  ): Promise<HaystackRun | null> {
    const ref = this.runs().doc(runId);
    let moved = false;
    const updated = await this.db.runTransaction(async (tx) => {
      const snapshot = await tx.get(ref);
      if (!snapshot.exists) return null;
      const run = HaystackRun.parse(snapshot.data());
      const patch = change(run);
      if (!patch) return run;
      tx.update(ref, patch);
      const next = { ...run, ...patch };
      moved = next.status !== run.status;
      if (moved && this.events) {
        const event = runStatusEvent(
          'haystack',
          { ...next, pipeline: 'haystack', pipeline_version: null },
          { from: run.status, to: next.status, at: next.updated_at },
          this.events.project,
        );
        this.events.outbox.stage(tx, event);
      }
      return next;
    });
    if (moved) await publishAfterCommit(this.events, runId);
    return updated;
  }
}
