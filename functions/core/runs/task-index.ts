/**
 * A compact index of a trace's rows, written once beside the run when a trace chunk (or the
 * final trace.txt) is ingested: for each row its task id, status, process and numeric fields,
 * and where its line sits in the trace (bytes). A task page, however sorted and filtered, is
 * then chosen from the indexes alone and only its own rows are read, by range, from the
 * traces: the first page of a 100,000-task run no longer reads and parses every row (issue 22).
 *
 * An index object holds one or more traces' indexes in sections: `base` (everything but the
 * numeric fields) and one per numeric field, each a JSON text, their byte ranges in the
 * object's metadata. A reader reads `base` and the one field it sorts by, by range: the other
 * twenty fields cost nothing.
 */
import {
  NUMERIC_TASK_FIELDS,
  type NumericTaskField,
  type ParsedTrace,
  parseTrace,
  type TraceTask,
} from '../nextflow/trace';
import { LIVE_TRACE_CHUNK, runPaths } from '../shared/bucket-layout';
import type { ObjectInfo } from '../shared/ports';

/** The numeric fields other than task_id (which has its own column). */
export type ValueField = Exclude<NumericTaskField, 'task_id'>;
const VALUE_FIELDS = NUMERIC_TASK_FIELDS.filter((f): f is ValueField => f !== 'task_id');
const VALUE_FIELD_SET = new Set<string>(VALUE_FIELDS);

export interface TaskIndex {
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
  /**
   * Each numeric field that has a value in some row: its value in every row, as parseTrace
   * reads it. A field not here is null in every row (the trace has no such column).
   */
  values: Partial<Record<ValueField, (number | null)[]>>;
}

/** An index without its numeric fields: the `base` section holds these. */
export type TaskIndexBase = Omit<TaskIndex, 'values'>;

/**
 * Rollups, so that a long run's first page reads a few objects rather than one per chunk: the
 * indexes of 10 consecutive live chunks in one object (level 1, `trace.01-00012x.idx` for
 * chunks 120–129), and of 100 (level 2, `trace.01-0001xx.idx`). Ingest writes a rollup when
 * the last of its members is written; a reader uses a rollup only for the chunks whose
 * generation it holds, and the chunks' own indexes for the rest.
 */
export const ROLLUP_LEVELS = [1, 2] as const;

export interface ChunkPosition {
  /** runs/{id}/index/tasks/trace.01- (or trace. for chunks named before attempts). */
  stem: string;
  /** The chunk's six-digit sequence number. */
  seq: string;
}

export function chunkPosition(traceName: string): ChunkPosition | null {
  const match = LIVE_TRACE_CHUNK.exec(traceName);
  if (!match) return null;
  return {
    stem: `${runPaths('', match[1]!).taskIndexes}trace.${match[2] ? `${match[2]}-` : ''}`,
    seq: match[3]!,
  };
}

/** The rollup of `level` that holds the chunk at `position`. */
export function rollupName(position: ChunkPosition, level: number): string {
  return `${position.stem}${position.seq.slice(0, 6 - level)}${'x'.repeat(level)}.idx`;
}

/**
 * The position of the chunk ten before, when `position` is the sixth of its group (…5): by
 * then the ingests of the group before have finished, so its rollups can be checked and
 * written if two ingests completing it at once each missed the other's index.
 */
export function groupBefore(position: ChunkPosition): ChunkPosition | null {
  const seq = Number(position.seq);
  return seq % 10 === 5 && seq >= 15 ? { stem: position.stem, seq: String(seq - 10).padStart(6, '0') } : null;
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
        ? `${position.stem}${child}.tsv.idx`
        : `${position.stem}${child}${'x'.repeat(level - 1)}.idx`,
    );
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
  const values: TaskIndex['values'] = {};
  for (const field of VALUE_FIELDS) {
    const column = parsed.tasks.map((t) => t[field]);
    if (column.some((value) => value !== null)) values[field] = column;
  }
  return {
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
    values,
  };
}

const isIntOrNullArray = (value: unknown, length: number) =>
  Array.isArray(value) && value.length === length && value.every((v) => v === null || Number.isInteger(v));
const isNumberOrNullArray = (value: unknown, length: number) =>
  Array.isArray(value) &&
  value.length === length &&
  value.every((v) => v === null || (typeof v === 'number' && Number.isFinite(v)));

/** The metadata keys of an index object: its format, and where its sections are. */
const FORMAT_KEY = 'arc-task-index';
const FORMAT = '2';
const SECTIONS_KEY = 'arc-task-index-sections';
/** How many traces' indexes the object holds: the length of every section's array. */
const TRACES_KEY = 'arc-task-index-traces';

