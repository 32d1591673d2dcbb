/**
 * The runs bucket's layout (ARCHITECTURE §4), defined once: every writer and reader of either
 * kind of run — the functions, the orchestrator, the HAYSTACK agent, the scripts — names the
 * objects it touches through here. Free of any library, so every bundle can carry it.
 *
 *   runs/{run}/request/samplesheet.csv                  the samplesheet as the user sent it
 *   runs/{run}/inputs/samplesheet.csv | params.yaml | nextflow.config
 *   runs/{run}/logs/nextflow.log | trace.txt | timeline.html | report.html | exit.json
 *   runs/{run}/logs/live/trace.{attempt}-{seq}.tsv | nextflow.{attempt}-{seq}.log
 *   runs/{run}/index/tasks/{trace}.idx                  each trace's task index (and rollups)
 *   runs/{run}/results/…
 *   work/{root}/…   cache/{root}/…                      a recovery chain's Nextflow work and cache
 *   haystack/{run}/inference/{label}-prompt|query|pred.h5ad
 *   haystack/{run}/results/{run}_predictions.h5ad | _report.html | _log.json
 */
import { RUN_ID } from './ids';

/** Where a Nextflow run's objects are (`rootRunId`: the first run of its recovery chain). */
export function runPaths(bucket: string, runId: string, rootRunId = runId) {
  const prefix = `runs/${runId}`;
  const logs = `${prefix}/logs/`;
  return {
    /** runs/{run}, without a trailing slash. */
    prefix,
    gcsPath: `gs://${bucket}/${prefix}`,
    /** The samplesheet as the user sent it; prepare renders inputs/samplesheet.csv from it. */
    requestSamplesheet: `${prefix}/request/samplesheet.csv`,
    samplesheet: `${prefix}/inputs/samplesheet.csv`,
    params: `${prefix}/inputs/params.yaml`,
    config: `${prefix}/inputs/nextflow.config`,
    logs,
    finalLog: `${logs}nextflow.log`,
    finalTrace: `${logs}trace.txt`,
    exitReport: `${logs}exit.json`,
    /** Live chunks of the trace and the log, each name followed by `{attempt}-{seq}.tsv|log`. */
    liveTraceChunks: `${logs}live/trace.`,
    liveLogChunks: `${logs}live/nextflow.`,
    taskIndexes: `${prefix}/index/tasks/`,
    results: `${prefix}/results/`,
    workDir: `work/${rootRunId}/`,
    cacheDir: `cache/${rootRunId}/`,
  };
}

/** A run's objects relative to `runs/{run}/`: the groups a user may download from, and the live chunks (never listed). */
export const RUN_FILE_GROUPS = {
  inputs: ['inputs/', 'request/'],
  results: ['results/'],
  logs: ['logs/'],
} as const;
export const LIVE_CHUNKS_DIR = 'logs/live/';

/** Live chunks: `trace.02-000001.tsv` (attempt 2, chunk 1), or `trace.000001.tsv` (before attempts were named: attempt 1). */
export const LIVE_TRACE_CHUNK = new RegExp(
  `^runs/(${RUN_ID})/logs/live/trace\\.(?:(\\d{2})-)?(\\d{6})\\.tsv$`,
);
export const LIVE_LOG_CHUNK = new RegExp(
  `^runs/(${RUN_ID})/logs/live/nextflow\\.(?:(\\d{2})-)?(\\d{6})\\.log$`,
);
export const FINAL_TRACE = new RegExp(`^runs/(${RUN_ID})/logs/trace\\.txt$`);
export const EXIT_REPORT = new RegExp(`^runs/(${RUN_ID})/logs/exit\\.json$`);

/** A chunk's name under logs/ for an attempt: they sort by attempt, then in upload order. */
export function liveChunkName(kind: 'trace' | 'nextflow', attempt: number, seq: number): string {
  const a = String(attempt).padStart(2, '0');
  return `live/${kind}.${a}-${String(seq).padStart(6, '0')}.${kind === 'trace' ? 'tsv' : 'log'}`;
}

/** Where the index of a trace object is kept: runs/{run}/index/tasks/{trace file}.idx. */
export function taskIndexName(traceName: string): string {
  const run = traceName.slice(0, traceName.indexOf('/logs/'));
  return `${run}/index/tasks/${traceName.slice(traceName.lastIndexOf('/') + 1)}.idx`;
}

/** Where a HAYSTACK run's objects are: its model calls' files and its three outputs. */
export function haystackPaths(runId: string) {
  const prefix = `haystack/${runId}`;
  const results = `${prefix}/results/`;
  return {
    prefix,
    results,
    predictions: `${results}${runId}_predictions.h5ad`,
    report: `${results}${runId}_report.html`,
    log: `${results}${runId}_log.json`,
    /** One model call's h5ad: its prompt, its query, and the prediction the model writes. */
    inference: (label: string, file: 'prompt' | 'query' | 'pred') =>
      `${prefix}/inference/${label}-${file}.h5ad`,
  };
}
