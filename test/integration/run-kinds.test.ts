/**
 * A new kind of run needs no edit outside its own folder and the list of kinds. This file is
 * the folder of a third kind, `echo` (ids `ec-…`, a main job `echo-{run}` whose state is the
 * run's, and a side job it also starts); the local stack is given it as one more entry of the
 * list, and nothing else. The kernel then drives it like the platform's own kinds: the
 * run-pipeline workflow's steps prepare and reconcile it, Batch's events move it, its status
 * events go out, an ended run has every job stopped, the sweep and a restart settle it.
 */
import type { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { publishAfterCommit, type StatusEvents } from '../../functions/adapters/firestore-run-event-outbox';
import type { Config } from '../../functions/config';
import { batchParent, jobName } from '../../functions/core/shared/batch';
import { ID_BODY } from '../../functions/core/shared/ids';
import { failRunsOrphanedByRestart, localRestartMessage } from '../../functions/core/shared/kernel';
import { applyRunEvent, type RunEvent } from '../../functions/core/shared/lifecycle';
import { runStatusEvent } from '../../functions/core/shared/run-events';
import {
  type KernelFields,
  type KindStore,
  type RunKind,
  RunQueue,
  type StaleQuery,
} from '../../functions/core/shared/run-kind';
import { RunStatus } from '../../functions/core/shared/run-status';
import { createBatchRunner, createFirestore, createRunKinds, systemClock } from '../../functions/deps';
import { createStatusEvents } from '../../functions/deps/events';
import { createWorkflowStarter, workflowArgument } from '../../functions/deps/workflows';
import { memoryLogger } from '../../functions/logging';
import { waitForValue } from '../../scripts/lib/net';
import { subscribeToRunEvents } from '../helpers/pubsub';
import { startTestStack, type TestStack } from '../helpers/stack';

// ---- the echo kind's folder: its record, its store, its kind ----------------------------

const EchoRun = z.object({
  run_id: z.string(),
  user_email: z.string(),
  status: z.enum(RunStatus),
  created_at: z.string(),
  updated_at: z.string(),
  submitted_at: z.string().nullable(),
  started_at: z.string().nullable(),
  completed_at: z.string().nullable(),
  failed_at: z.string().nullable(),
  cancelled_at: z.string().nullable(),
  error_message: z.string().nullable(),
  batch_job_name: z.string().nullable(),
  workflow_execution: z.string().nullable(),
  queue: RunQueue.nullable(),
});
type EchoRun = z.infer<typeof EchoRun>;

const ECHO_ID = new RegExp(`^ec-${ID_BODY}$`);

class FirestoreEchoStore implements KindStore<EchoRun> {
  constructor(
    private readonly db: Firestore,
    private readonly events: StatusEvents,
  ) {}
  private doc(runId: string) {
    return this.db.collection('echo_runs').doc(runId);
  }
  async create(run: EchoRun): Promise<void> {
    await this.doc(run.run_id).create(run);
  }
  async get(runId: string): Promise<EchoRun | null> {
    const snapshot = await this.doc(runId).get();
    return snapshot.exists ? EchoRun.parse(snapshot.data()) : null;
  }
  async apply(runId: string, events: RunEvent | RunEvent[]) {
    let entered = false;
    const result = await this.db.runTransaction(async (tx) => {
      const snapshot = await tx.get(this.doc(runId));
      if (!snapshot.exists) return null;
      let run = EchoRun.parse(snapshot.data());
      const before = run;
      for (const event of [events].flat()) {
        const patch = applyRunEvent(run, event);
        if (!patch) continue;
        if (patch.status && patch.status !== run.status) {
          const moved = { ...run, ...patch };
          this.events.outbox.stage(
            tx,
            runStatusEvent(
              { kind: 'echo', title: 'Echo run', page: `/echo/${runId}` },
              { ...moved, pipeline: 'echo' },
              { from: run.status, to: moved.status, at: event.at },
              this.events.project,
            ),
          );
          entered = true;
        }
        run = { ...run, ...patch };
      }
      if (run === before) return { run, applied: false };
      tx.set(this.doc(runId), run);
      return { run, applied: true };
    });
    if (entered) await publishAfterCommit(this.events, runId);
    return result;
  }
  async setFields(runId: string, fields: KernelFields): Promise<boolean> {
    try {
      await this.doc(runId).update(fields);
      return true;
    } catch {
      return false;
    }
  }
  async findStale(query: StaleQuery): Promise<EchoRun[]> {
    const snapshot = await this.db
      .collection('echo_runs')
      .where('status', 'in', query.statuses)
      .where(query.field, '<', query.before)
      .orderBy(query.field)
      .limit(query.limit)
      .get();
    return snapshot.docs.map((doc) => EchoRun.parse(doc.data()));
  }
}

function echoKind(config: Config, runs: KindStore<EchoRun>): RunKind<EchoRun> {
  const parent = batchParent(config.project, config.region);
  return {
    name: 'echo',
    runIds: ECHO_ID,
    runOfJob: (jobId) => new RegExp(`^echo-(ec-${ID_BODY})$`).exec(jobId)?.[1] ?? null,
    runs,
    jobsOf: (run) =>
      run.batch_job_name ? [run.batch_job_name, jobName(parent, `echo-${run.run_id}-side`)] : [],
    prepare: async (run) => {
      const job_id = `echo-${run.run_id}`;
      await runs.setFields(run.run_id, { batch_job_name: jobName(parent, job_id) });
      return {
        run_id: run.run_id,
        parent,
        job_id,
        job_name: jobName(parent, job_id),
        request_id: '6f9619ff-8b86-4d01-b42d-00cf4fc964ff',
        job: {
          taskGroups: [
            {
              taskCount: 1,
              taskSpec: {
                runnables: [{ container: { imageUri: 'echo' } }],
                computeResource: { cpuMilli: 1000, memoryMib: 512 },
                maxRunDuration: '600s',
                maxRetryCount: 0,
                lifecyclePolicies: [],
                environment: { variables: {} },
              },
            },
          ],
          allocationPolicy: {
            instances: [{ policy: { machineType: 'e2-small', provisioningModel: 'STANDARD' } }],
            serviceAccount: { email: 'echo@example.com' },
          },
          labels: { app: 'arc-reactor', run_id: run.run_id },
          logsPolicy: { destination: 'CLOUD_LOGGING' },
          notifications: [
            {
              pubsubTopic: `projects/${config.project}/topics/${config.batchEventsTopic}`,
              message: { type: 'JOB_STATE_CHANGED' },
            },
          ],
        },
      };
    },
    startAgain: 'Echo it again.',
    carryOn: 'Echo it again; an echo does not resume.',
  };
}

const echoStore = (config: Config) =>
  new FirestoreEchoStore(
    createFirestore(config),
    createStatusEvents(config, createFirestore(config), memoryLogger()),
  );

// ---- the test -----------------------------------------------------------------------------

let stack: TestStack;
let events: Awaited<ReturnType<typeof subscribeToRunEvents>>;
let store: FirestoreEchoStore;
beforeAll(async () => {
  // The one line a new kind adds to the list.
  stack = await startTestStack({ moreKinds: (config) => [echoKind(config, echoStore(config))] });
  store = echoStore(stack.config);
  events = await subscribeToRunEvents(stack.pubsubHost, stack.config.project, stack.config.runEventsTopic);
});
afterAll(async () => {
  await events?.close();
  await stack?.close();
});

let serial = 0;
const echoRun = (overrides: Partial<EchoRun> = {}): EchoRun => {
  const now = new Date().toISOString();
  return {
    run_id: `ec-echotest${String(++serial).padStart(4, '0')}`,
    user_email: 'echo@example.com',
    status: 'pending',
    created_at: now,
    updated_at: now,
    submitted_at: null,
    started_at: null,
    completed_at: null,
    failed_at: null,
    cancelled_at: null,
    error_message: null,
    batch_job_name: null,
    workflow_execution: null,
    queue: null,
    ...overrides,
  };
};
const until = (id: string, test: (run: EchoRun) => boolean, what: string) =>
  waitForValue(
    async () => {
      const run = await store.get(id);
      return run && test(run) ? run : null;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: `${id}: ${what}` },
  );
const state = async (name: string) => (await stack.batch.getJob(name))?.status.state ?? null;

describe('a third kind of run, given only as one more entry of the list', () => {
  it('runs through the workflow’s steps and Batch’s events, tells the world, and has every job stopped when it ends', async () => {
    const run = echoRun();
    await store.create(run);
    stack.batch.stallNextTask(new RegExp(`^echo-${run.run_id}$`));
    const execution = await createWorkflowStarter(stack.config).start(
      workflowArgument(stack.config)(run.run_id),
    );
    await store.setFields(run.run_id, { workflow_execution: execution });

    const running = await until(
      run.run_id,
      (r) => r.status === 'running',
      'running (Batch’s event, through the kernel)',
    );
    expect(running.batch_job_name).toMatch(new RegExp(`/jobs/echo-${run.run_id}$`));
    // A second job the run starts: nothing but the kind knows of it.
    const side = jobName(batchParent(stack.config.project, stack.config.region), `echo-${run.run_id}-side`);
    stack.batch.stallNextTask(/-side$/);
    await createBatchRunner(stack.config).createJob({
      parent: batchParent(stack.config.project, stack.config.region),
      jobId: `echo-${run.run_id}-side`,
      requestId: '9b2d6c1e-1c57-4f0e-9d6a-7d3f2a1b0c9e',
      job: stack.batch.specOf(running.batch_job_name!)!,
    });
    await waitForValue(async () => ((await state(side)) === 'RUNNING' ? true : null), {
      timeoutMs: 10_000,
      what: 'the side job to run',
    });

    // The main job fails: the run fails through the kernel, which stops the side job.
    expect(stack.batch.interruptTask(running.batch_job_name!, 3)).toBe(true);
    const failed = await until(run.run_id, (r) => r.status === 'failed', 'failed');
    expect(failed.error_message).toMatch(/^Batch job failed: .*exit code 3/);
    await waitForValue(async () => ((await state(side)) === 'CANCELLED' ? true : null), {
      timeoutMs: 15_000,
      what: 'the side job stopped by the kernel',
    });

    // Its status events went out with its kind, its title and its page. The outbox publishes a
    // moment after the run's write: wait for the last one, then a barrier behind it for strays.
    await waitForValue(
      async () =>
        events.received.some((r) => r.orderingKey === run.run_id && r.event.data.to === 'failed')
          ? true
          : null,
      { timeoutMs: 20_000, intervalMs: 100, what: 'the failed event to be published' },
    );
    await events.barrier(run.run_id);
    const mine = events.received.filter((r) => r.orderingKey === run.run_id).map((r) => r.event.data);
    expect(mine.map((e) => e.to)).toEqual(['submitted', 'running', 'failed']);
    expect(mine.at(-1)).toMatchObject({ kind: 'echo', title: 'Echo run', page: `/echo/${run.run_id}` });
  });

  it('is swept like any run, and failed by a restart of the local stack with its own words', async () => {
    const old = new Date(Date.now() - 3_600_000).toISOString();
    const parent = batchParent(stack.config.project, stack.config.region);
    const lost = echoRun({
      status: 'running',
      created_at: old,
      updated_at: old,
      batch_job_name: jobName(parent, 'echo-gone'),
    });
    const neverStarted = echoRun({ created_at: old, updated_at: old });
    await store.create(lost);
    await store.create(neverStarted);
    const report = await stack.sweep();
    expect(report.changed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ run_id: lost.run_id, kind: 'echo', from: 'running', to: 'failed' }),
        expect.objectContaining({ run_id: neverStarted.run_id, kind: 'echo', from: 'pending', to: 'failed' }),
      ]),
    );
    expect((await store.get(neverStarted.run_id))?.error_message).toMatch(
      /never submitted: .* Echo it again\.$/,
    );

    const going = echoRun({ status: 'running', updated_at: old });
    await store.create(going);
    const kinds = [
      ...createRunKinds(stack.config, stack.firestore, memoryLogger()),
      echoKind(stack.config, store),
    ];
    const changed = await failRunsOrphanedByRestart({
      kinds,
      jobs: createBatchRunner(stack.config),
      clock: systemClock,
    });
    expect(changed).toContainEqual(
      expect.objectContaining({ run_id: going.run_id, kind: 'echo', to: 'failed' }),
    );
    expect((await store.get(going.run_id))?.error_message).toBe(
      localRestartMessage({ carryOn: 'Echo it again; an echo does not resume.' }),
    );
  });
});
