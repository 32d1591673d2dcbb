import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../../functions/core/nextflow/metrics';
import { emptyTask, type TraceTask } from '../../../functions/core/nextflow/trace';
import { recommend, recommendationConfig } from '../../../functions/core/runs/right-sizing';
import type { Run } from '../../../functions/core/runs/run-model';
import { configProblems } from '../../../functions/core/runs/run-service';
import { storedRunRecord } from '../../helpers/runs';

const PRICES = { vcpu_hour: 0.01, gb_hour: 0.001 };
const GIB = 1024 ** 3;
const target = { pipeline: 'nf-core/scrnaseq', version: '4.0.0' };

/** A trace row of `process` that ran an hour: given `cpus` and `memoryGb`, using `cpuPercent` and `peakGb`. */
function task(
  process: string,
  fields: {
    cpus: number;
    memoryGb: number;
    cpuPercent: number;
    peakGb: number;
    status?: string;
    exit?: number;
  },
): TraceTask {
  return {
    ...emptyTask(),
    process,
    status: fields.status ?? 'COMPLETED',
    exit: fields.exit ?? 0,
    cpus: fields.cpus,
    memory: fields.memoryGb * GIB,
    realtime: 3_600_000,
    cpu_percent: fields.cpuPercent,
    peak_rss: fields.peakGb * GIB,
  };
}

function runOf(tasks: TraceTask[], overrides: Partial<Run> = {}): Run {
  return storedRunRecord({ status: 'completed', metrics: computeMetrics(tasks, PRICES, '1'), ...overrides });
}

const FASTQC = 'NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC';
const STAR = 'NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN';

describe('right-sizing from past runs', () => {
  it('recommends memory and cpus where tasks were given far more than they used, with evidence and the saving', () => {
    const runs = [1, 2].map(() =>
      runOf([
        task(FASTQC, { cpus: 6, memoryGb: 36, cpuPercent: 180, peakGb: 0.5 }),
        task(FASTQC, { cpus: 6, memoryGb: 36, cpuPercent: 150, peakGb: 0.3 }),
        // Uses most of what it is given: nothing to say.
        task(STAR, { cpus: 12, memoryGb: 36, cpuPercent: 1100, peakGb: 31 }),
      ]),
    );
    const advice = recommend(runs, target, PRICES);
    expect(advice.version).toBe('4.0.0');
    expect(advice.runs_read).toBe(2);
    expect(advice.recommendations.map((r) => [r.selector, r.kind, r.current, r.recommended])).toEqual([
      ['FASTQC', 'memory', '36 GB', '1.GB'],
      ['FASTQC', 'cpus', '6 cpus', '3'],
    ]);
    const [memory, cpus] = advice.recommendations;
    // 35 GiB less × 2 task-hours a run × $0.001; 3 cpus less × 2 hours × $0.01.
    expect(memory!.saving_usd_per_run).toBe(0.07);
    expect(cpus!.saving_usd_per_run).toBe(0.06);
    expect(memory!.evidence).toBe(
      'its tasks were given 36 GB and used at most 512 MB (peak RSS) over 4 tasks in 2 runs; 1 GB leaves 25% above that',
    );
    expect(advice.config).toBe(
      "// Right-sizing from past runs (Arc Reactor)\nprocess {\n  withName: 'FASTQC' {\n    memory = 1.GB\n    cpus = 3\n  }\n}\n",
    );
    // The snippet is a config a launch accepts.
    expect(configProblems('config_content', advice.config)).toEqual([]);
  });

  it('doubles the memory of a process whose tasks were killed for memory, saying it costs more', () => {
    const runs = [
      runOf(
        [task(STAR, { cpus: 12, memoryGb: 36, cpuPercent: 1000, peakGb: 36, status: 'FAILED', exit: 137 })],
        {
          status: 'failed',
        },
      ),
      runOf([task(STAR, { cpus: 12, memoryGb: 36, cpuPercent: 1000, peakGb: 30 })]),
    ];
    const [kill] = recommend(runs, target, PRICES).recommendations;
    expect(kill).toMatchObject({
      selector: 'STAR_ALIGN',
      kind: 'memory_kills',
      current: '36 GB',
      recommended: '72.GB',
    });
    expect(kill!.saving_usd_per_run).toBeLessThan(0);
    expect(kill!.evidence).toMatch(
      /^1 task of it was killed for memory \(exit 137 or 140\) with 36 GB, over 2 runs; twice that is the usual next step$/,
    );

    // A later run that gave it 48 GB and had no kill shows what is enough.
    runs.push(runOf([task(STAR, { cpus: 12, memoryGb: 48, cpuPercent: 1000, peakGb: 40 })]));
    const [enough] = recommend(runs, target, PRICES).recommendations;
    expect(enough).toMatchObject({ kind: 'memory_kills', current: '36 GB', recommended: '48.GB' });
    expect(enough!.evidence).toContain('a run that gave it 48 GB had no kill');
  });

  it('says nothing about a process seen in one run, and reads every version when the target has too few runs', () => {
    const one = [runOf([task(FASTQC, { cpus: 1, memoryGb: 36, cpuPercent: 100, peakGb: 0.5 })])];
    expect(recommend(one, target, PRICES).recommendations).toEqual([]);
    const older = [1, 2].map(() =>
      runOf([task(FASTQC, { cpus: 1, memoryGb: 36, cpuPercent: 100, peakGb: 0.5 })], {
        pipeline_version: '3.0.0',
      }),
    );
    const advice = recommend([...one, ...older], target, PRICES);
    expect(advice.version).toBeNull();
    expect(advice.runs_read).toBe(3);
    expect(advice.recommendations.map((r) => r.kind)).toEqual(['memory']);
    expect(advice.basis).toContain('nf-core/scrnaseq (every version)');
  });

  it('reads nothing from metrics computed before right-sizing existed, and writes no config without advice', () => {
    const old = runOf([task(FASTQC, { cpus: 6, memoryGb: 36, cpuPercent: 100, peakGb: 0.5 })]);
    for (const p of old.metrics!.processes) delete p.requested_memory_bytes;
    expect(recommend([old, old], target, PRICES).recommendations).toEqual([]);
    expect(recommendationConfig([])).toBe('');
  });
});
