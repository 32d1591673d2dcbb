import { FieldPath, type Firestore, type Query } from '@google-cloud/firestore';
import { ConflictError, ValidationError } from '../core/errors';
import type {
  ApplyResult,
  PageRequest,
  RunFields,
  RunFilter,
  RunHistoryEntry,
  RunPage,
  RunStore,
} from '../core/ports';
import { Run } from '../core/run-model';
import {
  appliedDetail,
  applyRunEvent,
  ignoredReason,
  type RunEvent,
  type RunPatch,
} from '../core/state-machine';

const ALREADY_EXISTS = 6;
const NOT_FOUND = 5;

interface Cursor {
  /** The filter the token was issued for: a token only continues the query it came from. */
  f: string;
  c: string;
  i: string;
}

function filterKey(filter: RunFilter): string {
  return JSON.stringify([filter.user_email ?? null, filter.status ?? null, filter.pipeline ?? null]);
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

/** Runs in `runs/{run_id}`, their status history in `runs/{run_id}/events`. */
export class FirestoreRunStore implements RunStore {
  constructor(
    private readonly db: Firestore,
    private readonly collection = 'runs',
  ) {}

  private runs() {
    return this.db.collection(this.collection);
  }

  async create(run: Run): Promise<void> {
    const ref = this.runs().doc(run.run_id);
    const batch = this.db.batch();
    batch.create(ref, run);
    batch.create(ref.collection('events').doc(), {
      source: 'api',
      from: null,
      to: run.status,
      at: run.created_at,
      detail: `Created by ${run.user_email}`,
      applied: true,
    } satisfies RunHistoryEntry);
    try {
      await batch.commit();
    } catch (error) {
      if ((error as { code?: number }).code === ALREADY_EXISTS) {
        throw new ConflictError(`Run ${run.run_id} already exists.`);
      }
      throw error;
    }
  }

  async get(runId: string): Promise<Run | null> {
    const snapshot = await this.runs().doc(runId).get();
    return snapshot.exists ? Run.parse(snapshot.data()) : null;
  }

  async list(filter: RunFilter, page: PageRequest): Promise<RunPage> {
    let query: Query = this.runs();
    if (filter.user_email !== undefined) query = query.where('user_email', '==', filter.user_email);
    if (filter.status !== undefined) query = query.where('status', '==', filter.status);
    if (filter.pipeline !== undefined) query = query.where('pipeline', '==', filter.pipeline);
    query = query.orderBy('created_at', 'desc').orderBy(FieldPath.documentId(), 'desc');

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
    return this.db.runTransaction(async (tx) => {
      const snapshot = await tx.get(ref);
      if (!snapshot.exists) return null;
      const original = Run.parse(snapshot.data());
      let run = original;
      let changes: RunPatch = {};
      list.forEach((event, index) => {
        const patch = applyRunEvent(run, event);
        if (patch || index === list.length - 1) {
          const entry: RunHistoryEntry = {
            source: event.source,
            from: run.status,
            to: event.to,
            at: event.at,
            detail: patch
              ? appliedDetail(run, event, patch)
              : `ignored: ${ignoredReason(run, event)}${event.detail ? ` (${event.detail})` : ''}`,
            applied: patch !== null,
          };
          tx.create(ref.collection('events').doc(), entry);
        }
        if (patch) {
          run = { ...run, ...patch };
          changes = { ...changes, ...patch };
        }
      });
      if (Object.keys(changes).length === 0) return { run: original, applied: false };
      tx.update(ref, changes);
      return { run, applied: true };
    });
  }

  async history(runId: string): Promise<RunHistoryEntry[]> {
    const snapshot = await this.runs().doc(runId).collection('events').orderBy('at').get();
    return snapshot.docs.map((doc) => doc.data() as RunHistoryEntry);
  }

  async setFields(runId: string, fields: RunFields): Promise<boolean> {
    try {
      await this.runs().doc(runId).update(fields);
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === NOT_FOUND) return false;
      throw error;
    }
  }
}
