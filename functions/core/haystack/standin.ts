/**
 * The STACK stand-in's predictor (`stack-standin`): per gene,
 * `log1p(pred) = log1p(query) + α·(mean log1p(prompt) − mean log1p(query))` on raw counts,
 * then counts drawn from a seeded Poisson — the mean-shift baseline Arc ships as
 * "PerturbMean". Not a foundation model; every output says `model: "stack-standin"`.
 */
import { emptyMatrix, type Matrix } from './anndata';
import { hashSeed, Rng } from './random';

export const STANDIN_MODEL = 'stack-standin';
export const STANDIN_ALPHA = 1;

function columnMeansLog1p(matrix: Matrix): Float64Array {
  const means = new Float64Array(matrix.cols);
  for (let r = 0; r < matrix.rows; r++)
    for (let c = 0; c < matrix.cols; c++) means[c]! += Math.log1p(matrix.data[r * matrix.cols + c]!);
  for (let c = 0; c < matrix.cols; c++) means[c]! /= Math.max(1, matrix.rows);
  return means;
}

/** Predicted counts for the query cells under the prompt's condition. */
export function predictMeanShift(prompt: Matrix, query: Matrix, seed: number, alpha = STANDIN_ALPHA): Matrix {
  if (prompt.cols !== query.cols)
    throw new Error(`The prompt has ${prompt.cols} genes and the query ${query.cols}.`);
  if (prompt.rows === 0) throw new Error('The prompt has no cells.');
  const shift = columnMeansLog1p(prompt);
  const base = columnMeansLog1p(query);
  const rng = new Rng(hashSeed('stack-standin', seed));
  const out = emptyMatrix(query.rows, query.cols);
  for (let r = 0; r < query.rows; r++) {
    for (let c = 0; c < query.cols; c++) {
      const rate = Math.expm1(Math.log1p(query.data[r * query.cols + c]!) + alpha * (shift[c]! - base[c]!));
      out.data[r * query.cols + c] = rng.poisson(Math.max(0, rate));
    }
  }
  return out;
}
