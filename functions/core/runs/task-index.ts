/**
 * A compact index of a trace's rows, written once beside the run when a trace chunk (or the
 * final trace.txt) is ingested: for each row its task id, status and process, and where its
 * line sits in the trace (bytes). A task page sorted by task id is then chosen from the
 * indexes alone and only its own rows are read, by range, from the traces: the first page of
 * a 100,000-task run no longer reads and parses every row (issue 22).
 */
import { type ParsedTrace, parseTrace, type TraceTask } from '../nextflow/trace';
import { LIVE_TRACE_CHUNK } from './orchestrator-attempts';

export interface TaskIndex {
  v: 1;
  /** The trace object the rows are in, and its generation: an index of another generation is stale. */
  source: string;
  generation: string;
  /** The trace's header line: each row's line is parsed with it. */
  header: string;
  task_id: (number | null)[];
  status: (number | null)[];
  process: (number | null)[];
  /** The distinct statuses and processes the two columns above point into. */
  statuses: string[];
  processes: string[];
  /** Each row's line: bytes [start, end) of the trace. */
  start: number[];
  end: number[];
}

/** Where the index of a trace object is kept: runs/{id}/index/tasks/{trace file}.json. */
export function taskIndexName(traceName: string): string {
  const runs = traceName.indexOf('/logs/');
  return `${traceName.slice(0, runs)}/index/tasks/${traceName.slice(traceName.lastIndexOf('/') + 1)}.json`;
}

/** The prefix every index of a run's traces is under. */
export const taskIndexPrefix = (runId: string) => `runs/${runId}/index/tasks/`;

/**
 * Rollups, so that a long run's first page reads a few objects rather than one per chunk: the
 * indexes of 10 consecutive live chunks in one object (level 1, `trace.01-00012x.json` for
 * chunks 120–129), and of 100 (level 2, `trace.01-0001xx.json`). Ingest writes a rollup when
 * the last of its members is written; a reader uses a rollup only for the chunks whose
 * generation it holds, and the chunks' own indexes for the rest.
 */
export interface TaskIndexRollup {
  v: 1;
  indexes: TaskIndex[];
}

export const ROLLUP_LEVELS = [1, 2] as const;

interface ChunkPosition {
  /** runs/{id}/index/tasks/trace.01- (or trace. for chunks named before attempts). */
  stem: string;
  /** The chunk's six-digit sequence number. */
  seq: string;
}

export function chunkPosition(traceName: string): ChunkPosition | null {
  const match = LIVE_TRACE_CHUNK.exec(traceName);
  if (!match) return null;
  return { stem: `${taskIndexPrefix(match[1]!)}trace.${match[2] ? `${match[2]}-` : ''}`, seq: match[3]! };
}

/** The rollup of `level` that holds the chunk at `position`. */
export function rollupName(position: ChunkPosition, level: number): string {
  return `${position.stem}${position.seq.slice(0, 6 - level)}${'x'.repeat(level)}.json`;
}

/**
 * What a rollup of `level` is made of, when complete: the chunk indexes (level 1) or the
 * rollups one level down (level 2), ten of them (nine for chunks 1–9: they start at 1).
 */
export function rollupMembers(position: ChunkPosition, level: number): string[] {
  const prefix = position.seq.slice(0, 6 - level);
  return Array.from({ length: 10 }, (_, digit) => `${prefix}${digit}`)
    .filter((child) => level > 1 || Number(child) > 0)
    .map((child) =>
      level === 1
        ? `${position.stem}${child}.tsv.json`
        : `${position.stem}${child}${'x'.repeat(level - 1)}.json`,
    );
}

/** A rollup read back: its indexes that have the shape of one (the rest are read from their chunks). */
export function parseTaskIndexRollup(text: string): TaskIndex[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  const rollup = value as Partial<TaskIndexRollup> | null;
  if (rollup?.v !== 1 || !Array.isArray(rollup.indexes)) return [];
  return rollup.indexes.flatMap((index) => {
    const checked = parseTaskIndexValue(index);
    return checked ? [checked] : [];
  });
}

function interned(values: string[], lookup: Map<string, number>, value: string | null): number | null {
  if (value === null) return null;
  let index = lookup.get(value);
  if (index === undefined) {
    index = values.length;
    values.push(value);
    lookup.set(value, index);
  }
  return index;
}

/**
 * Byte offsets for character offsets into `text`: the same for an ASCII trace (nearly all);
 * otherwise counted as UTF-8 along the text, once.
 */
