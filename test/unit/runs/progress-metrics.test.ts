import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chainCostSummary } from '../../../functions/core/nextflow/chain-cost';
import {
  computeMetrics,
  earlierAttemptsSummary,
  preemptionSummary,
} from '../../../functions/core/nextflow/metrics';
import { parseTrace } from '../../../functions/core/nextflow/trace';
import {
  addProgress,
  countLogLines,
  countTraceTasks,
  progressView,
  traceCountDifferences,
} from '../../../functions/core/runs/progress';
import { emptyProgress, type Run } from '../../../functions/core/runs/run-model';

const traceText = readFileSync('test/fixtures/nextflow/chipseq_execution_trace.txt', 'utf8');
const logText = readFileSync('test/fixtures/nextflow/ampliseq_resumed_failed.nextflow.log', 'utf8');
const tasks = parseTrace(traceText).tasks;
const PRICES = { vcpu_hour: 0.01, gb_hour: 0.001 };

/** The trace as the orchestrator uploads it: chunks of rows, each starting with the header. */
function chunks(text: string, size: number): string[] {
  const [header, ...rows] = text.trim().split('\n');
  const out: string[] = [];
  for (let i = 0; i < rows.length; i += size) out.push(`${header}\n${rows.slice(i, i + size).join('\n')}\n`);
  return out;
}

describe('progress counters', () => {
  it('count a real nextflow.log: Submitted and Cached lines by process', () => {
    const delta = countLogLines(logText);
    expect(delta.submitted).toBe(2);
    expect(delta.announced).toBe(19);
    expect(delta.processes['NFCORE_AMPLISEQ:AMPLISEQ:DADA2_TAXONOMY_WF:DADA2_TAXONOMY']).toMatchObject({
      submitted: 1,
    });
    expect(delta.processes['NFCORE_AMPLISEQ:AMPLISEQ:FASTQC']).toMatchObject({ announced: 1, submitted: 0 });
  });

  it('count trace rows by status and process', () => {
    const delta = countTraceTasks(tasks);
    expect(delta.completed + delta.failed).toBe(tasks.length);
    expect(delta.failed).toBe(17);
    expect(delta.processes['CHIPSEQ:PHANTOMPEAKQUALTOOLS']).toMatchObject({ failed: expect.any(Number) });
  });

  it('add up to the same counts in any chunk order, equal to the whole trace', () => {
    const parts = chunks(traceText, 23).map((chunk) => countTraceTasks(parseTrace(chunk).tasks));
    const forward = parts.reduce(addProgress, emptyProgress());
    const backward = [...parts].reverse().reduce(addProgress, emptyProgress());
    const shuffled = [...parts]
      .sort((a, b) => a.completed - b.completed || a.failed - b.failed)
      .reduce(addProgress, emptyProgress());
    const { samples: _, whole_run: __, ...whole } = countTraceTasks(tasks);
    for (const total of [forward, backward, shuffled]) {
      expect(total).toEqual(whole);
      expect(traceCountDifferences(total, whole)).toEqual({});
    }
  });

  it('shows running tasks while the run goes, none once it has ended', () => {
    const progress = addProgress(countLogLines(logText), emptyProgress());
    const running = progressView({ progress, status: 'running', metrics: null });
    expect(running).toMatchObject({ submitted: 2, running: 2, total_known: 21, source: 'live' });
    expect(progressView({ progress, status: 'failed', metrics: null }).running).toBe(0);
  });

  it("shows the final trace's counts once the metrics exist", () => {
    const live = countTraceTasks(tasks.slice(0, 10));
    const metrics = computeMetrics(tasks, PRICES, '1');
    const shown = progressView({ progress: live, status: 'failed', metrics } as Pick<
      Run,
      'progress' | 'status' | 'metrics'
    >);
    expect(shown).toMatchObject({ completed: metrics.tasks.completed, failed: 17, source: 'final' });
    expect(Object.values(shown.processes).reduce((sum, p) => sum + p.completed + p.failed, 0)).toBe(
      tasks.length,
    );
  });

  it('reports where live counts differ from the final trace', () => {
    const live = countTraceTasks(tasks.slice(1));
    const name = tasks[0]!.process!;
    expect(traceCountDifferences(live, countTraceTasks(tasks))).toEqual({ [name]: { completed: [0, 1] } });
  });
});

