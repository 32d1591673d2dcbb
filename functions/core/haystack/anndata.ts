/**
 * AnnData as HAYSTACK holds it in memory: obs and var data frames, a dense cells × genes
 * matrix, and uns. The h5ad adapter (adapters/h5wasm-h5ad.ts) reads and writes it in the
 * layout anndata expects.
 */

/** A column: strings, or numbers (written as float64, or int8/int32 when `kind` says so). */
export type Column =
  | { kind: 'string'; values: string[] }
  | { kind: 'float'; values: number[] }
  | { kind: 'int'; values: number[] }
  /** anndata's bool column; written as int8 (h5wasm cannot write HDF5 bool), read from either. */
  | { kind: 'bool'; values: boolean[] };

export interface DataFrame {
  index: string[];
  /** In column order. */
  columns: [string, Column][];
}

export interface Matrix {
  rows: number;
  cols: number;
  /** Row-major. */
  data: Float32Array;
}

/** A table in uns (anndata reads it as a pandas DataFrame): a list of records, one a row. */
export class UnsTable {
  constructor(readonly frame: DataFrame) {}
}

export type UnsValue = string | number | string[] | number[] | UnsTable | { [key: string]: UnsValue };

export interface AnnData {
  obs: DataFrame;
  var: DataFrame;
  X: Matrix;
  uns: { [key: string]: UnsValue };
}

export function column(frame: DataFrame, name: string): Column {
  const found = frame.columns.find(([n]) => n === name);
  if (!found)
    throw new Error(`No column ${name}; the columns are ${frame.columns.map(([n]) => n).join(', ')}.`);
  return found[1];
}

export function stringColumn(frame: DataFrame, name: string): string[] {
  const c = column(frame, name);
  return c.kind === 'string' ? c.values : c.values.map(String);
}

export function emptyMatrix(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float32Array(rows * cols) };
}

/** The rows of `source` at `indices`, as a new matrix. */
export function selectRows(source: Matrix, indices: number[]): Matrix {
  const out = emptyMatrix(indices.length, source.cols);
  indices.forEach((row, i) => {
    out.data.set(source.data.subarray(row * source.cols, (row + 1) * source.cols), i * source.cols);
  });
  return out;
}

/** A subset of cells (obs rows), all genes. */
export function subsetCells(adata: AnnData, indices: number[]): AnnData {
  const pick = <T>(values: T[]) => indices.map((i) => values[i]!);
  return {
    obs: {
      index: pick(adata.obs.index),
      columns: adata.obs.columns.map(([name, c]) => [
        name,
        { kind: c.kind, values: pick(c.values as unknown[]) } as Column,
      ]),
    },
    var: adata.var,
    X: selectRows(adata.X, indices),
    uns: adata.uns,
  };
}

/** log1p of counts normalized to 10,000 per cell (scanpy's normalize_total + log1p). */
export function log1pCp10k(matrix: Matrix): Matrix {
  const out = emptyMatrix(matrix.rows, matrix.cols);
  for (let r = 0; r < matrix.rows; r++) {
    // A non-finite count stays NaN and leaves the cell's other genes scaled by the finite total.
    let total = 0;
    for (let c = 0; c < matrix.cols; c++) {
      const v = matrix.data[r * matrix.cols + c]!;
      if (Number.isFinite(v)) total += v;
    }
    const scale = total > 0 ? 10_000 / total : 0;
    for (let c = 0; c < matrix.cols; c++) {
      const v = matrix.data[r * matrix.cols + c]!;
      out.data[r * matrix.cols + c] = Number.isFinite(v) ? Math.log1p(v * scale) : Number.NaN;
    }
  }
  return out;
}