/** The section names of an index object: base, then the numeric fields. */
export type SectionName = 'base' | ValueField;
export type Sections = Map<SectionName, [number, number]>;

/**
 * An index object for `indexes` (one trace's, or a rollup's): the sections' JSON texts one
 * after the other, and the metadata that says where each is. A field no trace has a value of
 * gets no section.
 */
export function encodeIndexes(indexes: TaskIndex[]): { content: Buffer; metadata: Record<string, string> } {
  const texts: [SectionName, Buffer][] = [
    ['base', Buffer.from(JSON.stringify(indexes.map(({ values: _, ...base }) => base)))],
  ];
  for (const field of VALUE_FIELDS)
    if (indexes.some((index) => index.values[field]))
      texts.push([field, Buffer.from(JSON.stringify(indexes.map((index) => index.values[field] ?? null)))]);
  return indexObject(texts, indexes.length);
}

function indexObject(
  texts: [SectionName, Buffer][],
  traces: number,
): { content: Buffer; metadata: Record<string, string> } {
  const sections: Record<string, [number, number]> = {};
  let at = 0;
  for (const [name, text] of texts) {
    sections[name] = [at, at + text.length];
    at += text.length;
  }
  return {
    content: Buffer.concat(texts.map(([, text]) => text)),
    metadata: {
      [FORMAT_KEY]: FORMAT,
      [SECTIONS_KEY]: JSON.stringify(sections),
      [TRACES_KEY]: String(traces),
    },
  };
}

/**
 * A rollup of index objects (each read whole, with its listed metadata), made by joining their
 * sections' arrays as they are, without parsing them: a field a member has no section for is
 * null for each of its traces. A member that is not an index object is left out (readers read
 * its chunks' own indexes); the rollup's readers check every section as they read it.
 */
export function combineIndexes(members: { content: Buffer; info: ObjectInfo }[]): {
  content: Buffer;
  metadata: Record<string, string>;
} {
  const usable = members.flatMap(({ content, info }) => {
    const sections = indexSections({ ...info, size: content.length });
    const traces = Number(info.metadata?.[TRACES_KEY]);
    return sections && Number.isSafeInteger(traces) && traces >= 0 ? [{ content, sections, traces }] : [];
  });
  const texts: [SectionName, Buffer][] = [];
  for (const name of ['base', ...VALUE_FIELDS] as SectionName[]) {
    if (name !== 'base' && !usable.some((member) => member.sections.has(name))) continue;
    const items = usable.flatMap(({ content, sections, traces }) => {
      const range = sections.get(name);
      // The array's items: the section without its brackets.
      if (range) return range[1] - range[0] > 2 ? [content.subarray(range[0] + 1, range[1] - 1)] : [];
      return traces > 0 ? [Buffer.from(Array(traces).fill('null').join(','))] : [];
    });
    const joined = items.flatMap((item, i) => (i === 0 ? [item] : [COMMA, item]));
    texts.push([name, Buffer.concat([OPEN, ...joined, CLOSE])]);
  }
  return indexObject(
    texts,
    usable.reduce((sum, member) => sum + member.traces, 0),
  );
}

const [OPEN, COMMA, CLOSE] = ['[', ',', ']'].map((c) => Buffer.from(c)) as [Buffer, Buffer, Buffer];

/**
 * Where an index object's sections are, from its metadata (as listed); null when it is not an
 * index of this format (an index of another version is read as none: the traces are read).
 */
export function indexSections(info: ObjectInfo): Sections | null {
  if (info.metadata?.[FORMAT_KEY] !== FORMAT) return null;
  let value: unknown;
  try {
    value = JSON.parse(info.metadata[SECTIONS_KEY] ?? '');
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const sections: Sections = new Map();
  for (const [name, range] of Object.entries(value)) {
    if (name !== 'base' && !VALUE_FIELD_SET.has(name)) return null;
    if (!Array.isArray(range) || range.length !== 2 || !range.every(Number.isInteger)) return null;
    const [from, to] = range as [number, number];
    if (from < 0 || to < from || to > info.size) return null;
    sections.set(name as SectionName, [from, to]);
  }
  return sections.has('base') ? sections : null;
}

/**
 * The `base` section read back, checked for shape (it decides which byte ranges are read):
 * null when it is not one, so the caller reads the traces instead.
 */
export function parseBaseSection(text: string): TaskIndexBase[] | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(value)) return null;
  const bases: TaskIndexBase[] = [];
  for (const base of value) {
    const checked = checkedBase(base);
    if (!checked) return null;
    bases.push(checked);
  }
  return bases;
}

