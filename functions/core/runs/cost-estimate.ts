/**
 * What a run will cost, before it is launched: from the lab's completed runs of the same
 * pipeline (the deployment is the lab), scaled to the new samplesheet by its sample count or,
 * when both sides know it, by its input bytes: a part each run pays once and a part per sample
 * (or GB), fitted by least squares when the runs differ in size, else their rates per sample.
 * The answer is a range (10th to 90th percentile of how far the past runs fell from the fit)
 * with its basis in words; with too little history, the pipeline's documented prior (labelled
 * as such), or no estimate at all, said plainly.
 */
import { z } from 'zod';
import type { SpotPrices } from '../nextflow/metrics';
import { type CostPrior, getPipeline } from '../nextflow/pipelines/registry';
import type { RunStore } from './ports';
import type { Run } from './run-model';

/** Fewer completed runs than this and the history is not used: three is the least a spread means anything for. */
export const MIN_HISTORY_RUNS = 3;
/** The newest completed runs read for an estimate. */
export const HISTORY_LIMIT = 200;

const GB = 1e9;

/** A completed run as the estimate reads it: a full run, not a recovery. */
export interface HistoryRun {
  run_id: string;
  pipeline_version: string;
  sample_count: number;
  /** Bytes of the samplesheet's input files, when every one was a gs:// object with a size. */
  input_bytes: number | null;
  cpu_hours: number;
  memory_gib_hours: number;
}

const Range = z.object({ low: z.number(), median: z.number(), high: z.number() });

export const CostEstimate = z.object({
  source: z
    .enum(['history', 'prior', 'none'])
    .describe(
      "history: the lab's completed runs; prior: the pipeline's documented reference; none: no basis",
    ),
  scaled_by: z.enum(['samples', 'input_gb']).nullable(),
  samples: z.number().int(),
  input_bytes: z.number().nullable(),
  runs: z.number().int().describe('completed runs the estimate is made from (0 for a prior)'),
  cpu_hours: Range.nullable(),
  memory_gib_hours: Range.nullable(),
  cost_usd: Range.nullable(),
  prices: z.object({ vcpu_hour: z.number(), gb_hour: z.number() }),
  basis: z.string().describe('where the figures come from, in words'),
});
export type CostEstimate = z.infer<typeof CostEstimate>;

/** numpy's default percentile: linear between the closest ranks. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * p;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The 10th, 50th and 90th percentile of `values`, times `scale`. */
function spread(values: number[], scale: number, digits: number) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    low: round(percentile(sorted, 0.1) * scale, digits),
    median: round(percentile(sorted, 0.5) * scale, digits),
    high: round(percentile(sorted, 0.9) * scale, digits),
  };
}

/**
 * y = fixed + per · x by least squares: a part every run pays once (the genome index) and a part
 * per sample (or GB). Null when it cannot be fitted: fewer than two sizes, or more samples
 * costing less. A negative fixed part is taken as none (the line through the origin).
 */
export function fitLine(xs: number[], ys: number[]): { fixed: number; per: number } | null {
  const n = xs.length;
  if (new Set(xs).size < 2) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const per = sxy / sxx;
  if (!(per > 0)) return null;
  const fixed = my - per * mx;
  if (fixed >= 0) return { fixed, per };
  const through = xs.reduce((a, x, i) => a + x * ys[i]!, 0) / xs.reduce((a, x) => a + x * x, 0);
  return { fixed: 0, per: through };
}

/**
 * The range at `x`: the fitted line there, times the 10th, 50th and 90th percentile of how far
 * each past run fell from the line (its actual ÷ fitted); without a line, the past runs' rates
 * per unit, times `x`.
 */
