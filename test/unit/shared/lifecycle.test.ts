/**
 * The one lifecycle (core/shared/lifecycle.ts), table-tested for every kind of run from one
 * table: each kind's record goes through the reducer its store uses (a Nextflow run's
 * applyRunEvent; a HAYSTACK run's applyHaystackEvents, which adds what entering a status means
 * for it). Every pair of statuses, duplicates and reorderings end the same way for both.
 */
import { describe, expect, it } from 'vitest';
import {
  applyHaystackEvents,
  type HaystackRun,
  newHaystackRun,
} from '../../../functions/core/haystack/run-model';
import { applyRunEvent, type RunEvent, type RunStateFields } from '../../../functions/core/shared/lifecycle';
import { RunStatus } from '../../../functions/core/shared/run-status';

const T0 = '2026-11-01T10:00:00.000Z';
const T1 = '2026-11-01T10:05:00.000Z';

function run(status: RunStatus, extra: Partial<RunStateFields> = {}): RunStateFields {
  return {
    status,
    updated_at: T0,
    submitted_at: null,
    started_at: null,
    completed_at: null,
    failed_at: null,
    cancelled_at: null,
    exit_code: null,
    error_message: null,
    error_task: null,
    error_detail: null,
    ...extra,
  };
}

function event(to: RunStatus, extra: Partial<RunEvent> = {}): RunEvent {
  return { to, at: T1, source: 'batch-event', ...extra };
}

const haystackRun = (status: RunStatus, extra: Partial<HaystackRun> = {}): HaystackRun => ({
  ...newHaystackRun({
    run_id: 'hs-abcdefabcdef',
    user_email: 'alice@example.com',
    request: {
      query: 'How would NK cells respond to IL-15?',
      control_strategy: 'synthetic_control',
      max_iterations: 3,
      score_threshold: 7,
    },
    created_at: T0,
    bucket: 'arc-test-runs',
    batch_request_id: '0b5d7c9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e',
    model: 'stack-standin',
  }),
  status,
  ...extra,
});

/** A kind as the lifecycle sees it: a record in a status, and one event applied as its store applies it. */
interface KindUnderTest {
  kind: string;
  record(status: RunStatus, times?: Partial<RunStateFields>): RunStateFields;
  /** The record after the event; null when the event changed nothing. */
  step(record: RunStateFields, event: RunEvent): RunStateFields | null;
}

const KINDS: KindUnderTest[] = [
  {
    kind: 'nextflow',
    record: (status, times) => run(status, times),
    step: (record, e) => {
      const patch = applyRunEvent(record, e);
      return patch ? { ...record, ...patch } : null;
    },
  },
  {
    kind: 'haystack',
    record: (status, times) => haystackRun(status, times as Partial<HaystackRun>),
    step: (record, e) => applyHaystackEvents(record as HaystackRun, [e])?.run ?? null,
  },
];

const TIMESTAMP: Record<RunStatus, keyof RunStateFields | null> = {
  pending: null,
  submitted: 'submitted_at',
  running: 'started_at',
  completed: 'completed_at',
  failed: 'failed_at',
  cancelled: 'cancelled_at',
};

const RANK: Record<RunStatus, number> = {
  pending: 0,
  submitted: 1,
  running: 2,
  completed: 3,
  failed: 3,
  cancelled: 3,
};

const STARTED = { submitted_at: T0, started_at: T0 };
const ALL_TIMES = { ...STARTED, completed_at: T0, failed_at: T0, cancelled_at: T0 };

const pairs = KINDS.flatMap((k) =>
  RunStatus.flatMap((from) => RunStatus.map((to) => ({ ...k, from, to, moves: RANK[to] > RANK[from] }))),
);

