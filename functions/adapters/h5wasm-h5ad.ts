/**
 * h5ad with h5wasm (HDF5 compiled to WebAssembly): the writer and the reader, in anndata's
 * on-disk layout (encoding-type / encoding-version attributes; obs and var as `dataframe`
 * groups with `_index` and `column-order`; X as `csr_matrix`; uns as `dict`, its tables as
 * `dataframe`). h5wasm cannot
 * write HDF5 bool or enum types, so bool columns are written as int8 (anndata reads 0/1);
 * the reader also takes what anndata writes: CSR or dense X, categorical and bool columns.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import {
  type AnnData,
  type Column,
  type DataFrame,
  type Matrix,
  UnsTable,
  type UnsValue,
} from '../core/haystack/anndata';
import type { AnnDataFiles } from '../core/haystack/ports';

type H5Group = InstanceType<typeof h5wasm.Group>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;

function encode(
  target: { create_attribute: H5Group['create_attribute'] },
  type: string,
  version: string,
): void {
  target.create_attribute('encoding-type', type);
  target.create_attribute('encoding-version', version);
}

function writeStrings(group: H5Group, name: string, values: string[]): void {
  const dataset = group.create_dataset({ name, data: values.length ? values : [''], shape: [values.length] });
  encode(dataset, 'string-array', '0.2.0');
}

function writeColumn(group: H5Group, name: string, column: Column): void {
  if (column.kind === 'string') {
    writeStrings(group, name, column.values);
    return;
  }
  const data =
    column.kind === 'float'
      ? Float64Array.from(column.values)
      : column.kind === 'int'
        ? Int32Array.from(column.values)
        : Int8Array.from(column.values, (v) => (v ? 1 : 0));
  const dataset = group.create_dataset({ name, data });
  encode(dataset, 'array', '0.2.0');
}

function writeFrame(parent: H5Group, name: string, frame: DataFrame): void {
  const group = parent.create_group(name);
  encode(group, 'dataframe', '0.2.0');
  group.create_attribute('_index', '_index');
  const names = frame.columns.map(([n]) => n);
  if (names.length > 0) group.create_attribute('column-order', names);
  else group.create_attribute('column-order', new Float64Array(0));
  writeStrings(group, '_index', frame.index);
  for (const [columnName, column] of frame.columns) writeColumn(group, columnName, column);
}

function writeCsr(parent: H5Group, matrix: Matrix): void {
  const group = parent.create_group('X');
  encode(group, 'csr_matrix', '0.1.0');
  group.create_attribute('shape', BigInt64Array.from([BigInt(matrix.rows), BigInt(matrix.cols)]));
  let nnz = 0;
  for (const value of matrix.data) if (value !== 0) nnz++;
  const data = new Float32Array(nnz);
  const indices = new Int32Array(nnz);
  const indptr = new BigInt64Array(matrix.rows + 1);
  let k = 0;
  for (let r = 0; r < matrix.rows; r++) {
    for (let c = 0; c < matrix.cols; c++) {
      const value = matrix.data[r * matrix.cols + c]!;
      if (value !== 0) {
        data[k] = value;
        indices[k] = c;
        k++;
      }
    }
    indptr[r + 1] = BigInt(k);
  }
  group.create_dataset({ name: 'data', data });
  group.create_dataset({ name: 'indices', data: indices });
  group.create_dataset({ name: 'indptr', data: indptr });
}

function writeUns(parent: H5Group, name: string, value: UnsValue): void {
  if (typeof value === 'string') {
    encode(parent.create_dataset({ name, data: value }), 'string', '0.2.0');
  } else if (typeof value === 'number') {
    encode(
      parent.create_dataset({ name, data: new Float64Array([value]), shape: [] }),
      'numeric-scalar',
      '0.2.0',
    );
  } else if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') writeStrings(parent, name, value as string[]);
    else
      encode(parent.create_dataset({ name, data: Float64Array.from(value as number[]) }), 'array', '0.2.0');
  } else if (value instanceof UnsTable) {
    writeFrame(parent, name, value.frame);
  } else {
    const group = parent.create_group(name);
    encode(group, 'dict', '0.1.0');
    for (const [key, nested] of Object.entries(value)) writeUns(group, key, nested);
  }
}

const asStrings = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];

function attr(entity: H5Group | H5Dataset, name: string): unknown {
  return name in entity.attrs ? entity.attrs[name]!.json_value : undefined;
}

function readColumn(entity: H5Group | H5Dataset): Column {
  if (entity instanceof h5wasm.Group) {
    // anndata's categorical: integer codes into a categories array (-1: missing).
    if (attr(entity, 'encoding-type') !== 'categorical')
      throw new Error(`Unsupported column encoding ${String(attr(entity, 'encoding-type'))}.`);
    const categories = asStrings((entity.get('categories') as H5Dataset).json_value);
    const codes = Array.from((entity.get('codes') as H5Dataset).value as ArrayLike<number>);
    return { kind: 'string', values: codes.map((c) => (c >= 0 ? categories[c]! : '')) };
  }
  const metadata = entity.metadata as { type: number; enum_type?: unknown; size: number };
  const value = entity.value;
  if (Array.isArray(value) || typeof value === 'string') return { kind: 'string', values: asStrings(value) };
  const numbers = Array.from(value as ArrayLike<number | bigint>, Number);
  // HDF5 enums (h5py's bool) and int8 0/1 columns written as bools.
  if (metadata.enum_type) return { kind: 'bool', values: numbers.map((n) => n !== 0) };
  const dtype = String(entity.dtype);
  if (/[fd]/.test(dtype.replace(/[<>=|]/g, '')) && !/i|u/.test(dtype))
    return { kind: 'float', values: numbers };
  return { kind: 'int', values: numbers };
}

function readFrame(group: H5Group): DataFrame {
  const indexName = String(attr(group, '_index') ?? '_index');
  const index = asStrings((group.get(indexName) as H5Dataset).json_value);
  const order = asStrings(attr(group, 'column-order'));
  return {
    index,
    columns: order.map(
      (name) => [name, readColumn(group.get(name) as H5Group | H5Dataset)] as [string, Column],
    ),
  };
}

function readMatrix(entity: H5Group | H5Dataset, rows: number, cols: number): Matrix {
  const out: Matrix = { rows, cols, data: new Float32Array(rows * cols) };
  if (entity instanceof h5wasm.Dataset) {
    out.data.set(Array.from(entity.value as ArrayLike<number>, Number));
    return out;
  }
  const type = attr(entity, 'encoding-type');
  const data = Array.from((entity.get('data') as H5Dataset).value as ArrayLike<number>, Number);
  const indices = Array.from(
    (entity.get('indices') as H5Dataset).value as ArrayLike<number | bigint>,
    Number,
  );
  const indptr = Array.from((entity.get('indptr') as H5Dataset).value as ArrayLike<number | bigint>, Number);
  const major = type === 'csr_matrix' ? rows : cols;
  for (let m = 0; m < major; m++) {
    for (let k = indptr[m]!; k < indptr[m + 1]!; k++) {
      const [r, c] = type === 'csr_matrix' ? [m, indices[k]!] : [indices[k]!, m];
      out.data[r * cols + c] = data[k]!;
    }
  }
  return out;
}

function readUns(entity: H5Group | H5Dataset): UnsValue {
  if (entity instanceof h5wasm.Group && attr(entity, 'encoding-type') === 'dataframe')
    return new UnsTable(readFrame(entity));
  if (entity instanceof h5wasm.Group) {
    const out: Record<string, UnsValue> = {};
    for (const key of entity.keys()) out[key] = readUns(entity.get(key) as H5Group | H5Dataset);
    return out;
  }
  const value = entity.json_value;
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (Array.isArray(value))
    return value.every((v) => typeof v === 'string') ? (value as string[]) : (value as unknown[]).map(Number);
  return String(value);
}

/**
 * HDF5 stamps every object header with the time it was written (h5wasm's HDF5 reads the clock
 * through Date.now). Writing under a fixed clock makes the same content give the same bytes,
 * so a seed reproduces a file exactly. The write is synchronous, so nothing else sees it.
 */
