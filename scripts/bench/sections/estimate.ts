/**
 * Issue 33's figure for the estimate before launch: replayed runs of 1 to 6 samples, each then
 * estimated from the others (leave one out), against the cost its final trace says it had;
 * and the first run's estimate, made from the pipeline's prior before there was history.
 */
import { estimateCost, type HistoryRun, historyRun } from '../../../functions/core/runs/cost-estimate';
import type { Run } from '../../../functions/core/runs/run-model';
import { waitForValue } from '../../lib/net';
import { EXAMPLE_FASTQS } from '../../local/warehouse';
import { type Backends, BENCH_RUN, benchStack, median, runToEnd } from '../harness';

const SIZES = [1, 2, 3, 4, 6];

/** `n` samples, all reading the demo FASTQs (the replay does not read them). */
const sheet = (n: number) =>
  `sample,fastq_1,fastq_2\n${Array.from({ length: n }, (_, i) => `S${i + 1},${EXAMPLE_FASTQS[0]},${EXAMPLE_FASTQS[1]}`).join('\n')}\n`;

export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log(
    `\n== estimate (local stack, replay executor): ${SIZES.length} runs of ${SIZES.join(', ')} samples`,
  );
  const stack = await benchStack(backends, 'estimate');
  try {
    const finished: Run[] = [];
    for (const n of SIZES) {
      const ended = await runToEnd(stack, '/api/runs', { ...BENCH_RUN, samplesheet_csv: sheet(n) });
      if (ended.status !== 'completed') throw new Error(`the ${n}-sample bench run ended ${ended.status}`);
      finished.push(
        await waitForValue(
          async () => {
            const run = (await (await fetch(`${stack.url}/api/runs/${ended.run_id}`)).json()) as Run;
            return run.metrics ? run : null;
          },
          { timeoutMs: 20_000, what: `the metrics of ${ended.run_id}` },
        ),
      );
    }
    const prices = stack.config.prices;
    const history = finished.map(historyRun).filter((r): r is HistoryRun => r !== null);
    const rows = finished.map((run, i) => {
      const others = history.filter((h) => h.run_id !== run.run_id);
      const estimate = estimateCost(
        others,
        {
          pipeline: run.pipeline,
          version: run.pipeline_version,
          samples: run.sample_count,
          input_bytes: null,
        },
        prices,
        null,
      );
      const actual = run.metrics!.cost.estimate;
      const cost = estimate.cost_usd!;
      return {
        samples: SIZES[i]!,
        actual,
        median: cost.median,
        error: Math.abs(cost.median - actual) / actual,
        within: actual >= cost.low && actual <= cost.high,
      };
    });
    for (const r of rows)
      console.log(
        `  ${r.samples} sample(s): actual $${r.actual.toFixed(3)}, leave-one-out median $${r.median.toFixed(3)} (error ${(r.error * 100).toFixed(0)}%, ${r.within ? 'within' : 'outside'} the 10th–90th range)`,
      );
    // The first run had no history: its stored estimate came from the pipeline's prior.
    const first = finished[0]!;
    const prior = first.cost_estimate;
    const priorError =
      prior?.cost_usd && first.metrics
        ? Math.abs(prior.cost_usd.median - first.metrics.cost.estimate) / first.metrics.cost.estimate
        : null;
    const medianError = median(rows.map((r) => r.error));
    const within = rows.filter((r) => r.within).length;
    console.log(
      `median leave-one-out error ${(medianError * 100).toFixed(0)}%; ${within} of ${rows.length} actual costs inside the range; ` +
        `first run's estimate (${prior?.source ?? 'none'}): error ${priorError === null ? 'n/a' : `${(priorError * 100).toFixed(0)}%`}`,
    );
    return {
      runs: rows.length,
      median_error: medianError,
      within_range: within,
      prior_source: prior?.source ?? null,
      prior_error: priorError,
      rows,
    };
  } finally {
    await stack.stop();
  }
}