/** A numeric field's section read back: one column per base (null: no value in any row); null when it is not one. */
export function parseValueSection(text: string, bases: TaskIndexBase[]): ((number | null)[] | null)[] | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== bases.length) return null;
  const columns = value as unknown[];
  return columns.every(
    (column, i) => column === null || isNumberOrNullArray(column, bases[i]!.task_id.length),
  )
    ? (columns as ((number | null)[] | null)[])
    : null;
}

function checkedBase(value: unknown): TaskIndexBase | null {
  const index = value as Partial<TaskIndexBase> | null;
  if (typeof index?.source !== 'string' || typeof index.generation !== 'string') return null;
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
  return {
    source: index.source,
    generation: index.generation,
    header: index.header,
    task_id: index.task_id,
    status: index.status!,
    process: index.process!,
    statuses: index.statuses!,
    processes: index.processes!,
    start: index.start!,
    end: index.end!,
  };
}

export interface IndexedRow {
  index: TaskIndex;
  row: number;
}

/**
 * How task pages are ordered, by the index and by the whole table (queryTasks) alike: by the
 * field's value (nulls last), ties by task id in the same direction; rows with no value at
 * all by task id ascending. The sort around it is stable: rows that compare equal keep their
 * order in the table.
 */
export function compareTasks(
  x: number | null,
  y: number | null,
  xId: number | null,
  yId: number | null,
  direction: 1 | -1,
): number {
  if (x === null && y === null) return (xId ?? 0) - (yId ?? 0);
  if (x === null) return 1;
  if (y === null) return -1;
  return (x - y) * direction || ((xId ?? 0) - (yId ?? 0)) * direction;
}

/** Which tasks a page shows: any of the statuses asked for, and the process (full or short name). */
export interface TaskFilter {
  statuses: Set<string> | null;
  process: string | undefined;
}

export function taskFilter(query: { status?: string | undefined; process?: string | undefined }): TaskFilter {
  return {
    statuses: query.status ? new Set(query.status.toUpperCase().split(',')) : null,
    process: query.process,
  };
}

export const statusMatches = (filter: TaskFilter, status: string | null) =>
  !filter.statuses || (status !== null && filter.statuses.has(status));

export const processMatches = (filter: TaskFilter, process: string | null) =>
  !filter.process ||
  (process !== null &&
    (process === filter.process || process.slice(process.lastIndexOf(':') + 1) === filter.process));

/**
 * The rows of `indexes` (in the order given: chunk order, then row order) that `filter` shows,
 * ordered by `sort` as queryTasks orders the whole table.
 */
export function selectRows(
  indexes: TaskIndex[],
  filter: TaskFilter,
  sort: { field: NumericTaskField; order: 'asc' | 'desc' },
): IndexedRow[] {
  const rows: (IndexedRow & { value: number | null; id: number | null })[] = [];
  const noStatus = statusMatches(filter, null);
  const noProcess = processMatches(filter, null);
  for (const index of indexes) {
    // Each distinct status and process is matched once, not once per row.
    const statusOk = index.statuses.map((s) => statusMatches(filter, s));
    const processOk = index.processes.map((p) => processMatches(filter, p));
    const column = sort.field === 'task_id' ? index.task_id : index.values[sort.field];
    for (let row = 0; row < index.task_id.length; row++) {
      const status = index.status[row] ?? null;
      const process = index.process[row] ?? null;
      if (!(status === null ? noStatus : statusOk[status])) continue;
      if (!(process === null ? noProcess : processOk[process])) continue;
      rows.push({ index, row, value: column?.[row] ?? null, id: index.task_id[row] ?? null });
    }
  }
  const direction = sort.order === 'asc' ? 1 : -1;
  return rows
    .sort((a, b) => compareTasks(a.value, b.value, a.id, b.id, direction))
    .map(({ index, row }) => ({ index, row }));
}

/** The last row (in table order) of task `id`: the task's latest attempt, as findTask picks it. */
export function findRow(indexes: TaskIndex[], id: number): IndexedRow | null {
  for (let i = indexes.length - 1; i >= 0; i--) {
    const row = indexes[i]!.task_id.lastIndexOf(id);
    if (row >= 0) return { index: indexes[i]!, row };
  }
  return null;
}

/** One row's task, from its line as read from the trace; null when the line is not the row it should be. */
export function taskFromLine(index: TaskIndex, row: number, line: string): TraceTask | null {
  const task = parseTrace(`${index.header}\n${line}`).tasks[0];
  return task && task.task_id === index.task_id[row] ? task : null;
}
