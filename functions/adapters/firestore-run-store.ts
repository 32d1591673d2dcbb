import type {
  DocumentReference,
  FieldPath,
  Firestore,
  Query,
  Timestamp,
  WriteBatch,
} from '@google-cloud/firestore';
import { labelPairs } from '../core/runs/labels';
import { progressPath } from '../core/runs/orchestrator-attempts';
import type {
  ApplyResult,
  BudgetState,
  OnceOutcome,
  PageRequest,
  RunFields,
  RunFilter,
  RunHistoryEntry,
  RunNoticeChange,
  RunPage,
  RunStore,
} from '../core/runs/ports';
import { COUNTERS, SAMPLE_COUNTERS, type SampleProgress, sampleProgressOf } from '../core/runs/run-document';
import {
  isTerminal,
  nextflowEventView,
  type ProgressDelta,
  Run,
  type RunStatus,
  type SampleCounters,
} from '../core/runs/run-model';
import { searchTerms } from '../core/runs/search';
import { ConflictError, ValidationError } from '../core/shared/errors';
import {
  appliedDetail,
  applyRunEvent,
  ignoredReason,
  type LifecyclePatch,
  type RunEvent,
} from '../core/shared/lifecycle';
import { runNoticeEvent, runStatusEvent } from '../core/shared/run-events';
import type { StaleQuery } from '../core/shared/run-kind';
import { publishAfterCommit, type StatusEvents } from './firestore-run-event-outbox';
import { firestoreSdk } from './google-sdks';
import { GrpcCode, grpcCodeOf } from './grpc-status';

/** Attempts of a read-then-conditional-write before the change is given up (the caller retries later). */
const MAX_ATTEMPTS = 30;

interface Cursor {
  /** The filter the token was issued for: a token only continues the query it came from. */
  f: string;
  c: string;
  i: string;
}

