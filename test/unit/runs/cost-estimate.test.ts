import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../../functions/core/nextflow/metrics';
import { getPipeline } from '../../../functions/core/nextflow/pipelines/registry';
import {
  estimateCost,
  fitLine,
  type HistoryRun,
  historyRun,
  MIN_HISTORY_RUNS,
  percentile,
} from '../../../functions/core/runs/cost-estimate';
import { estimateRange } from '../../../functions/core/runs/estimate-words';
import { PROCESSES } from '../../../orchestrator/src/replay/recording';
import { storedRunRecord } from '../../helpers/runs';

const prices = { vcpu_hour: 0.01, gb_hour: 0.001 };
const target = { pipeline: 'nf-core/scrnaseq', version: '4.0.0', samples: 10, input_bytes: null };

/** A run whose CPU-hours and memory are `rate` and 6 × `rate` per sample. */
const past = (id: string, samples: number, rate: number, extra: Partial<HistoryRun> = {}): HistoryRun => ({
  run_id: id,
  pipeline_version: '4.0.0',
  sample_count: samples,
  input_bytes: null,
  cpu_hours: samples * rate,
  memory_gib_hours: samples * rate * 6,
  ...extra,
});

describe('the cost estimate before launch', () => {
  it('takes percentiles as numpy does (linear between ranks)', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(percentile([10, 20, 30, 40, 50], 0.1)).toBeCloseTo(14, 12);
    expect(percentile([7], 0.9)).toBe(7);
  });

  it("scales the lab's per-sample rates when its runs are all one size, and says its basis", () => {
    const history = [past('a', 4, 5), past('b', 4, 6), past('c', 4, 7)];
    const small = estimateCost(history, { ...target, samples: 10 }, prices, null);
    const large = estimateCost(history, { ...target, samples: 40 }, prices, null);
    expect(small).toMatchObject({ source: 'history', scaled_by: 'samples', runs: 3 });
    // Per-sample CPU-hours 5, 6, 7: p10 5.2, median 6, p90 6.8, times 10 samples.
    expect(small.cpu_hours).toEqual({ low: 52, median: 60, high: 68 });
    expect(large.cpu_hours).toEqual({ low: 208, median: 240, high: 272 });
    expect(small.memory_gib_hours!.median).toBe(360);
    // $0.01 × 60 + $0.001 × 360.
    expect(small.cost_usd!.median).toBeCloseTo(0.96, 10);
    expect(small.basis).toBe(
      "From 3 completed runs of nf-core/scrnaseq 4.0.0 in this deployment, 4–4 samples each: the 10th to 90th percentile of their CPU-hours and memory GiB-hours per sample, applied to this samplesheet's 10 samples, priced at $0.01/vCPU-hour and $0.001/GiB-hour (Spot). Recoveries, which take tasks from cache, are not counted.",
    );
  });

  it('fits a part each run pays once and a part per sample when the runs differ in size', () => {
    // 10 CPU-hours once (a genome index) and 5 a sample; memory 6× that.
    const history = [1, 2, 4, 8].map((n) => ({
      ...past(`r${n}`, n, 0),
      cpu_hours: 10 + 5 * n,
      memory_gib_hours: 6 * (10 + 5 * n),
    }));
    const estimate = estimateCost(history, { ...target, samples: 20 }, prices, null);
    // On the line exactly: every run fell on it, so the range is the line's value.
    expect(estimate.cpu_hours).toEqual({ low: 110, median: 110, high: 110 });
    expect(estimate.cost_usd).toEqual({ low: 1.76, median: 1.76, high: 1.76 });
    expect(estimate.basis).toContain(
      "a part each run pays once ($0.16) and a part per sample ($0.080), fitted to their costs by least squares and applied to this samplesheet's 20 samples; the range is the 10th to 90th percentile of how far each run fell from that fit",
    );
    // A rate per sample alone would have said 20 × 8.75 (the runs' median) = 175.
    expect(fitLine([1, 2, 4, 8], [15, 20, 30, 50])).toEqual({ fixed: 10, per: 5 });
    // More samples costing less cannot be fitted; a negative fixed part is none.
    expect(fitLine([1, 2], [5, 3])).toBeNull();
    expect(fitLine([1, 1], [5, 6])).toBeNull();
    expect(fitLine([1, 2, 3], [1, 4, 7])).toEqual({ fixed: 0, per: 30 / 14 });
  });

  it('scales by input bytes when the samplesheet and enough past runs know theirs', () => {
    const history = [1, 2, 3].map((n) => past(`r${n}`, n, 5, { input_bytes: n * 4e9 }));
    const estimate = estimateCost(history, { ...target, samples: 1, input_bytes: 20e9 }, prices, null);
    expect(estimate.scaled_by).toBe('input_gb');
    // 5 CPU-hours a sample of 4 GB: 1.25 a GB, × 20 GB.
    expect(estimate.cpu_hours!.median).toBe(25);
    expect(estimate.basis).toContain('per GB of input');
    expect(estimate.basis).toContain("applied to this samplesheet's 20 GB");
    const unsized = estimateCost(history, { ...target, samples: 1, input_bytes: null }, prices, null);
    expect(unsized.scaled_by).toBe('samples');
  });

  it('uses only the same version when it has enough runs, and says when it had to use others', () => {
    const others = [1, 2, 3].map((n) => past(`old${n}`, 4, 100, { pipeline_version: '2.7.1' }));
    const same = [1, 2, 3].map((n) => past(`new${n}`, 4, 5));
    expect(estimateCost([...others, ...same], target, prices, null).cpu_hours!.high).toBe(50);
    const mixed = estimateCost([...others, same[0]!], target, prices, null);
    expect(mixed.runs).toBe(4);
    expect(mixed.basis).toContain('nf-core/scrnaseq (2.7.1, 4.0.0)');
    expect(mixed.basis).toContain(`Fewer than ${MIN_HISTORY_RUNS} completed runs of 4.0.0`);
  });

  it("falls back to the pipeline's prior, labelled, and to no estimate without one", () => {
    const prior = getPipeline('nf-core/scrnaseq').costPrior!;
    const estimate = estimateCost([past('a', 2, 5)], { ...target, samples: 4 }, prices, prior);
    expect(estimate).toMatchObject({ source: 'prior', runs: 0, scaled_by: 'samples' });
    expect(estimate.cpu_hours!.low).toBeCloseTo(
      4 * prior.per_sample.cpu_hours[0] + prior.once.cpu_hours[0],
      1,
    );
    expect(estimate.basis).toMatch(
      /^A prior, not this lab's history \(1 completed run of nf-core\/scrnaseq in this deployment; an estimate from history needs 3\): modelled, not measured/,
    );
    // A prior has two ends only: its middle figure is called a midpoint, never a median of runs.
    expect(estimateRange(estimate)).toMatch(/^\$\d+\.\d\d–\$\d+\.\d\d \(midpoint \$/);
    expect(
      estimateRange(estimateCost([past('a', 4, 5), past('b', 4, 6), past('c', 4, 7)], target, prices, null)),
    ).toContain('(median $');
    const none = estimateCost([], { ...target, pipeline: 'nf-core/sarek' }, prices, null);
    expect(none).toMatchObject({ source: 'none', cpu_hours: null, cost_usd: null });
    expect(none.basis).toBe(
      'No estimate: 0 completed runs of nf-core/sarek in this deployment; an estimate from history needs 3, and the pipeline records no reference run to start from.',
    );
  });

  it('learns from completed full runs: not a recovery, not a run without metrics or samples', () => {
    const metrics = computeMetrics([], prices, '1');
    const done = storedRunRecord({
      status: 'completed',
      sample_count: 3,
      metrics: { ...metrics, cpu_hours: 9 },
    });
    expect(historyRun(done)).toMatchObject({ sample_count: 3, cpu_hours: 9 });
    // A first run Batch retried counts: its metrics cost every attempt once.
    expect(historyRun({ ...done, orchestrator_attempt: 2 })).not.toBeNull();
    expect(historyRun({ ...done, is_recovery: true, parent_run_id: 'run-aaaaaaaaaaaa' })).toBeNull();
    expect(historyRun({ ...done, metrics: null })).toBeNull();
    expect(historyRun({ ...done, status: 'failed' })).toBeNull();
    expect(historyRun({ ...done, sample_count: 0 })).toBeNull();
  });

  it("keeps scrnaseq's prior equal to the replay recording it says it comes from", () => {
    const prior = getPipeline('nf-core/scrnaseq').costPrior!;
    for (const [scope, hours] of [
      ['sample', prior.per_sample],
      ['once', prior.once],
    ] as const) {
      const models = PROCESSES.filter((p) => p.scope === scope);
      const sum = (f: (p: (typeof models)[number], i: 0 | 1) => number, i: 0 | 1) =>
        models.reduce((total, p) => total + f(p, i), 0) / 3600;
      for (const i of [0, 1] as const) {
        expect(hours.cpu_hours[i]).toBeCloseTo(
          sum((p, j) => p.cpus * p.realtime[j], i),
          2,
        );
        expect(hours.memory_gib_hours[i]).toBeCloseTo(
          sum((p, j) => p.memoryGb * p.realtime[j], i),
          2,
        );
      }
    }
    expect(getPipeline('nf-core/rnaseq').costPrior).toBeNull();
  });
});