function fittedSpread(xs: number[], ys: number[], x: number, digits: number) {
  const line = fitLine(xs, ys);
  if (!line)
    return spread(
      ys.map((y, i) => y / xs[i]!),
      x,
      digits,
    );
  const at = (v: number) => line.fixed + line.per * v;
  return spread(
    ys.map((y, i) => y / at(xs[i]!)),
    at(x),
    digits,
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const gb = (bytes: number) => `${round(bytes / GB, 1)} GB`;

export interface EstimateTarget {
  pipeline: string;
  version: string;
  samples: number;
  input_bytes: number | null;
}

/**
 * The estimate for `target` from `history` (completed full runs of its pipeline, any version):
 * the same version's runs when there are enough of them, else every version's; per GB of input
 * when the target and enough of those runs know their input bytes, else per sample.
 */
export function estimateCost(
  history: HistoryRun[],
  target: EstimateTarget,
  prices: SpotPrices,
  prior: CostPrior | null,
): CostEstimate {
  const base = {
    samples: target.samples,
    input_bytes: target.input_bytes,
    prices: { vcpu_hour: prices.vcpu_hour, gb_hour: prices.gb_hour },
  };
  const usable = history.filter((r) => r.sample_count > 0);
  const sameVersion = usable.filter((r) => r.pipeline_version === target.version);
  const runs = sameVersion.length >= MIN_HISTORY_RUNS ? sameVersion : usable;
  if (runs.length >= MIN_HISTORY_RUNS) {
    const sized = runs.filter((r) => (r.input_bytes ?? 0) > 0);
    const byBytes = (target.input_bytes ?? 0) > 0 && sized.length >= MIN_HISTORY_RUNS;
    const basisRuns = byBytes ? sized : runs;
    const unit = (r: HistoryRun) => (byBytes ? r.input_bytes! / GB : r.sample_count);
    const scale = byBytes ? target.input_bytes! / GB : target.samples;
    const cost = (r: HistoryRun) => r.cpu_hours * prices.vcpu_hour + r.memory_gib_hours * prices.gb_hour;
    const sizes = basisRuns.map((r) => r.sample_count).sort((a, b) => a - b);
    const versions = [...new Set(basisRuns.map((r) => r.pipeline_version))].sort();
    const which =
      versions.length === 1
        ? `${target.pipeline} ${versions[0]}`
        : `${target.pipeline} (${versions.join(', ')})`;
    const xs = basisRuns.map(unit);
    const costs = basisRuns.map(cost);
    const line = fitLine(xs, costs);
    const unitName = byBytes ? 'GB of input' : 'sample';
    const applied = byBytes
      ? `this samplesheet's ${gb(target.input_bytes!)}`
      : `this samplesheet's ${plural(target.samples, 'sample')}`;
    const how = line
      ? `a part each run pays once ($${line.fixed.toFixed(2)}) and a part per ${unitName} ($${line.per.toFixed(3)}), fitted to their costs by least squares and applied to ${applied}; the range is the 10th to 90th percentile of how far each run fell from that fit`
      : `the 10th to 90th percentile of their CPU-hours and memory GiB-hours per ${unitName}, applied to ${applied}`;
    return {
      ...base,
      source: 'history',
      scaled_by: byBytes ? 'input_gb' : 'samples',
      runs: basisRuns.length,
      cpu_hours: fittedSpread(
        xs,
        basisRuns.map((r) => r.cpu_hours),
        scale,
        1,
      ),
      memory_gib_hours: fittedSpread(
        xs,
        basisRuns.map((r) => r.memory_gib_hours),
        scale,
        1,
      ),
      cost_usd: fittedSpread(xs, costs, scale, 2),
      basis: `From ${plural(basisRuns.length, 'completed run')} of ${which} in this deployment, ${sizes[0]}–${sizes.at(-1)} samples each: ${how}, priced at $${prices.vcpu_hour}/vCPU-hour and $${prices.gb_hour}/GiB-hour (Spot).${versions.length > 1 || !versions.includes(target.version) ? ` Fewer than ${MIN_HISTORY_RUNS} completed runs of ${target.version}, so other versions are counted too.` : ''} Recoveries, which take tasks from cache, are not counted.`,
    };
  }
  const few = `${plural(runs.length, 'completed run')} of ${target.pipeline} in this deployment; an estimate from history needs ${MIN_HISTORY_RUNS}`;
  if (prior) {
    const at = (perSample: number, once: number) => round(perSample * target.samples + once, 1);
    const cpu = {
      low: at(prior.per_sample.cpu_hours[0], prior.once.cpu_hours[0]),
      high: at(prior.per_sample.cpu_hours[1], prior.once.cpu_hours[1]),
    };
    const mem = {
      low: at(prior.per_sample.memory_gib_hours[0], prior.once.memory_gib_hours[0]),
      high: at(prior.per_sample.memory_gib_hours[1], prior.once.memory_gib_hours[1]),
    };
    const mid = (r: { low: number; high: number }, digits: number) => round((r.low + r.high) / 2, digits);
    const dollars = (c: number, m: number) => round(c * prices.vcpu_hour + m * prices.gb_hour, 2);
    return {
      ...base,
      source: 'prior',
      scaled_by: 'samples',
      runs: 0,
      cpu_hours: { low: cpu.low, median: mid(cpu, 1), high: cpu.high },
      memory_gib_hours: { low: mem.low, median: mid(mem, 1), high: mem.high },
      cost_usd: {
        low: dollars(cpu.low, mem.low),
        median: round((dollars(cpu.low, mem.low) + dollars(cpu.high, mem.high)) / 2, 2),
        high: dollars(cpu.high, mem.high),
      },
      basis: `A prior, not this lab's history (${few}): ${prior.basis} Scaled to ${plural(target.samples, 'sample')}, priced at $${prices.vcpu_hour}/vCPU-hour and $${prices.gb_hour}/GiB-hour (Spot).`,
    };
  }
  return {
    ...base,
    source: 'none',
    scaled_by: null,
    runs: runs.length,
    cpu_hours: null,
    memory_gib_hours: null,
    cost_usd: null,
    basis: `No estimate: ${few}, and the pipeline records no reference run to start from.`,
  };
}

/**
 * A completed run as history, or null when it cannot serve: no metrics, no samples, or a
 * recovery (its cost leaves out what it took from its parent's cache). A first run that Batch
 * retried serves: its metrics cost every attempt's work once.
 */
export function historyRun(run: Run): HistoryRun | null {
  const metrics = run.metrics;
  if (run.status !== 'completed' || !metrics || run.sample_count <= 0 || run.is_recovery) return null;
  return {
    run_id: run.run_id,
    pipeline_version: run.pipeline_version,
    sample_count: run.sample_count,
    input_bytes: run.input_bytes,
    cpu_hours: metrics.cpu_hours,
    memory_gib_hours: metrics.memory_gib_hours,
  };
}

/**
 * The estimate of a launch or preview: the newest HISTORY_LIMIT completed runs of its pipeline
 * in the deployment, whoever launched them (only their rates are used, never their names or
 * samples).
 */
export async function estimateLaunch(
  deps: { runs: Pick<RunStore, 'list'>; prices: SpotPrices },
  inputs: { pipeline: string; version: string; sampleCount: number },
  inputBytes: number | null,
): Promise<CostEstimate> {
  const page = await deps.runs.list(
    { status: 'completed', pipeline: inputs.pipeline },
    { page: 1, page_size: HISTORY_LIMIT },
  );
  const history = page.runs.map(historyRun).filter((r): r is HistoryRun => r !== null);
  return estimateCost(
    history,
    {
      pipeline: inputs.pipeline,
      version: inputs.version,
      samples: inputs.sampleCount,
      input_bytes: inputBytes,
    },
    deps.prices,
    getPipeline(inputs.pipeline).costPrior,
  );
}

/**
 * Why a launch with `budget` is refused before it starts: the estimate's low end is already
 * over it. Null when there is no budget, no estimate, or the budget covers the low end.
 */
export function budgetBelowEstimate(budget: number | null, estimate: CostEstimate): string | null {
  const low = estimate.cost_usd?.low;
  if (budget === null || low === undefined || low <= budget) return null;
  return `The estimate's low end, $${low.toFixed(2)}, is already over the budget of $${budget.toFixed(2)}: raise budget_usd, or launch fewer samples. ${estimate.basis}`;
}