describe('computeMetrics', () => {
  const metrics = computeMetrics(tasks, PRICES, '42');

  it('counts tasks by status', () => {
    expect(metrics.tasks).toEqual({
      total: tasks.length,
      completed: tasks.length - 17,
      cached: 0,
      failed: 17,
      aborted: 0,
      other: 0,
    });
  });

  it('measures CPU-hours from realtime × cpus, or %cpu where cpus is unknown (this trace has no cpus column)', () => {
    const expected = tasks.reduce(
      (sum, t) => sum + ((t.realtime ?? 0) / 3_600_000) * ((t.cpu_percent ?? 0) / 100),
      0,
    );
    expect(metrics.cpu_hours).toBeCloseTo(expected, 4);
    const withCpus = computeMetrics(
      [{ ...tasks[0]!, realtime: 3_600_000, cpus: 4, memory: 2 * 1024 ** 3 }],
      PRICES,
      '1',
    );
    expect(withCpus.cpu_hours).toBe(4);
    expect(withCpus.memory_gib_hours).toBe(2);
    expect(withCpus.cost.estimate).toBeCloseTo(4 * 0.01 + 2 * 0.001, 6);
    expect(withCpus.cost.formula).toBe(
      '4 vCPU-hours × $0.01/vCPU-hour + 2 GiB-hours × $0.001/GiB-hour = $0.04 (Spot task VMs; the orchestrator VM, storage and egress are not included)',
    );
  });

  it('finds the peak memory, bytes read and written, and the wall time', () => {
    expect(metrics.peak_rss_bytes).toBe(Math.max(...tasks.map((t) => t.peak_rss ?? 0)));
    expect(metrics.read_bytes).toBe(tasks.reduce((sum, t) => sum + (t.rchar ?? 0), 0));
    expect(metrics.write_bytes).toBe(tasks.reduce((sum, t) => sum + (t.wchar ?? 0), 0));
    const submits = tasks.map((t) => Date.parse(t.submit!));
    expect(metrics.wall_ms).toBeGreaterThan(0);
    expect(metrics.wall_ms).toBeLessThanOrEqual(
      Math.max(...submits) - Math.min(...submits) + Math.max(...tasks.map((t) => t.duration ?? 0)),
    );
  });

  it('measures the wall time from start (plus complete or duration) when the trace has no submit column', () => {
    const noSubmit = parseTrace(
      [
        'task_id\tprocess\tstatus\tstart\tcomplete\tduration',
        '1\tP:A\tCOMPLETED\t2026-11-27 10:00:00.000\t2026-11-27 10:05:00.000\t5m',
        '2\tP:B\tCOMPLETED\t2026-11-27 10:02:00.000\t-\t10m',
      ].join('\n'),
    ).tasks;
    expect(noSubmit[0]!.submit).toBeNull();
    // From the first start (10:00) to the last end: 10:02 + 10 min = 10:12.
    expect(computeMetrics(noSubmit, PRICES, '1').wall_ms).toBe(12 * 60_000);
  });

  it('summarizes each process', () => {
    const phantom = metrics.processes.find((p) => p.process === 'CHIPSEQ:PHANTOMPEAKQUALTOOLS')!;
    const rows = tasks.filter((t) => t.process === 'CHIPSEQ:PHANTOMPEAKQUALTOOLS');
    expect(phantom).toMatchObject({
      count: rows.length,
      failed: rows.filter((t) => t.status === 'FAILED').length,
      max_realtime_ms: Math.max(...rows.map((t) => t.realtime ?? 0)),
    });
    expect(metrics.processes.map((p) => p.cpu_hours)).toEqual(
      [...metrics.processes.map((p) => p.cpu_hours)].sort((a, b) => b - a),
    );
  });

  it('counts cached tasks but does not cost them', () => {
    const cached = computeMetrics(
      tasks.map((t) => ({ ...t, status: 'CACHED' })),
      PRICES,
      '1',
    );
    expect(cached.tasks.cached).toBe(tasks.length);
    expect(cached.cpu_hours).toBe(0);
    expect(cached.cost.estimate).toBe(0);
  });
});

describe('what Spot cost a run', () => {
  it('counts tasks preempted (exit 50001) and the CPU-hours and cost of the lost attempts, and says so', () => {
    const base = { ...tasks[0]!, status: 'FAILED', realtime: 1_800_000, cpus: 4, memory: 8 * 1024 ** 3 };
    const metrics = computeMetrics(
      [
        { ...base, exit: 50001 },
        { ...base, exit: 50001, task_id: 99 },
        { ...base, status: 'COMPLETED', exit: 0 },
        { ...base, exit: 137 },
      ],
      PRICES,
      '1',
    );
    // Two lost half-hours on 4 CPUs and 8 GiB: 4 CPU-h, 8 GiB-h.
    expect(metrics.preempted).toEqual({ tasks: 2, cpu_hours: 4, cost_estimate: 4 * 0.01 + 8 * 0.001 });
    expect(preemptionSummary(metrics)).toBe(
      '2 tasks were preempted by Spot (exit 50001) and run again: 4.00 CPU-hours, about $0.05 of the estimate, went to the lost attempts.',
    );
    expect(preemptionSummary(computeMetrics([{ ...base, exit: 0 }], PRICES, '1'))).toBeNull();
    // A run's metrics stored before this existed read as nothing preempted.
    expect(preemptionSummary({ preempted: undefined } as never)).toBeNull();
  });
});

