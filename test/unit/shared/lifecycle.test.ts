import { describe, expect, it } from 'vitest';
import { RunStatus } from '../../../functions/core/runs/run-model';
import {
  applyRunEvent,
  type RunEvent,
  type RunStateFields,
} from '../../../functions/core/runs/state-machine';

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

const TIMESTAMP: Record<RunStatus, string | null> = {
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

const pairs = RunStatus.flatMap((from) =>
  RunStatus.map((to) => ({ from, to, moves: RANK[to] > RANK[from] })),
);
const STARTED = { submitted_at: T0, started_at: T0 };
const ALL_TIMES = { ...STARTED, completed_at: T0, failed_at: T0, cancelled_at: T0 };

describe('applyRunEvent', () => {
  it.each(pairs)('$from → $to: moves forward only ($moves)', ({ from, to, moves }) => {
    // Step times already known: a backward event has nothing to add.
    const patch = applyRunEvent(run(from, { ...ALL_TIMES, updated_at: T1 }), event(to));
    if (!moves) {
      expect(patch).toBeNull();
      return;
    }
    const expected: Record<string, unknown> = { status: to, updated_at: T1 };
    const field = TIMESTAMP[to];
    if (field) expected[field] = T1;
    expect(patch).toEqual(expected);
  });

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

  it('reaches the same run document for every order of the same events', () => {
    const T = (minute: number) => `2026-11-01T10:${String(minute).padStart(2, '0')}:00.000Z`;
    const events: RunEvent[] = [
      event('submitted', { at: T(1), source: 'workflow' }),
      event('submitted', { at: T(2), source: 'batch-event' }),
      event('running', { at: T(3) }),
      event('failed', { at: T(9), exit_code: 1, error_message: 'Batch job failed' }),
      event('failed', {
        at: T(8),
        source: 'artifact',
        exit_code: 1,
        error_message: 'Process failed',
        error_task: 'STAR_ALIGN (S1)',
        error_detail: 'Command error: …',
      }),
      event('running', { at: T(4), source: 'workflow' }),
    ];
    const permutations = (items: RunEvent[]): RunEvent[][] =>
      items.length <= 1
        ? [items]
        : items.flatMap((item, i) =>
            permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
          );
    const finals = new Set(
      permutations(events).map((order) => {
        let state = run('pending');
        for (const e of [...order, ...order]) {
          const patch = applyRunEvent(state, e);
          if (patch) state = { ...state, ...patch };
        }
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
      error_message: 'Process failed',
      error_task: 'STAR_ALIGN (S1)',
    });
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
