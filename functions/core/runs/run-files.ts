import { LIVE_CHUNKS_DIR, RUN_FILE_GROUPS, runPaths } from '../shared/bucket-layout';
import { ValidationError } from '../shared/errors';
import type { ObjectInfo, ObjectStore } from '../shared/ports';
import type { RunFile, RunFiles } from './views';

export type { RunFile, RunFiles };

const GROUPS = Object.entries(RUN_FILE_GROUPS) as [
  keyof Omit<RunFiles, 'live_chunks' | 'truncated'>,
  readonly string[],
][];
const DOWNLOADABLE = GROUPS.flatMap(([, prefixes]) => prefixes);
export const MAX_LISTED_FILES = 5_000;

/** runs/{run}/, the prefix every path of a run's files is relative to. */
const under = (runId: string) => `${runPaths('', runId).prefix}/`;

function file(runId: string, object: ObjectInfo): RunFile {
  const path = object.name.slice(under(runId).length);
  return {
    path,
    name: path.slice(path.lastIndexOf('/') + 1),
    size: object.size,
    updated: object.updated,
    content_type: object.contentType,
    download_url: `/api/runs/${runId}/download?path=${encodeURIComponent(path)}`,
  };
}

export async function listRunFiles(objects: ObjectStore, runId: string): Promise<RunFiles> {
  const { objects: listed, truncated } = await objects.list(under(runId), MAX_LISTED_FILES);
  const files: RunFiles = { inputs: [], results: [], logs: [], live_chunks: 0, truncated };
  for (const object of listed) {
    const relative = object.name.slice(under(runId).length);
    if (relative.startsWith(LIVE_CHUNKS_DIR)) {
      files.live_chunks++;
      continue;
    }
    const group = GROUPS.find(([, prefixes]) => prefixes.some((p) => relative.startsWith(p)));
    if (group) files[group[0]].push(file(runId, object));
  }
  return files;
}

/**
 * The object a user-supplied path names inside the run. The path must stay inside the run's
 * inputs, results or logs: no `..`, no absolute paths, no backslashes or encoded characters.
 */
export function runObjectName(runId: string, path: string): string {
  const problem = (message: string) =>
    new ValidationError(`path ${JSON.stringify(path.slice(0, 200))} ${message}`, [
      { field: 'path', rule: 'path', message },
    ]);
  if (path.length === 0 || path.length > 1024) throw problem('must be 1 to 1024 characters');
  if (/[\0\\%\r\n]/.test(path))
    throw problem('may not contain backslashes, percent signs or control characters');
  if (path.startsWith('/'))
    throw problem('must be relative to the run (e.g. results/multiqc/multiqc_report.html)');
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..'))
    throw problem('may not contain empty, "." or ".." segments');
  if (!DOWNLOADABLE.some((prefix) => path.startsWith(prefix)) || path.startsWith(LIVE_CHUNKS_DIR)) {
    throw problem('must be inside the run’s inputs/, request/, results/ or logs/');
  }
  return `${under(runId)}${path}`;
}