describe.each(KINDS)('the lifecycle of a $kind run', (k) => {
  it.each(RunStatus)('a repeated report of %s changes nothing the second time', (status) => {
    const once = k.step(k.record('pending'), event(status));
    expect(once?.status).toBe(status);
    expect(k.step(once!, event(status))).toBeNull();
  });

  it('reaches the same run document for every order of the same events, each delivered twice', () => {
    const T = (minute: number) => `2026-11-01T10:${String(minute).padStart(2, '0')}:00.000Z`;
    const events: RunEvent[] = [
      event('submitted', { at: T(1), source: 'workflow' }),
      event('submitted', { at: T(2), source: 'batch-event' }),
      event('running', { at: T(3), source: 'agent' }),
      // The first report of why it failed is kept: the order-free part is the report without one.
      event('failed', { at: T(9) }),
      event('failed', { at: T(8), source: 'agent', error_message: 'The question could not be answered' }),
      event('running', { at: T(4), source: 'workflow' }),
    ];
    const finals = new Set(
      permutations(events).map((order) => {
        let state = k.record('pending');
        for (const e of [...order, ...order]) state = k.step(state, e) ?? state;
        return JSON.stringify(state);
      }),
    );
    expect(finals.size).toBe(1);
    expect(JSON.parse([...finals][0]!)).toMatchObject({
      status: 'failed',
      submitted_at: T(1),
      started_at: T(3),
      failed_at: T(8),
      updated_at: T(9),
      error_message: 'The question could not be answered',
    });
  });

  it('keeps a cancelled run cancelled whatever its job reports after', () => {
    const cancelled = k.step(k.record('running', STARTED), event('cancelled', { source: 'api' }))!;
    for (const to of RunStatus)
      expect(k.step(cancelled, event(to, { at: T1 }))?.status ?? 'cancelled').toBe('cancelled');
  });
});

describe('every pair of statuses, for every kind', () => {
  it.each(pairs)('$kind: $from → $to moves forward only ($moves)', ({ record, step, from, to, moves }) => {
    // Step times already known: a backward event has nothing to add.
    const before = record(from, { ...ALL_TIMES, updated_at: T1 });
    const after = step(before, event(to));
    if (!moves) {
      expect(after).toBeNull();
      return;
    }
    expect(after?.status).toBe(to);
    expect(after?.updated_at).toBe(T1);
    const field = TIMESTAMP[to];
    if (field) expect(after?.[field]).toBe(T1);
  });
});

describe('a HAYSTACK run entering a status', () => {
  it('loses its phase and says why it ended: cancelled, or an error unless the agent named its reason', () => {
    const running = haystackRun('running', { ...STARTED, current_phase: 'inference' });
    expect(applyHaystackEvents(running, [event('cancelled')])?.run).toMatchObject({
      status: 'cancelled',
      current_phase: null,
      termination_reason: 'cancelled',
    });
    expect(applyHaystackEvents(running, [event('failed', { error_message: 'killed' })])?.run).toMatchObject({
      status: 'failed',
      current_phase: null,
      termination_reason: 'error',
      error_message: 'killed',
    });
    const answered = { ...running, termination_reason: 'threshold_reached' as const };
    expect(applyHaystackEvents(answered, [event('completed')])?.run).toMatchObject({
      status: 'completed',
      termination_reason: 'threshold_reached',
    });
  });

  it('keeps only the error fields its record has', () => {
    const after = applyHaystackEvents(haystackRun('running', STARTED), [
      event('failed', { exit_code: 137, error_task: 'x', error_message: 'killed' }),
    ])!.run;
    expect(after).not.toHaveProperty('exit_code');
    expect(after).not.toHaveProperty('error_task');
    expect(after.error_message).toBe('killed');
  });

  it('lists each status it entered, in order, for the status events', () => {
    const result = applyHaystackEvents(haystackRun('pending'), [
      event('submitted', { at: T0 }),
      event('running', { at: T0 }),
      event('completed', { at: T1 }),
    ]);
    expect(result?.entered.map((e) => `${e.from}→${e.to}`)).toEqual([
      'pending→submitted',
      'submitted→running',
      'running→completed',
    ]);
  });
});

function permutations<T>(items: T[]): T[][] {
  return items.length <= 1
    ? [items]
    : items.flatMap((item, i) =>
        permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
      );
}

