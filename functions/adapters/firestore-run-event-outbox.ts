import { randomUUID } from 'node:crypto';
import type { DocumentReference, Firestore, Transaction, WriteBatch } from '@google-cloud/firestore';
import {
  eventSequence,
  type MessagePublisher,
  NOTICE_SEQUENCE,
  type OutgoingMessage,
  RUN_NOTICE,
  type RunEventOutbox,
  type RunNoticeCloudEvent,
  type RunStatusCloudEvent,
  toMessage,
} from '../core/shared/run-events';

interface Staged {
  run_id: string;
  seq: number;
  staged_at: string;
  message: OutgoingMessage;
}

const BATCH = 20;
const CLAIM_ATTEMPTS = 3;

/** Status events: staged in the outbox with each change, published after the commit. */
export interface StatusEvents {
  outbox: FirestoreRunEventOutbox;
  project: string;
  /** A publish failed: the event stays staged and the sweeper publishes it later. */
  onPublishError: (runId: string, error: unknown) => void;
}

/**
 * After a commit that staged a run's status events (both run stores call it): publishes them;
 * a failure goes to `onPublishError` and leaves them staged for the sweeper.
 */
export async function publishAfterCommit(events: StatusEvents | null, runId: string): Promise<void> {
  if (!events) return;
  try {
    await events.outbox.drain(runId);
  } catch (error) {
    events.onPublishError(runId, error);
  }
}

/**
 * The transactional outbox of run status events. A status change and its event are written in
 * the same commit (`stage`), so an event exists exactly when its change was applied, whatever
 * duplicates and reorderings of the platform's input caused it. After the commit the writer
 * calls `drain`, which publishes the run's staged events in status order and deletes them.
 *
 * One drainer a run at a time: a lease (`run_event_streams/{run}`) is taken in a transaction
 * that also reads what is staged; a drainer that finds the lease held leaves its event to the
 * holder, which reads the outbox again before it lets go. So per run, events go out once and
 * in order. A drainer that dies between publishing and deleting leaves its events staged: the
 * sweeper publishes them again after the lease expires, with the same CloudEvent id, which
 * subscribers use to drop the repeat.
 */
export class FirestoreRunEventOutbox implements RunEventOutbox {
  private readonly outbox: string;
  private readonly streams: string;
  private readonly leaseMs: number;

  constructor(
    private readonly db: Firestore,
    private readonly publisher: MessagePublisher,
    options: { leaseMs?: number; now?: () => Date } = {},
  ) {
    this.outbox = 'run_event_outbox';
    this.streams = 'run_event_streams';
    this.leaseMs = options.leaseMs ?? 60_000;
    this.now = options.now ?? (() => new Date());
  }

  private readonly now: () => Date;

  /** Adds the event to the commit that applies its change. */
  stage(write: WriteBatch | Transaction, event: RunStatusCloudEvent | RunNoticeCloudEvent): void {
    const ref = this.db.collection(this.outbox).doc(event.id.replaceAll('/', '~'));
    const staged: Staged = {
      run_id: event.data.run_id,
      seq: event.type === RUN_NOTICE ? NOTICE_SEQUENCE[event.data.notice] : eventSequence(event.data.to),
      staged_at: this.now().toISOString(),
      message: toMessage(event),
    };
    // create: a second stage of the same event (which the state machine never makes) fails the commit.
    (write as WriteBatch).create(ref, staged);
  }

  /** Publishes the run's staged events in order; answers how many this call published. */
  async drain(runId: string): Promise<number> {
    const owner = randomUUID();
    const leaseRef = this.db.collection(this.streams).doc(runId);
    let published = 0;
    try {
      for (;;) {
        const due = await this.claimRetrying(runId, owner, leaseRef);
        if (due.length === 0) return published;
        for (const item of due) {
          await this.publisher.publish(item.message);
          await item.ref.delete();
          published += 1;
        }
      }
    } catch (error) {
      // Whatever failed (a publish, or a claim after one), the lease is let go at once: a
      // lease left held would make every other drainer leave its events to nobody.
      await this.release(owner, leaseRef).catch(() => {});
      throw error;
    }
  }

  /**
   * A claim that fails is tried again, twice, after a pause: transactions that contend on a
   * run's stream fail now and then (Firestore answers ABORTED, its emulator "Transaction is
   * invalid or closed"), and a claim given up leaves the events to the sweeper, a minute later.
   */
  private async claimRetrying(
    runId: string,
    owner: string,
    leaseRef: DocumentReference,
  ): Promise<(Staged & { ref: DocumentReference })[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.claim(runId, owner, leaseRef);
      } catch (error) {
        if (attempt >= CLAIM_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt + Math.random() * 50));
      }
    }
  }

  /** Lets go of the lease after a failed publish, so the next change or sweep can try at once. */
  private release(owner: string, leaseRef: DocumentReference): Promise<void> {
    return this.db.runTransaction(async (tx) => {
      const lease = await tx.get(leaseRef);
      if ((lease.data() as { owner?: string } | undefined)?.owner === owner) tx.delete(leaseRef);
    });
  }

  /** The run's next staged events under this owner's lease; [] (lease released) when none, or when another drainer holds it. */
  private claim(
    runId: string,
    owner: string,
    leaseRef: DocumentReference,
  ): Promise<(Staged & { ref: DocumentReference })[]> {
    return this.db.runTransaction(async (tx) => {
      const now = this.now().getTime();
      const lease = await tx.get(leaseRef);
      const held = lease.data() as { owner: string; until: number; knocks?: number } | undefined;
      if (held && held.owner !== owner && held.until > now) {
        // Another drainer holds the stream and publishes what it finds before it lets go.
        // Knocking writes the lease, so that holder's last look at the outbox (a transaction
        // that reads the lease) is ordered after this event's commit and sees it; a query
        // alone would not stop that look from missing an event committed meanwhile.
        tx.update(leaseRef, { knocks: (held.knocks ?? 0) + 1 });
        return [];
      }
      const staged = await tx.get(
        this.db.collection(this.outbox).where('run_id', '==', runId).orderBy('seq').limit(BATCH),
      );
      if (staged.empty) {
        if (lease.exists) tx.delete(leaseRef);
        return [];
      }
      tx.set(leaseRef, { owner, until: now + this.leaseMs });
      return staged.docs.map((doc) => ({ ...(doc.data() as Staged), ref: doc.ref }));
    });
  }

  async drainStale(before: string, limit: number): Promise<number> {
    const snapshot = await this.db
      .collection(this.outbox)
      .where('staged_at', '<', before)
      .orderBy('staged_at')
      .limit(limit)
      .get();
    const runs = [...new Set(snapshot.docs.map((doc) => (doc.data() as Staged).run_id))];
    let published = 0;
    for (const runId of runs) published += await this.drain(runId);
    return published;
  }
}
