/**
 * `stack-standin`: the STACK stand-in as its own program, with `stack-generation`'s job
 * contract — a prompt h5ad, a query h5ad, a gene list, a split column, steps and a seed in;
 * a predictions h5ad out (obs copied from the query, predicted counts in X,
 * `uns.model = "stack-standin"`). The prediction is the mean shift of HAYSTACK.md, seeded; it
 * is not STACK, and says so. Production runs STACK itself in its own GPU container.
 *
 *   stack-standin --prompt prompt.h5ad --query query.h5ad --output pred.h5ad
 *                 [--genelist genes.txt] [--split-column condition] [--steps 5] [--seed 0]
 *
 * Paths may be `gs://bucket/name` (as a Batch job is given them): read from and written to
 * Cloud Storage (STORAGE_EMULATOR_HOST locally).
 */

const GS = /^gs:\/\/([^/]+)\/(.+)$/;

/** A local path for `path`: itself, or a download of a gs:// object into `dir`. */
async function localCopy(path: string, dir: string, name: string): Promise<string> {
  const match = GS.exec(path);
  if (!match) return path;
  const local = join(dir, name);
  await new Storage().bucket(match[1]!).file(match[2]!).download({ destination: local });
  return local;
}

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Storage } from '@google-cloud/storage';
import { H5wasmAnnDataFiles } from '../../functions/adapters/h5wasm-h5ad';
import type { AnnData, Matrix } from '../../functions/core/haystack/anndata';
import { predictMeanShift, STANDIN_ALPHA, STANDIN_MODEL } from '../../functions/core/haystack/standin';

const USAGE =
  'usage: stack-standin --prompt FILE.h5ad --query FILE.h5ad --output FILE.h5ad [--genelist FILE] [--split-column NAME] [--steps N] [--seed N]';

/** The columns of `matrix` for `wanted` genes (by `from` order); a missing gene is an error naming it. */
function selectGenes(matrix: Matrix, from: string[], wanted: string[]): Matrix {
  const position = new Map(from.map((g, i) => [g, i]));
  const missing = wanted.filter((g) => !position.has(g));
  if (missing.length)
    throw new Error(
      `genes not in the data: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ' …' : ''}`,
    );
  const out: Matrix = {
    rows: matrix.rows,
    cols: wanted.length,
    data: new Float32Array(matrix.rows * wanted.length),
  };
  wanted.forEach((gene, j) => {
    const c = position.get(gene)!;
    for (let r = 0; r < matrix.rows; r++) out.data[r * wanted.length + j] = matrix.data[r * matrix.cols + c]!;
  });
  return out;
}

export async function runStandin(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      prompt: { type: 'string' },
      query: { type: 'string' },
      output: { type: 'string' },
      genelist: { type: 'string' },
      'split-column': { type: 'string', default: 'condition' },
      steps: { type: 'string', default: '5' },
      seed: { type: 'string', default: '0' },
    },
    strict: true,
  });
  if (!values.prompt || !values.query || !values.output) throw new Error(USAGE);
  const seed = Number(values.seed);
  const steps = Number(values.steps);
  if (!Number.isInteger(seed) || !Number.isInteger(steps) || steps < 1)
    throw new Error(`--seed and --steps must be integers (steps ≥ 1). ${USAGE}`);
  const files = new H5wasmAnnDataFiles();
  const work = await mkdtemp(join(tmpdir(), 'stack-standin-'));
  try {
    await predictFiles(
      files,
      work,
      values as Required<Pick<typeof values, 'prompt' | 'query' | 'output'>> & typeof values,
      seed,
      steps,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function predictFiles(
  files: H5wasmAnnDataFiles,
  work: string,
  values: { prompt: string; query: string; output: string; genelist?: string; 'split-column'?: string },
  seed: number,
  steps: number,
): Promise<void> {
  const [prompt, query] = await Promise.all([
    localCopy(values.prompt, work, 'prompt.h5ad').then((p) => files.read(p)),
    localCopy(values.query, work, 'query.h5ad').then((p) => files.read(p)),
  ]);
  const genes = values.genelist
    ? (await readFile(values.genelist, 'utf8')).split(/\s+/).filter(Boolean)
    : query.var.index;
  const predicted = predictMeanShift(
    selectGenes(prompt.X, prompt.var.index, genes),
    selectGenes(query.X, query.var.index, genes),
    seed,
  );
  const prediction: AnnData = {
    obs: query.obs,
    var: { index: genes, columns: [['gene_symbol', { kind: 'string', values: genes }]] },
    X: predicted,
    uns: {
      model: STANDIN_MODEL,
      note: 'A mean-shift stand-in for STACK (not the model): log1p(pred) = log1p(query) + alpha * (mean log1p(prompt) - mean log1p(query)), Poisson counts.',
      alpha: STANDIN_ALPHA,
      steps,
      seed,
      split_column: values['split-column']!,
      prompt_cells: prompt.obs.index.length,
      query_cells: query.obs.index.length,
    },
  };
  const target = GS.exec(values.output);
  const local = target ? join(work, 'pred.h5ad') : values.output;
  await files.write(local, prediction);
  if (target)
    await new Storage()
      .bucket(target[1]!)
      .upload(local, { destination: target[2]!, contentType: 'application/x-hdf5' });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  runStandin(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`stack-standin: ${(error as Error).message}`);
    process.exit(2);
  });
}