export const H5AD_TIMESTAMP_MS = Date.UTC(2026, 0, 1);

function atFixedTime<T>(write: () => T): T {
  const real = Date.now;
  Date.now = () => H5AD_TIMESTAMP_MS;
  try {
    return write();
  } finally {
    Date.now = real;
  }
}

export class H5wasmAnnDataFiles implements AnnDataFiles {
  private ready = h5wasm.ready;

  async write(path: string, adata: AnnData): Promise<void> {
    await this.ready;
    atFixedTime(() => this.writeNow(path, adata));
  }

  private writeNow(path: string, adata: AnnData): void {
    const file = new h5wasm.File(path, 'w');
    try {
      encode(file, 'anndata', '0.1.0');
      writeCsr(file, adata.X);
      writeFrame(file, 'obs', adata.obs);
      writeFrame(file, 'var', adata.var);
      const uns = file.create_group('uns');
      encode(uns, 'dict', '0.1.0');
      for (const [key, value] of Object.entries(adata.uns)) writeUns(uns, key, value);
      for (const name of ['obsm', 'varm', 'obsp', 'varp', 'layers'])
        encode(file.create_group(name), 'dict', '0.1.0');
    } finally {
      file.close();
    }
  }

  async encode(adata: AnnData): Promise<Uint8Array> {
    return this.inTempDir(async (path) => {
      await this.write(path, adata);
      return readFile(path);
    });
  }

  async decode(bytes: Uint8Array): Promise<AnnData> {
    return this.inTempDir(async (path) => {
      await writeFile(path, bytes);
      return this.read(path);
    });
  }

  /** HDF5 reads and writes files: bytes pass through one in a directory of their own, removed after. */
  private async inTempDir<T>(work: (path: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'h5ad-'));
    try {
      return await work(join(dir, 'data.h5ad'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async read(path: string): Promise<AnnData> {
    await this.ready;
    const file = new h5wasm.File(path, 'r');
    try {
      const obs = readFrame(file.get('obs') as H5Group);
      const vars = readFrame(file.get('var') as H5Group);
      const X = readMatrix(file.get('X') as H5Group | H5Dataset, obs.index.length, vars.index.length);
      const unsGroup = file.get('uns') as H5Group | null;
      const uns = unsGroup ? (readUns(unsGroup) as Record<string, UnsValue>) : {};
      return { obs, var: vars, X, uns };
    } finally {
      file.close();
    }
  }
}
