import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../../functions/core/nextflow/metrics';
import { getPipeline } from '../../../functions/core/nextflow/pipelines/registry';
import {
  estimateCost,
  type HistoryRun,
  historyRun,
  MIN_HISTORY_RUNS,
  percentile,
} from '../../../functions/core/runs/cost-estimate';
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

  it("scales the lab's per-sample rates to the new samplesheet and says its basis", () => {
    const history = [past('a', 2, 4), past('b', 4, 5), past('c', 8, 6), past('d', 16, 7), past('e', 48, 8)];
    const small = estimateCost(history, { ...target, samples: 10 }, prices, null);
    const large = estimateCost(history, { ...target, samples: 40 }, prices, null);
    expect(small).toMatchObject({ source: 'history', scaled_by: 'samples', runs: 5 });
    // Per-sample CPU-hours 4..8: p10 4.4, median 6, p90 7.6, times 10 samples.
    expect(small.cpu_hours).toEqual({ low: 44, median: 60, high: 76 });
    expect(large.cpu_hours).toEqual({ low: 176, median: 240, high: 304 });
    expect(small.memory_gib_hours!.median).toBe(360);
    // $0.01 × 60 + $0.001 × 360.
    expect(small.cost_usd!.median).toBeCloseTo(0.96, 10);
    expect(large.cost_usd!.high).toBeGreaterThan(small.cost_usd!.high * 3.9);
    expect(small.basis).toBe(
      "From 5 completed runs of nf-core/scrnaseq 4.0.0 in this deployment, 2–48 samples each: the 10th to 90th percentile of their CPU-hours and memory GiB-hours per sample, applied to this samplesheet's 10 samples, priced at $0.01/vCPU-hour and $0.001/GiB-hour (Spot). Recoveries, which take tasks from cache, are not counted.",
    );
  });

  it('scales by input bytes when the samplesheet and enough past runs know theirs', () => {
    const history = [1, 2, 3].map((n) => past(`r${n}`, n, 5, { input_bytes: n * 4e9 }));
    const estimate = estimateCost(history, { ...target, samples: 1, input_bytes: 20e9 }, prices, null);
    expect(estimate.scaled_by).toBe('input_gb');
    // 5 CPU-hours a sample of 4 GB: 1.25 a GB, × 20 GB.
    expect(estimate.cpu_hours!.median).toBe(25);
    expect(estimate.basis).toContain("per GB of input, applied to this samplesheet's 20 GB");
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