describe('what earlier orchestrator attempts ran', () => {
  it('costs the work they executed once, outside the task counts, and says so', () => {
    const row = { ...tasks[0]!, realtime: 3_600_000, cpus: 2, memory: 4 * 1024 ** 3 };
    // Attempt 1 finished A and B; the retried attempt 2 takes them as CACHED and runs C.
    const last = [
      { ...row, task_id: 1, status: 'CACHED' },
      { ...row, task_id: 2, status: 'CACHED' },
      { ...row, task_id: 3, status: 'COMPLETED' },
    ];
    const earlier = [
      { ...row, task_id: 1, status: 'COMPLETED' },
      { ...row, task_id: 2, status: 'COMPLETED' },
    ];
    const alone = computeMetrics(last, PRICES, '1');
    const whole = computeMetrics(last, PRICES, '1', earlier);
    expect(alone.cpu_hours).toBe(2);
    expect(whole.cpu_hours).toBe(6);
    expect(whole.memory_gib_hours).toBe(12);
    expect(whole.tasks).toEqual(alone.tasks);
    expect(whole.earlier_attempts).toEqual({ tasks: 2, cpu_hours: 4, cost_estimate: 4 * 0.01 + 8 * 0.001 });
    expect(whole.cost.estimate).toBeCloseTo(6 * 0.01 + 12 * 0.001, 6);
    expect(earlierAttemptsSummary(whole)).toBe(
      'Earlier orchestrator attempts of this run executed 2 tasks (4.00 CPU-hours, about $0.05): counted once in the totals, though the last attempt shows that work as cached.',
    );
    expect(earlierAttemptsSummary(alone)).toBeNull();
  });

  it("costs a CACHED row no earlier chunk recorded from the row itself, for a chain's first run only", () => {
    const row = { ...tasks[0]!, realtime: 3_600_000, cpus: 2, memory: 4 * 1024 ** 3 };
    // Attempt 1 ran A and B, but was killed before B's trace line was uploaded.
    const last = [
      { ...row, task_id: 1, hash: 'aa/000001', status: 'CACHED' },
      { ...row, task_id: 2, hash: 'bb/000002', status: 'CACHED' },
      { ...row, task_id: 3, hash: 'cc/000003', status: 'COMPLETED' },
    ];
    const earlier = [{ ...row, task_id: 1, hash: 'aa/000001', status: 'COMPLETED' }];
    const own = computeMetrics(last, PRICES, '1', earlier, { ownCache: true });
    expect(own.earlier_attempts).toMatchObject({ tasks: 2, cpu_hours: 4 });
    expect(own.cpu_hours).toBe(6);
    expect(own.tasks.cached).toBe(2);
    // A recovery's CACHED rows may be its parent's work, costed on the parent: not counted again.
    const recovery = computeMetrics(last, PRICES, '1', earlier);
    expect(recovery.earlier_attempts).toMatchObject({ tasks: 1, cpu_hours: 2 });
    expect(recovery.cpu_hours).toBe(4);
  });
});

describe("a recovery chain's cost", () => {
  const costed = (run_id: string, estimate: number) => ({
    run_id,
    metrics: {
      cost: { currency: 'USD' as const, estimate, prices: { vcpu_hour: 0.01, gb_hour: 0.001 }, formula: '' },
    },
  });
  it('adds every costed run once, says which are not costed yet, and gives this run its own', () => {
    expect(chainCostSummary([costed('a', 0.3)], 'a')).toBeNull();
    expect(chainCostSummary([costed('a', 0.305), costed('b', 0.121)], 'b')).toBe(
      "The 2 runs of this recovery chain cost about $0.43 in all; this run's own: about $0.12. Each run counts only the tasks it executed (cached tasks are not counted again); Spot task VMs only, as in each run's estimate.",
    );
    expect(chainCostSummary([costed('a', 0.3), { run_id: 'b', metrics: null }], 'b')).toContain(
      "cost about $0.30 in all (1 of them not costed yet: a run's cost is known when it ends); this run's own: not known until it ends.",
    );
  });
});