function filterKey(filter: RunFilter): string {
  return JSON.stringify([
    filter.user_email ?? null,
    filter.status ?? null,
    filter.pipeline ?? null,
    filter.label ?? null,
  ]);
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(token: string, filter: RunFilter): Cursor {
  let cursor: Partial<Cursor> | null = null;
  try {
    cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<Cursor>;
  } catch {
    cursor = null;
  }
  if (
    !cursor ||
    typeof cursor.c !== 'string' ||
    typeof cursor.i !== 'string' ||
    typeof cursor.f !== 'string'
  ) {
    throw new ValidationError('page_token is not a token this API issued; drop it to start from page 1.', [
      { field: 'page_token', rule: 'format', message: 'unreadable page_token' },
    ]);
  }
  if (cursor.f !== filterKey(filter)) {
    throw new ValidationError(
      'page_token belongs to a query with other filters; drop it to start from page 1.',
      [{ field: 'page_token', rule: 'filter', message: 'page_token was issued for different filters' }],
    );
  }
  return cursor as Cursor;
}

function historyEntry(run: Run, event: RunEvent, patch: LifecyclePatch | null): RunHistoryEntry {
  return {
    source: event.source,
    from: run.status,
    to: event.to,
    at: event.at,
    detail: patch
      ? appliedDetail(run, event, patch)
      : `ignored: ${ignoredReason(run, event)}${event.detail ? ` (${event.detail})` : ''}`,
    applied: patch !== null,
  };
}

/** A short, jittered, growing pause between attempts of a conditional write that lost a race. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.min(1_000, 10 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs in `runs/{run_id}`, their status history in `runs/{run_id}/events`.
 *
 * Changes that depend on the run's current state are optimistic: read the run, compute the
 * change, and commit it in one batch whose update carries the read's `updateTime` as a
 * precondition; when another writer got there first the commit fails with GrpcCode.FAILED_PRECONDITION
 * and the change is computed again from the new state. No transaction holds a lock on the run,
 * so the many writers of a run (API, workflow steps, Batch events, artifact ingest) never wait
 * for each other's locks.
 */
export interface StatusChange {
  run_id: string;
  from: RunStatus;
  to: RunStatus;
  source: RunEvent['source'];
  user_email: string;
}

/** Field transforms (increments) written to one document in one commit: Firestore allows 500. */
const MAX_TRANSFORMS_A_PART = 450;

/**
 * A chunk's sample counters as merge-set objects ({samples: {id: {completed: increment}}}),
 * at most `limit` increments each; the first part is always there (maybe empty: null).
 */
function sampleUpdates(delta: ProgressDelta, limit: number): (Record<string, unknown> | null)[] {
  const { FieldValue } = firestoreSdk();
  const parts: Record<string, unknown>[] = [];
  let current: { samples: Record<string, Record<string, unknown>>; whole_run?: Record<string, unknown> } = {
    samples: {},
  };
  let transforms = 0;
  const add = (counters: SampleCounters, place: (fields: Record<string, unknown>) => void) => {
    const fields: Record<string, unknown> = {};
    let count = 0;
    for (const counter of SAMPLE_COUNTERS)
      if (counters[counter] !== 0) {
        fields[counter] = FieldValue.increment(counters[counter]);
        count += 1;
      }
    // Not a counter: the last failure ingested is kept (a sample's failure is rare, and final).
    if (counters.failed_task) fields.failed_task = counters.failed_task;
    if (Object.keys(fields).length === 0) return;
    if (transforms + count > limit) {
      parts.push(current);
      current = { samples: {} };
      transforms = 0;
    }
    place(fields);
    transforms += count;
  };
  for (const [sample, counters] of Object.entries(delta.samples ?? {}))
    add(counters, (fields) => {
      current.samples[sample] = fields;
    });
  if (delta.whole_run)
    add(delta.whole_run, (fields) => {
      current.whole_run = fields;
    });
  if (transforms > 0 || Object.keys(current.samples).length > 0 || current.whole_run) parts.push(current);
  return parts.length > 0 ? parts : [null];
}

export class FirestoreRunStore implements RunStore {
  private readonly collection: string;
  private readonly users: string;
  private readonly onStatusChange: (change: StatusChange) => void;
  readonly events: StatusEvents | null;

  constructor(
    private readonly db: Firestore,
    options: {
      collection?: string;
      users?: string;
      onStatusChange?: (change: StatusChange) => void;
      events?: StatusEvents;
    } = {},
  ) {
    this.collection = options.collection ?? 'runs';
    this.users = options.users ?? 'users';
    this.onStatusChange = options.onStatusChange ?? (() => {});
    this.events = options.events ?? null;
  }

  private runs() {
    return this.db.collection(this.collection);
  }

  private creation(run: Run, detail: string): WriteBatch {
    const ref = this.runs().doc(run.run_id);
    const batch = this.db.batch();
    // label_pairs: the labels as `key=value` strings, the form a list filter can query.
    // search_terms: lowercase prefixes of its name, samples, NGS runs and project (the page's search).
    batch.create(ref, {
      ...run,
      // Each recovery adds itself here (createInChain): reading a run needs no query for them.
      recovery_run_ids: run.recovery_run_ids ?? [],
      label_pairs: labelPairs(run.labels),
      search_terms: searchTerms(run),
    });
    batch.create(ref.collection('events').doc(), {
      source: 'api',
      from: null,
      to: run.status,
      at: run.created_at,
      detail,
      applied: true,
    } satisfies RunHistoryEntry);
    return batch;
  }

  async create(run: Run, detail = `Created by ${run.user_email}`): Promise<void> {
    const batch = this.creation(run, detail);
    try {
      await batch.commit();
    } catch (error) {
      if ((error as { code?: number }).code === GrpcCode.ALREADY_EXISTS) {
        throw new ConflictError(`Run ${run.run_id} already exists.`);
      }
      throw error;
    }
  }

  async createInChain(
    run: Run,
    chainRoot: string,
    detail: string,
    guard: () => Promise<void>,
  ): Promise<void> {
    // The chain's lock document changes with every run added to the chain: a run added by
    // someone else between the guard and the commit fails the precondition, and the guard
    // runs again and sees it.
    const lock = this.runs().doc(chainRoot).collection('chain').doc('lock');
    for (let attempt = 1; ; attempt++) {
      const held = await lock.get();
      await guard();
      const batch = this.creation(run, detail);
      if (run.parent_run_id) {
        // A parent stored before runs recorded their recoveries gets its whole list, not just this one.
        const parent = this.runs().doc(run.parent_run_id);
        const recorded = (await parent.get()).get('recovery_run_ids') as string[] | undefined;
        batch.update(parent, {
          recovery_run_ids: Array.isArray(recorded)
            ? firestoreSdk().FieldValue.arrayUnion(run.run_id)
            : [...(await this.recoveriesOf(run.parent_run_id)), run.run_id],
        });
      }
      const claim = { latest_run_id: run.run_id, at: run.created_at };
      if (held.exists) batch.update(lock, claim, { lastUpdateTime: held.updateTime! });
      else batch.create(lock, claim);
      try {
        await batch.commit();
        return;
      } catch (error) {
        const code = grpcCodeOf(error);
        const raced =
          code === GrpcCode.FAILED_PRECONDITION || (code === GrpcCode.ALREADY_EXISTS && !held.exists);
        if (!raced || attempt >= MAX_ATTEMPTS) {
          if (code === GrpcCode.ALREADY_EXISTS) throw new ConflictError(`Run ${run.run_id} already exists.`);
          throw error;
        }
        await backoff(attempt);
      }
    }
  }

  async claimChain(
    chainRoot: string,
    fields: RunFields,
    entry: Pick<RunHistoryEntry, 'source' | 'at' | 'detail'>,
    guard: () => Promise<void>,
  ): Promise<boolean> {
    const ref = this.runs().doc(chainRoot);
    const lock = ref.collection('chain').doc('lock');
    for (let attempt = 1; ; attempt++) {
      const held = await lock.get();
      await guard();
      const snapshot = await ref.get();
      if (!snapshot.exists) return false;
      const status = Run.parse(snapshot.data()).status;
      const batch = this.db.batch();
      const claim = { latest_claim: entry.detail ?? entry.source, at: entry.at };
      if (held.exists) batch.update(lock, claim, { lastUpdateTime: held.updateTime! });
      else batch.create(lock, claim);
      batch.update(ref, fields as Record<string, unknown>);
      const recorded: RunHistoryEntry = { ...entry, from: status, to: status, applied: true };
      batch.create(ref.collection('events').doc(), recorded);
      try {
        await batch.commit();
        return true;
      } catch (error) {
        const code = grpcCodeOf(error);
        const raced =
          code === GrpcCode.FAILED_PRECONDITION || (code === GrpcCode.ALREADY_EXISTS && !held.exists);
        if (!raced || attempt >= MAX_ATTEMPTS) throw error;
        await backoff(attempt);
      }
    }
  }

  async spentSince(email: string, since: string): Promise<number> {
    const snapshot = await this.runs()
      .where('user_email', '==', email)
      .where('created_at', '>=', since)
      .aggregate({ spent: firestoreSdk().AggregateField.sum('accrued_usd') })
      .get();
    return Number(snapshot.data().spent ?? 0);
  }

  async findExpiringWorkDirs(before: string, after: string, limit: number): Promise<Run[]> {
    const snapshot = await this.runs()
      .where('work_dir.oldest_at', '<=', before)
      .where('work_dir.oldest_at', '>', after)
      .orderBy('work_dir.oldest_at')
      .limit(limit)
      .get();
    return snapshot.docs.map((doc) => Run.parse(doc.data()));
  }

  async listWorkDirs(filter: { user_email?: string }, limit: number): Promise<Run[]> {
    let query: Query = this.runs().where('work_dir.bytes', '>', 0);
    if (filter.user_email !== undefined) query = query.where('user_email', '==', filter.user_email);
    const snapshot = await query.orderBy('work_dir.bytes', 'desc').limit(limit).get();
    return snapshot.docs.map((doc) => Run.parse(doc.data()));
  }

  async findActive(field: 'root_run_id' | 'parent_run_id', value: string): Promise<Run[]> {
    const snapshot = await this.runs()
      .where(field, '==', value)
      .where('status', 'in', ['pending', 'submitted', 'running'])
      .get();
    return snapshot.docs.map((doc) => Run.parse(doc.data()));
  }

  async recoveriesOf(runId: string): Promise<string[]> {
    const snapshot = await this.runs().where('parent_run_id', '==', runId).select('created_at').get();
    return snapshot.docs
      .map((doc) => ({ id: doc.id, at: String(doc.get('created_at')) }))
      .sort((a, b) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id))
      .map((r) => r.id);
  }

  async findStale(query: StaleQuery): Promise<Run[]> {
    const snapshot = await this.runs()
      .where('status', 'in', query.statuses)
      .where(query.field, '<', query.before)
      .orderBy(query.field, 'asc')
      .limit(query.limit)
      .get();
    return snapshot.docs.map((doc) => Run.parse(doc.data()));
  }

  async countActiveJobs(): Promise<number> {
    const snapshot = await this.runs().where('status', 'in', ['submitted', 'running']).count().get();
    return snapshot.data().count;
  }

  async get(runId: string): Promise<Run | null> {
    const snapshot = await this.runs().doc(runId).get();
    return snapshot.exists ? Run.parse(snapshot.data()) : null;
  }

  async budgetState(runId: string): Promise<BudgetState | null> {
    const fields = ['status', 'budget_usd', 'accrued_usd', 'budget_warned_at', 'batch_job_name'];
    const [snapshot] = await this.db.getAll(this.runs().doc(runId), { fieldMask: fields });
    if (!snapshot?.exists) return null;
    const data = snapshot.data() ?? {};
    return {
      run_id: runId,
      status: Run.shape.status.parse(data.status),
      budget_usd: typeof data.budget_usd === 'number' ? data.budget_usd : null,
      accrued_usd: typeof data.accrued_usd === 'number' ? data.accrued_usd : 0,
      budget_warned_at: typeof data.budget_warned_at === 'string' ? data.budget_warned_at : null,
      batch_job_name: typeof data.batch_job_name === 'string' ? data.batch_job_name : null,
    };
  }

  async list(filter: RunFilter, page: PageRequest): Promise<RunPage> {
    let query: Query = this.runs();
    if (filter.user_email !== undefined) query = query.where('user_email', '==', filter.user_email);
    if (filter.status !== undefined) query = query.where('status', '==', filter.status);
    if (filter.pipeline !== undefined) query = query.where('pipeline', '==', filter.pipeline);
    if (filter.label !== undefined) query = query.where('label_pairs', 'array-contains', filter.label);
    query = query.orderBy('created_at', 'desc').orderBy(firestoreSdk().FieldPath.documentId(), 'desc');

    const totalPromise = query.count().get();
    let pageQuery = query;
    if (page.page_token !== undefined) {
      const cursor = decodeCursor(page.page_token, filter);
      pageQuery = pageQuery.startAfter(cursor.c, cursor.i);
    } else if (page.page > 1) {
      pageQuery = pageQuery.offset((page.page - 1) * page.page_size);
    }
    const [snapshot, total] = await Promise.all([pageQuery.limit(page.page_size + 1).get(), totalPromise]);
    const docs = snapshot.docs.slice(0, page.page_size);
    const last = docs.at(-1);
    const hasMore = snapshot.docs.length > page.page_size;
    return {
      runs: docs.map((doc) => Run.parse(doc.data())),
      total: total.data().count,
      next_page_token:
        hasMore && last
          ? encodeCursor({ f: filterKey(filter), c: String(last.get('created_at')), i: last.id })
          : null,
    };
  }

  async apply(runId: string, events: RunEvent | RunEvent[]): Promise<ApplyResult | null> {
    const list = Array.isArray(events) ? events : [events];
    const ref = this.runs().doc(runId);
    for (let attempt = 1; ; attempt++) {
      const snapshot = await ref.get();
      if (!snapshot.exists) return null;
      const original = Run.parse(snapshot.data());
      const batch = this.db.batch();
      let run = original;
      let changes: LifecyclePatch = {};
      const transitions: { from: RunStatus; to: RunStatus; at: string }[] = [];
      list.forEach((event, index) => {
        const patch = applyRunEvent(run, event);
        if (patch || index === list.length - 1)
          batch.create(ref.collection('events').doc(), historyEntry(run, event, patch));
        if (patch) {
          if (patch.status !== undefined)
            transitions.push({ from: run.status, to: patch.status, at: event.at });
          run = { ...run, ...patch };
          changes = { ...changes, ...patch };
        }
      });
      for (const transition of transitions)
        this.events?.outbox.stage(
          batch,
          runStatusEvent(nextflowEventView(run), run, transition, this.events.project),
        );
      // Most events change nothing (redeliveries, late notifications). A run only moves
      // forward, so an event ignored now is ignored later too: its history needs no precondition.
      if (Object.keys(changes).length === 0) {
        await batch.commit();
        return { run: original, applied: false };
      }
      const finished =
        changes.status !== undefined && isTerminal(changes.status) && !isTerminal(original.status);
      const countStats = finished && original.ingest.stats_counted !== true;
      if (countStats) {
        // The user's stats change once per run: the flag is written in the same batch.
        const succeeded = changes.status === 'completed';
        const { FieldValue } = firestoreSdk();
        batch.set(
          this.db.collection(this.users).doc(original.user_email),
          {
            stats: {
              total_runs: FieldValue.increment(1),
              successful_runs: FieldValue.increment(succeeded ? 1 : 0),
              total_samples_processed: FieldValue.increment(succeeded ? original.sample_count : 0),
            },
          },
          { merge: true },
        );
      }
      const fields = countStats ? { ...changes, 'ingest.stats_counted': true } : changes;
      const outcome = await this.commitIfUnchanged(batch, ref, fields, snapshot.updateTime!, attempt);
      if (outcome === 'missing') return null;
      if (outcome === 'committed') {
        if (run.status !== original.status) {
          this.onStatusChange({
            run_id: runId,
            from: original.status,
            to: run.status,
            source: list.findLast((e) => e.to === run.status)?.source ?? list.at(-1)!.source,
            user_email: original.user_email,
          });
          await publishAfterCommit(this.events, runId);
        }
        return {
          run: countStats ? { ...run, ingest: { ...run.ingest, stats_counted: true } } : run,
          applied: true,
        };
      }
    }
  }

  /**
   * Adds the run update, conditional on `updateTime`, to the batch and commits it. 'stale' means
   * the run changed since it was read (after a pause, the caller reads it again); too many stale
   * attempts in a row throw, and the caller's caller (an event delivery, a workflow step) retries.
   */
  private async commitIfUnchanged(
    batch: WriteBatch,
    ref: DocumentReference,
    fields: Record<string, unknown>,
    updateTime: Timestamp,
    attempt: number,
  ): Promise<'committed' | 'stale' | 'missing'> {
    batch.update(ref, fields, { lastUpdateTime: updateTime });
    try {
      await batch.commit();
      return 'committed';
    } catch (error) {
      const code = grpcCodeOf(error);
      if (code === GrpcCode.NOT_FOUND) return 'missing';
      // ALREADY_EXISTS: another writer applied the same change first and staged its status event
      // (Firestore reports the outbox document's create before the run's precondition).
      const lost = code === GrpcCode.FAILED_PRECONDITION || code === GrpcCode.ALREADY_EXISTS;
      if (!lost || attempt >= MAX_ATTEMPTS) throw error;
      await backoff(attempt);
      return 'stale';
    }
  }

  async history(runId: string): Promise<RunHistoryEntry[]> {
    const snapshot = await this.runs().doc(runId).collection('events').orderBy('at').get();
    return snapshot.docs.map((doc) => doc.data() as RunHistoryEntry);
  }

  async setFields(runId: string, fields: RunFields): Promise<boolean> {
    try {
      const ref = this.runs().doc(runId);
      const derived: Record<string, unknown> = {};
      if (fields.labels) derived.label_pairs = labelPairs(fields.labels);
      if (fields.name !== undefined) {
        const current = await this.get(runId);
        if (!current) return false;
        derived.search_terms = searchTerms({ ...current, name: fields.name });
      }
      await ref.update({ ...fields, ...derived });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === GrpcCode.NOT_FOUND) return false;
      throw error;
    }
  }

  /**
   * Writes the fields derived for queries and reads (`search_terms`, `label_pairs`,
   * `recovery_run_ids`) on runs stored before they existed, a page at a time in document order;
   * runs that have them are left alone, so it can be run again, and stopped and resumed, safely.
   * `recovery_run_ids` needs every run's parent, so it is written after the pages are read.
   * `onPage` hears the counts after each page.
   */
  async backfillDerivedFields(
    pageSize = 300,
    onPage: (counts: { scanned: number; updated: number }) => void = () => {},
  ): Promise<{ scanned: number; updated: number }> {
    const updated = new Set<string>();
    let scanned = 0;
    const children = new Map<string, { id: string; at: string }[]>();
    const withoutRecoveries: string[] = [];
    let after: string | null = null;
    for (;;) {
      let query = this.runs()
        .select(
          'name',
          'samples',
          'source_ngs_runs',
          'source_project',
          'labels',
          'search_terms',
          'label_pairs',
          'parent_run_id',
          'created_at',
          'recovery_run_ids',
        )
        .orderBy(firestoreSdk().FieldPath.documentId())
        .limit(pageSize);
      if (after) query = query.startAfter(after);
      const page = await query.get();
      const batch = this.db.batch();
      let writes = 0;
      for (const doc of page.docs) {
        const data = doc.data() as Partial<Run> & { search_terms?: unknown; label_pairs?: unknown };
        if (data.parent_run_id) {
          const siblings = children.get(data.parent_run_id) ?? [];
          siblings.push({ id: doc.id, at: String(data.created_at ?? '') });
          children.set(data.parent_run_id, siblings);
        }
        if (!Array.isArray(data.recovery_run_ids)) withoutRecoveries.push(doc.id);
        const derived: Record<string, unknown> = {};
        if (!Array.isArray(data.search_terms))
          derived.search_terms = searchTerms({
            name: data.name ?? null,
            samples: data.samples ?? [],
            source_ngs_runs: data.source_ngs_runs ?? [],
            source_project: data.source_project ?? null,
          });
        if (!Array.isArray(data.label_pairs)) derived.label_pairs = labelPairs(data.labels ?? {});
        if (Object.keys(derived).length === 0) continue;
        batch.update(doc.ref, derived);
        updated.add(doc.id);
        writes++;
      }
      if (writes > 0) await batch.commit();
      scanned += page.size;
      if (!page.empty) onPage({ scanned, updated: updated.size });
      after = page.docs.at(-1)?.id ?? after;
      if (page.size < pageSize) break;
    }
    // Recoveries of the runs stored before they recorded themselves, oldest first.
    for (let i = 0; i < withoutRecoveries.length; i += 400) {
      const batch = this.db.batch();
      for (const runId of withoutRecoveries.slice(i, i + 400)) {
        const ids = (children.get(runId) ?? [])
          .sort((a, b) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id))
          .map((c) => c.id);
        batch.update(this.runs().doc(runId), { recovery_run_ids: ids });
        updated.add(runId);
      }
      await batch.commit();
    }
    return { scanned, updated: updated.size };
  }

  async applyOnce(
    runId: string,
    key: string,
    change: (run: Run) => RunFields | null,
    history?: (run: Run) => Pick<RunHistoryEntry, 'source' | 'at' | 'detail'>,
    notice?: (run: Run) => RunNoticeChange,
  ): Promise<OnceOutcome> {
    const ref = this.runs().doc(runId);
    const marker = this.marker(ref, key);
    for (let attempt = 1; ; attempt++) {
      const [snapshot, seen] = await this.db.getAll(ref, marker);
      if (!snapshot || !seen) throw new Error('Firestore returned fewer documents than asked for');
      if (!snapshot.exists) return 'missing';
      if (seen.exists) return 'duplicate';
      const run = Run.parse(snapshot.data());
      const fields = change(run);
      const batch = this.db.batch();
      // create() fails if the marker exists, and then nothing in the batch is written.
      batch.create(marker, { key, at: new Date().toISOString() });
      if (history && fields && Object.keys(fields).length > 0) {
        // A change outside the status machine, recorded in the status history with it.
        const entry: RunHistoryEntry = { ...history(run), from: run.status, to: run.status, applied: true };
        batch.create(ref.collection('events').doc(), entry);
      }
      // The owner is told in the same commit as the change (the outbox), so exactly when it applies.
      const told = notice && fields && Object.keys(fields).length > 0 ? notice(run) : null;
      if (told && this.events)
        this.events.outbox.stage(
          batch,
          runNoticeEvent(nextflowEventView(run), run, told, this.events.project),
        );
      try {
        if (!fields || Object.keys(fields).length === 0) {
          await batch.commit();
          return 'unchanged';
        }
        const outcome = await this.commitIfUnchanged(batch, ref, fields, snapshot.updateTime!, attempt);
        if (outcome === 'missing') return 'missing';
        if (outcome === 'committed') {
          if (told) await publishAfterCommit(this.events, runId);
          return 'applied';
        }
      } catch (error) {
        if (grpcCodeOf(error) === GrpcCode.ALREADY_EXISTS) return 'duplicate';
        throw error;
      }
    }
  }

  async addProgressOnce(
    runId: string,
    key: string,
    delta: ProgressDelta,
    problems: { malformedRows: number; warnings: string[] },
    orchestratorAttempt = 1,
  ): Promise<OnceOutcome> {
    const ref = this.runs().doc(runId);
    const { FieldPath, FieldValue } = firestoreSdk();
    const updates: unknown[] = [];
    const increment = (path: FieldPath, value: number) => {
      if (value !== 0) updates.push(path, FieldValue.increment(value));
    };
    // Each orchestrator attempt counts apart (core/runs/orchestrator-attempts.ts), still blind increments.
    const base = progressPath(orchestratorAttempt);
    for (const counter of COUNTERS) increment(new FieldPath(...base, counter), delta[counter]);
    for (const [process, counters] of Object.entries(delta.processes)) {
      for (const counter of COUNTERS)
        increment(new FieldPath(...base, 'processes', process, counter), counters[counter]);
    }
    // Cost accrues across attempts: an earlier attempt's work was paid for too.
    if (delta.cost_usd) increment(new FieldPath('accrued_usd'), delta.cost_usd);
    if (problems.malformedRows > 0) {
      updates.push(new FieldPath('ingest', 'malformed_rows'), FieldValue.increment(problems.malformedRows));
      updates.push(new FieldPath('ingest', 'warnings'), FieldValue.arrayUnion(...problems.warnings));
    }
    // Sample counters go to a document of their own (runs/{id}/samples/attempt-{n}), so the run
    // document every page watches stays small. Firestore allows 500 field transforms a
    // document a commit: a chunk of many samples is written in parts, each counted once under
    // its own marker (key, key#1, …), split the same way on a redelivery.
    const sampleParts = sampleUpdates(delta, MAX_TRANSFORMS_A_PART);
    const samplesRef = this.sampleProgressRef(runId, orchestratorAttempt);
    const commit = async (index: number): Promise<OnceOutcome> => {
      const batch = this.db.batch();
      // create() fails if the marker exists, and then nothing in the batch is written: each part counts once.
      const partKey = index === 0 ? key : `${key}#${index}`;
      batch.create(this.marker(ref, partKey), { key: partKey, at: new Date().toISOString() });
      const part = index === 0 ? updates : [];
      if (part.length > 0) {
        const [field, value, ...rest] = part as [FieldPath, unknown, ...unknown[]];
        batch.update(ref, field, value, ...rest);
      }
      const samples = sampleParts[index];
      if (samples) batch.set(samplesRef, samples, { merge: true });
      try {
        await batch.commit();
        return part.length > 0 || samples ? 'applied' : 'unchanged';
      } catch (error) {
        const code = (error as { code?: number }).code;
        if (code === GrpcCode.ALREADY_EXISTS) return 'duplicate';
        if (code === GrpcCode.NOT_FOUND) return 'missing';
        throw error;
      }
    };
    // The first part says what happened to the chunk; the others are written (or found written)
    // after it, also on a redelivery, so a crash between parts loses nothing.
    const first = await commit(0);
    if (first === 'missing') return first;
    await Promise.all(sampleParts.slice(1).map((_, index) => commit(index + 1)));
    return first;
  }

  async sampleProgress(runId: string, orchestratorAttempt: number): Promise<SampleProgress> {
    const [final, live] = await this.db.getAll(
      this.sampleProgressRef(runId, orchestratorAttempt, 'final'),
      this.sampleProgressRef(runId, orchestratorAttempt),
    );
    return sampleProgressOf(final?.exists ? final.data() : live?.data());
  }

  async setFinalSampleProgress(
    runId: string,
    orchestratorAttempt: number,
    generation: string,
    progress: SampleProgress,
  ): Promise<'applied' | 'unchanged'> {
    const ref = this.sampleProgressRef(runId, orchestratorAttempt, 'final');
    return this.db.runTransaction(async (tx) => {
      const stored = (await tx.get(ref)).data() as { trace_generation?: string } | undefined;
      if (stored?.trace_generation && BigInt(stored.trace_generation) >= BigInt(generation))
        return 'unchanged';
      tx.set(ref, { ...progress, trace_generation: generation });
      return 'applied';
    });
  }

  /** `attempt-{n}`: counted live from the chunks; `attempt-{n}-final`: from the final trace, which wins. */
  private sampleProgressRef(runId: string, orchestratorAttempt: number, kind: 'live' | 'final' = 'live') {
    return this.runs()
      .doc(runId)
      .collection('samples')
      .doc(`attempt-${orchestratorAttempt}${kind === 'final' ? '-final' : ''}`);
  }

  watch(runId: string, onChange: (run: Run | null) => void, onError: (error: Error) => void): () => void {
    return this.runs()
      .doc(runId)
      .onSnapshot((snapshot) => onChange(snapshot.exists ? Run.parse(snapshot.data()) : null), onError);
  }

  private marker(ref: DocumentReference, key: string): DocumentReference {
    return ref.collection('ingested').doc(key.replace(/\//g, '|'));
  }
}