function byteOffsets(text: string, spans: [number, number][]): [number, number][] {
  if (Buffer.byteLength(text) === text.length) return spans;
  let chars = 0;
  let bytes = 0;
  const at = (offset: number) => {
    bytes += Buffer.byteLength(text.slice(chars, offset));
    chars = offset;
    return bytes;
  };
  return spans.map(([start, end]) => [at(start), at(end)]);
}

/**
 * The index of a trace's text (parsed with `{ spans: true }`, given when the caller has parsed
 * it already); null when it has no header (nothing to index).
 */
export function buildTaskIndex(
  text: string,
  source: string,
  generation: string,
  parsed: ParsedTrace = parseTrace(text, { spans: true }),
): TaskIndex | null {
  if (parsed.header === null || !parsed.spans) return null;
  const statuses: string[] = [];
  const processes: string[] = [];
  const statusLookup = new Map<string, number>();
  const processLookup = new Map<string, number>();
  const spans = byteOffsets(text, parsed.spans);
  return {
    v: 1,
    source,
    generation,
    header: parsed.header,
    task_id: parsed.tasks.map((t) => t.task_id),
    status: parsed.tasks.map((t) => interned(statuses, statusLookup, t.status)),
    process: parsed.tasks.map((t) => interned(processes, processLookup, t.process)),
    statuses,
    processes,
    start: spans.map((s) => s[0]),
    end: spans.map((s) => s[1]),
  };
}

const isIntOrNullArray = (value: unknown, length: number) =>
  Array.isArray(value) && value.length === length && value.every((v) => v === null || Number.isInteger(v));

/**
 * An index read back from storage, checked for shape (it decides which byte ranges are read):
 * null when it is not one, so the caller reads the traces instead.
 */
export function parseTaskIndex(text: string): TaskIndex | null {
  try {
    return parseTaskIndexValue(JSON.parse(text));
  } catch {
    return null;
  }
}

function parseTaskIndexValue(value: unknown): TaskIndex | null {
  const index = value as Partial<TaskIndex> | null;
  if (index?.v !== 1 || typeof index.source !== 'string' || typeof index.generation !== 'string') return null;
  if (typeof index.header !== 'string' || !Array.isArray(index.task_id)) return null;
  const rows = index.task_id.length;
  const strings = (list: unknown) => Array.isArray(list) && list.every((s) => typeof s === 'string');
  if (!strings(index.statuses) || !strings(index.processes)) return null;
  for (const column of [index.task_id, index.status, index.process, index.start, index.end])
    if (!isIntOrNullArray(column, rows)) return null;
  for (let i = 0; i < rows; i++) {
    const start = index.start![i];
    const end = index.end![i];
    if (
      start === null ||
      end === null ||
      start === undefined ||
      end === undefined ||
      start < 0 ||
      end < start
    )
      return null;
  }
  return index as TaskIndex;
}

export interface IndexedRow {
  index: TaskIndex;
  row: number;
}

/**
 * The rows of `indexes` (in the order given: chunk order, then row order) with the status and
 * process asked for, ordered by task id as queryTasks orders them (nulls last, ties by position).
 */
export function selectRows(
  indexes: TaskIndex[],
  filter: { statuses: Set<string> | null; process: string | undefined },
  order: 'asc' | 'desc',
): IndexedRow[] {
  const rows: IndexedRow[] = [];
  const shortName = (process: string) => process.slice(process.lastIndexOf(':') + 1);
  for (const index of indexes) {
    const statusOk = index.statuses.map((s) => !filter.statuses || filter.statuses.has(s));
    const processOk = index.processes.map(
      (p) => !filter.process || p === filter.process || shortName(p) === filter.process,
    );
    for (let row = 0; row < index.task_id.length; row++) {
      const status = index.status[row] ?? null;
      const process = index.process[row] ?? null;
      if (filter.statuses && (status === null || !statusOk[status])) continue;
      if (filter.process && (process === null || !processOk[process])) continue;
      rows.push({ index, row });
    }
  }
  const direction = order === 'asc' ? 1 : -1;
  // A stable sort: rows of the same task id (or none) keep their order, as in queryTasks.
  return rows.sort((a, b) => {
    const x = a.index.task_id[a.row] ?? null;
    const y = b.index.task_id[b.row] ?? null;
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return (x - y) * direction;
  });
}

/** One row's task, from its line as read from the trace; null when the line is not the row it should be. */
export function taskFromLine(index: TaskIndex, row: number, line: string): TraceTask | null {
  const task = parseTrace(`${index.header}\n${line}`).tasks[0];
  return task && task.task_id === index.task_id[row] ? task : null;
}