describe('applyRunEvent on a Nextflow run', () => {
  it('allows skipping: submitted → failed when the job dies before Nextflow starts', () => {
    expect(applyRunEvent(run('submitted'), event('failed', { error_message: 'VM preempted' }))).toEqual({
      status: 'failed',
      failed_at: T1,
      updated_at: T1,
      error_message: 'VM preempted',
    });
  });

  it('records exit code, message and failed task on a failure', () => {
    const patch = applyRunEvent(
      run('running'),
      event('failed', { exit_code: 1, error_message: 'Process exited', error_task: 'STAR_ALIGN (S1)' }),
    );
    expect(patch).toMatchObject({
      status: 'failed',
      exit_code: 1,
      error_message: 'Process exited',
      error_task: 'STAR_ALIGN (S1)',
    });
  });

  it('ignores a redelivered non-terminal event', () => {
    expect(applyRunEvent(run('running', { ...STARTED, updated_at: T1 }), event('running'))).toBeNull();
  });

  it('ignores a RUNNING event after SUCCEEDED', () => {
    expect(applyRunEvent(run('completed', { ...STARTED, updated_at: T1 }), event('running'))).toBeNull();
  });

  it('records the time of a late QUEUED event without moving a running run back', () => {
    expect(
      applyRunEvent(run('running', { started_at: T1, updated_at: T1 }), event('submitted', { at: T0 })),
    ).toEqual({
      submitted_at: T0,
      updated_at: T1,
    });
  });

  it('records a late RUNNING time on a completed run that skipped it, keeping it completed', () => {
    const patch = applyRunEvent(
      run('completed', { submitted_at: T0, completed_at: T0 }),
      event('running', { at: T0 }),
    );
    expect(patch).toEqual({ started_at: T0, updated_at: T0 });
    expect(patch).not.toHaveProperty('status');
  });

  it('never fills a terminal time from a late event', () => {
    expect(applyRunEvent(run('cancelled', STARTED), event('failed'))).toBeNull();
  });

  it('keeps a cancelled run cancelled when Batch later reports FAILED', () => {
    expect(applyRunEvent(run('cancelled'), event('failed', { exit_code: 143 }))).toBeNull();
  });

  it('fills in error details a later duplicate failure knows, without moving timestamps', () => {
    const failed = run('failed', { error_message: 'Batch job failed', failed_at: T0 });
    expect(
      applyRunEvent(
        failed,
        event('failed', { exit_code: 1, error_task: 'FASTQC (S1)', error_message: 'other' }),
      ),
    ).toEqual({
      exit_code: 1,
      error_task: 'FASTQC (S1)',
      updated_at: T1,
    });
  });

  it('ignores a duplicate terminal event that adds nothing', () => {
    expect(
      applyRunEvent(
        run('failed', { exit_code: 1, error_message: 'x', error_task: 'y', failed_at: T0, updated_at: T1 }),
        event('failed', { exit_code: 2 }),
      ),
    ).toBeNull();
  });

  it('never moves updated_at backward for a late-arriving event', () => {
    const patch = applyRunEvent(run('submitted', { updated_at: T1 }), event('running', { at: T0 }));
    expect(patch).toEqual({ status: 'running', started_at: T0, updated_at: T1 });
  });

  it('keeps the earliest time when a status is reported more than once', () => {
    expect(
      applyRunEvent(run('running', { started_at: T1, updated_at: T1 }), event('running', { at: T0 })),
    ).toEqual({
      started_at: T0,
      updated_at: T1,
    });
    expect(
      applyRunEvent(run('running', { started_at: T0, updated_at: T1 }), event('running', { at: T1 })),
    ).toBeNull();
  });

  it("lets exit.json's error replace the Batch job's, but not the other way round", () => {
    const batchFailed = run('failed', {
      failed_at: T0,
      error_message: 'Batch job failed: Task 0 failed with exit code 1',
      exit_code: 1,
    });
    const exitJson = event('failed', {
      source: 'artifact',
      at: T0,
      exit_code: 1,
      error_message: 'Process `STAR_ALIGN (S1)` terminated with an error exit status (1)',
      error_task: 'STAR_ALIGN (S1)',
    });
    const patch = applyRunEvent(batchFailed, exitJson);
    expect(patch).toEqual({
      error_message: exitJson.error_message,
      error_task: 'STAR_ALIGN (S1)',
      updated_at: T0,
    });
    const afterExit = { ...batchFailed, ...patch };
    expect(
      applyRunEvent(afterExit, event('failed', { at: T0, error_message: 'Batch job failed: again' })),
    ).toBeNull();
    expect(applyRunEvent(afterExit, exitJson)).toBeNull();
  });

  it('reaches the same final state whatever order events arrive in', () => {
    const events = [
      event('submitted'),
      event('running'),
      event('completed', { exit_code: 0 }),
      event('running'),
      event('submitted'),
    ];
    const orders = [
      events,
      [...events].reverse(),
      [events[2]!, events[0]!, events[1]!, events[4]!, events[3]!],
    ];
    const finals = orders.map((order) => {
      let state = run('pending');
      for (const e of order) {
        const patch = applyRunEvent(state, e);
        if (patch) state = { ...state, ...patch };
      }
      return state;
    });
    for (const final of finals) expect(final).toMatchObject({ status: 'completed', exit_code: 0 });
  });
});
