import { log1pCp10k, subsetCells } from '../../../functions/core/haystack/anndata';
import { generateDataset } from '../../../functions/core/haystack/atlas';
import { AtlasCatalog } from '../../../functions/core/haystack/catalog';
import { runHaystack } from '../../../functions/core/haystack/loop';
import { RuleBasedInterpreter } from '../../../functions/core/haystack/query';
import { predictMeanShift } from '../../../functions/core/haystack/standin';
import { differentialExpression } from '../../../functions/core/haystack/stats';
import { DATASETS } from '../../../functions/core/haystack/vocabulary';
import { type Backends, benchStack, median } from '../harness';

const QUESTION = 'How would lung fibroblasts respond to interferon gamma?';

/**
 * The platform's share of an iteration: on the local stack (agent as a Batch job, each model
 * call its own job, progress through Firestore), the time between one iteration's scores and
 * the next's, against the same iterations computed in one process (the agent's and the model's
 * own work).
 */
async function platformOverhead(backends: Backends): Promise<Record<string, number>> {
  const request = {
    query: QUESTION,
    control_strategy: 'synthetic_control' as const,
    max_iterations: 4,
    score_threshold: 10,
    seed: 0,
  };
  const catalog = new AtlasCatalog(Object.fromEntries(DATASETS.map((d) => [d, generateDataset(d, 0)])));
  const stamps: number[] = [];
  let last = performance.now();
  await runHaystack(
    {
      interpreter: new RuleBasedInterpreter(),
      catalog,
      model: {
        name: 'stack-standin',
        predict: async ({ prompt, query, seed }) => ({
          ...query,
          X: predictMeanShift(prompt.X, query.X, seed),
        }),
      },
      progress: {
        understood: async () => {},
        phase: async () => {},
        iteration: async () => {
          const now = performance.now();
          stamps.push(now - last);
          last = now;
        },
        cancelled: async () => false,
      },
    },
    request,
  );
  const inProcess = median(stamps.slice(1));
  const stack = await benchStack(backends, 'haystack');
  try {
    const response = await fetch(`${stack.url}/api/v1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: QUESTION, max_iterations: request.max_iterations, score_threshold: 10 }),
    });
    if (response.status !== 201)
      throw new Error(`POST /api/v1/runs answered ${response.status}: ${await response.text()}`);
    const created = (await response.json()) as { run_id: string };
    const seen: number[] = [];
    // 4 reads a second: under the API's 300 a minute.
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const reply = await fetch(`${stack.url}/api/v1/runs/${created.run_id}`);
      if (!reply.ok) continue;
      const run = (await reply.json()) as { status: string; grounding_scores: unknown[] };
      while (seen.length < run.grounding_scores.length) seen.push(performance.now());
      if (['completed', 'failed', 'cancelled'].includes(run.status)) break;
    }
    const walls = seen.slice(1).map((t, i) => t - seen[i]!);
    const wall = median(walls);
    return {
      iterations: seen.length,
      wall_ms: wall,
      in_process_ms: inProcess,
      platform_share: (wall - inProcess) / wall,
    };
  } finally {
    await stack.stop();
  }
}

/**
 * HAYSTACK's science: the synthetic atlas' generation, DE throughput (genes × cells tested per
 * second: rank-sum per gene, BH) and the stand-in's time per 1,000 query cells.
 */
export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log('\n== haystack: atlas, DE throughput, the stand-in per 1,000 query cells');
  const timed = <T>(fn: () => T): [T, number] => {
    const start = performance.now();
    const value = fn();
    return [value, performance.now() - start];
  };
  const [parse, atlasMs] = timed(() => generateDataset('parse_pbmc', 1));
  const catalog = new AtlasCatalog({ parse_pbmc: parse });
  const prompt = subsetCells(
    parse,
    catalog.cells('parse_pbmc', { cell_type: 'CD14-positive monocyte', condition: 'IFN-gamma' }),
  );
  // 1,000 query cells: the PBS cells, repeated.
  const pbs = catalog.cells('parse_pbmc', { condition: 'PBS' });
  const query = subsetCells(
    parse,
    Array.from({ length: 1_000 }, (_, i) => pbs[i % pbs.length]!),
  );
  const standin: number[] = [];
  let prediction = query.X;
  for (let i = 0; i < 5; i++) {
    const [out, ms] = timed(() => predictMeanShift(prompt.X, query.X, i));
    prediction = out;
    standin.push(ms);
  }
  const a = log1pCp10k(prediction);
  const b = log1pCp10k(query.X);
  const de: number[] = [];
  for (let i = 0; i < 5; i++) de.push(timed(() => differentialExpression(a, b, query.var.index))[1]);
  const deMs = median(de);
  const tested = query.var.index.length * (a.rows + b.rows);
  const perSecond = tested / (deMs / 1000);
  console.log(
    `atlas parse_pbmc: ${parse.X.rows} cells × ${parse.X.cols} genes in ${atlasMs.toFixed(0)} ms; stand-in: ${median(standin).toFixed(1)} ms per 1,000 query cells; DE (${query.var.index.length} genes, ${a.rows} vs ${b.rows} cells): ${deMs.toFixed(1)} ms, ${(perSecond / 1e6).toFixed(2)} M gene×cells per second`,
  );
  const overhead = await platformOverhead(backends);
  console.log(
    `an iteration on the platform: median ${overhead.wall_ms!.toFixed(0)} ms between scores (${overhead.iterations} iterations) vs ${overhead.in_process_ms!.toFixed(0)} ms in one process: the platform's share ${(100 * overhead.platform_share!).toFixed(0)}% (two model jobs an iteration, run at once: h5ad to the bucket, a Batch job each (the twin's queued and scheduled states), the program's start, polling every 200 ms)`,
  );
  return {
    platform_overhead_per_iteration: overhead,
    atlas_parse_pbmc: { cells: parse.X.rows, genes: parse.X.cols, ms: atlasMs },
    standin_ms_per_1000_query_cells: median(standin),
    de: { genes: query.var.index.length, cells: a.rows + b.rows, ms: deMs, gene_cells_per_second: perSecond },
  };
}
