import { log1pCp10k, subsetCells } from '../../../functions/core/haystack/anndata';
import { generateDataset } from '../../../functions/core/haystack/atlas';
import { AtlasCatalog } from '../../../functions/core/haystack/catalog';
import { predictMeanShift } from '../../../functions/core/haystack/standin';
import { differentialExpression } from '../../../functions/core/haystack/stats';
import { type Backends, median } from '../harness';

/**
 * HAYSTACK's science: the synthetic atlas' generation, DE throughput (genes × cells tested per
 * second: rank-sum per gene, BH) and the stand-in's time per 1,000 query cells.
 */
export async function run(_backends: Backends): Promise<Record<string, unknown>> {
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
  return {
    atlas_parse_pbmc: { cells: parse.X.rows, genes: parse.X.cols, ms: atlasMs },
    standin_ms_per_1000_query_cells: median(standin),
    de: { genes: query.var.index.length, cells: a.rows + b.rows, ms: deMs, gene_cells_per_second: perSecond },
  };
}
