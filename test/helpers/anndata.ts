import { spawnSync } from 'node:child_process';

const PYTHON = '/usr/bin/python3';

/**
 * Opens an h5ad with anndata itself (Debian's python3-anndata) and answers what the script
 * prints as JSON. Fails, saying how to install it, when anndata is not there.
 */
export function anndataInspect(path: string): {
  n_obs: number;
  n_vars: number;
  obs: string[];
  var: string[];
  uns: string[];
  obs_dtypes: Record<string, string>;
  x_sum: number;
  /** uns's tables (pandas DataFrames): their row count and columns. */
  uns_frames: Record<string, { rows: number; columns: string[] }>;
  /** uns's dicts of strings, as anndata reads them. */
  uns_dicts: Record<string, Record<string, string>>;
} {
  const script = `
import json, sys, anndata, pandas
a = anndata.read_h5ad(sys.argv[1])
x = a.X.sum()
frames = {k: {"rows": len(v), "columns": list(v.columns)} for k, v in a.uns.items() if isinstance(v, pandas.DataFrame)}
dicts = {k: {kk: str(vv) for kk, vv in v.items()} for k, v in a.uns.items()
  if isinstance(v, dict) and all(isinstance(vv, str) for vv in v.values())}
print(json.dumps({"n_obs": a.n_obs, "n_vars": a.n_vars, "obs": list(a.obs.columns), "var": list(a.var.columns),
  "uns": sorted(a.uns.keys()), "obs_dtypes": {k: str(v) for k, v in a.obs.dtypes.items()}, "x_sum": float(x),
  "uns_frames": frames, "uns_dicts": dicts}))
`;
  const result = spawnSync(PYTHON, ['-c', script, path], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    if (/No module named 'anndata'/.test(result.stderr ?? '') || result.error) {
      throw new Error(
        `anndata is needed to check h5ad files: apt-get install -y python3-anndata (${PYTHON}). ${result.stderr ?? result.error?.message}`,
      );
    }
    throw new Error(`anndata could not read ${path}:\n${result.stderr}`);
  }
  return JSON.parse(result.stdout);
}
