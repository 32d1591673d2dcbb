/**
 * Nextflow trace files (`-with-trace`, TSV). Parsed by header name, so any subset and
 * order of columns works. Values are converted as Nextflow writes them: durations
 * (`650ms`, `4.9s`, `1m 19s`, `4h 56m 8s`, `1d 2h`) to milliseconds, memory (`540 B`,
 * `193.5 KB`, `1.5 GB`, base 1024) to bytes, percents to numbers, dates
 * (`yyyy-MM-dd HH:mm:ss.SSS`) to ISO 8601, and `-` to null. A parser is built once per
 * header and then used line by line, so large or streamed traces cost one pass.
 */
import { processOfName } from './process-names';

export { processOfName };

export interface TraceTask {
  task_id: number | null;
  hash: string | null;
  native_id: string | null;
  process: string | null;
  tag: string | null;
  name: string | null;
  /** COMPLETED, CACHED, FAILED, ABORTED, or whatever Nextflow wrote. */
  status: string | null;
  exit: number | null;
  module: string | null;
  container: string | null;
  cpus: number | null;
  /** Requested memory, bytes. */
  memory: number | null;
  disk: number | null;
  /** Requested time, ms. */
  time: number | null;
  attempt: number | null;
  submit: string | null;
  start: string | null;
  complete: string | null;
  /** ms */
  duration: number | null;
  /** ms */
  realtime: number | null;
  /** ms */
  queue: number | null;
  cpu_percent: number | null;
  mem_percent: number | null;
  /** bytes */
  rss: number | null;
  vmem: number | null;
  peak_rss: number | null;
  peak_vmem: number | null;
  rchar: number | null;
  wchar: number | null;
  syscr: number | null;
  syscw: number | null;
  read_bytes: number | null;
  write_bytes: number | null;
  workdir: string | null;
  error_action: string | null;
  /** Columns this parser does not know, as written. */
  extra: Record<string, string>;
}

export type NumericTaskField = {
  [K in keyof TraceTask]: TraceTask[K] extends number | null ? K : never;
}[keyof TraceTask];

/** Every numeric field: what a task page can be sorted by. */
export const NUMERIC_TASK_FIELDS = [
  'task_id',
  'exit',
  'cpus',
  'memory',
  'disk',
  'time',
  'attempt',
  'duration',
  'realtime',
  'queue',
  'cpu_percent',
  'mem_percent',
  'rss',
  'vmem',
  'peak_rss',
  'peak_vmem',
  'rchar',
  'wchar',
  'syscr',
  'syscw',
  'read_bytes',
  'write_bytes',
] as const satisfies readonly NumericTaskField[];

type Kind = 'int' | 'text' | 'duration' | 'memory' | 'percent' | 'date' | 'float';

/** Trace column → task field and how to read it. */
const COLUMNS: Record<string, [Exclude<keyof TraceTask, 'extra'>, Kind]> = {
  task_id: ['task_id', 'int'],
  hash: ['hash', 'text'],
  native_id: ['native_id', 'text'],
  process: ['process', 'text'],
  tag: ['tag', 'text'],
  name: ['name', 'text'],
  status: ['status', 'text'],
  exit: ['exit', 'int'],
  module: ['module', 'text'],
  container: ['container', 'text'],
  cpus: ['cpus', 'int'],
  memory: ['memory', 'memory'],
  disk: ['disk', 'memory'],
  time: ['time', 'duration'],
  attempt: ['attempt', 'int'],
  submit: ['submit', 'date'],
  start: ['start', 'date'],
  complete: ['complete', 'date'],
  duration: ['duration', 'duration'],
  realtime: ['realtime', 'duration'],
  queue: ['queue', 'duration'],
  '%cpu': ['cpu_percent', 'percent'],
  '%mem': ['mem_percent', 'percent'],
  rss: ['rss', 'memory'],
  vmem: ['vmem', 'memory'],
  peak_rss: ['peak_rss', 'memory'],
  peak_vmem: ['peak_vmem', 'memory'],
  rchar: ['rchar', 'memory'],
  wchar: ['wchar', 'memory'],
  syscr: ['syscr', 'int'],
  syscw: ['syscw', 'int'],
  read_bytes: ['read_bytes', 'memory'],
  write_bytes: ['write_bytes', 'memory'],
  workdir: ['workdir', 'text'],
  error_action: ['error_action', 'text'],
};

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MEMORY_UNITS: Record<string, number> = {
  B: 1,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
  PB: 1024 ** 5,
};
const DURATION_PART = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const MEMORY = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|PB)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/;
const FULL_DATE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/;
const INTEGER = /^-?\d+$/;
const NUMBER = /^-?\d+(?:\.\d+)?$/;

/** `1d 2h 3m 4s`, `4.9s`, `650ms` → ms; null if it is not a Nextflow duration. */
export function parseDuration(text: string): number | null {
  if (!text.includes(' ')) {
    // One part (`4.9s`, `650ms`): most task times.
    const match = DURATION_PART.exec(text);
    return match ? Math.round(Number(match[1]) * DURATION_UNITS[match[2]!]!) : null;
  }
  let total = 0;
  let parts = 0;
  for (const part of text.split(' ')) {
    if (part === '') continue;
    const match = DURATION_PART.exec(part);
    if (!match) return null;
    total += Number(match[1]) * DURATION_UNITS[match[2]!]!;
    parts++;
  }
  return parts === 0 ? null : Math.round(total);
}

/** `193.5 KB` → bytes (base 1024); a bare number is bytes; null if unreadable. */
export function parseMemory(text: string): number | null {
  if (text.charCodeAt(text.length - 1) !== 66 /* B */ && NUMBER.test(text)) return Math.round(Number(text));
  const match = MEMORY.exec(text);
  return match ? Math.round(Number(match[1]) * MEMORY_UNITS[match[2]!]!) : null;
}

/** `2021-02-17 17:03:21.800` → `2021-02-17T17:03:21.800Z` (Nextflow writes the machine's time, UTC on cloud VMs). */
export function parseTraceDate(text: string): string | null {
  // What Nextflow writes (`2021-02-17 17:03:21.800`): checked once, rearranged without a match.
  if (text.length === 23 && FULL_DATE.test(text)) return `${text.slice(0, 10)}T${text.slice(11)}Z`;
  const match = DATE.exec(text);
  if (!match) return null;
  const [, y, mo, d, h, mi, s, ms] = match;
  return `${y}-${mo}-${d}T${h}:${mi}:${s}.${(ms ?? '0').padEnd(3, '0')}Z`;
}

/**
 * A present cell (not `-` or empty) as its kind; null when it cannot be read as one, a number
 * too large for a double included (JSON has no Infinity: the API and the task index would
 * hold null where the parsed table held Infinity).
 */
function convert(kind: Kind, raw: string): string | number | null {
  const value = convertKind(kind, raw);
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

function convertKind(kind: Kind, raw: string): string | number | null {
  switch (kind) {
    case 'text':
      return raw;
    case 'int':
      return INTEGER.test(raw) ? Number(raw) : null;
    case 'float':
      return NUMBER.test(raw) ? Number(raw) : null;
    case 'duration':
      return parseDuration(raw);
    case 'memory':
      return parseMemory(raw);
    case 'percent': {
      const number = raw.endsWith('%') ? raw.slice(0, -1) : raw;
      return NUMBER.test(number) ? Number(number) : null;
    }
    case 'date':
      return parseTraceDate(raw);
  }
}

/** Shared by every row without a warning (most): nothing to allocate. */
const NO_WARNINGS: readonly string[] = Object.freeze([]);

/** A task with every field unknown (null): a row fills in what its columns say. */
export function emptyTask(): TraceTask {
  return {
    task_id: null,
    hash: null,
    native_id: null,
    process: null,
    tag: null,
    name: null,
    status: null,
    exit: null,
    module: null,
    container: null,
    cpus: null,
    memory: null,
    disk: null,
    time: null,
    attempt: null,
    submit: null,
    start: null,
    complete: null,
    duration: null,
    realtime: null,
    queue: null,
    cpu_percent: null,
    mem_percent: null,
    rss: null,
    vmem: null,
    peak_rss: null,
    peak_vmem: null,
    rchar: null,
    wchar: null,
    syscr: null,
    syscw: null,
    read_bytes: null,
    write_bytes: null,
    workdir: null,
    error_action: null,
    extra: {},
  };
}

export type ParsedLine = { task: TraceTask; warnings: readonly string[] } | { malformed: string };

/** A parser for one trace header; `parseLine` handles the rows that follow it. */
export class TraceParser {
  readonly columns: string[];
  private readonly fields: ([Exclude<keyof TraceTask, 'extra'>, Kind] | null)[];

  constructor(header: string) {
    this.columns = header.replace(/\r$/, '').split('\t');
    this.fields = this.columns.map((column) => COLUMNS[column] ?? null);
  }

  parseLine(raw: string): ParsedLine {
    const line = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    const cells = line.split('\t');
    if (cells.length !== this.columns.length) {
      return { malformed: `has ${cells.length} cells, the header has ${this.columns.length}` };
    }
    // A plain loop, no per-cell result object, a warnings array only when there is one: the
    // first task page of a large run parses every row (ARCHITECTURE §7, the monitoring bench).
    const task = emptyTask();
    const record = task as unknown as Record<string, unknown>;
    let warnings: string[] | null = null;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i]!;
      const field = this.fields[i];
      if (!field) {
        task.extra[this.columns[i]!] = cell;
        continue;
      }
      // Nextflow writes `-` for a value it does not have: the field stays null.
      if (cell === '-' || cell === '') continue;
      const value = convert(field[1], cell);
      if (value === null) {
        warnings ??= [];
        warnings.push(`${this.columns[i]} "${cell}" is not a valid ${field[1]}`);
      }
      record[field[0]] = value;
    }
    if (task.process === null && task.name !== null) task.process = processOfName(task.name);
    return { task, warnings: warnings ?? NO_WARNINGS };
  }
}

export interface ParsedTrace {
  tasks: TraceTask[];
  /** Rows that could not be read, skipped (line numbers are 1-based, the header is line 1). */
  malformed: { line: number; reason: string }[];
  warnings: string[];
  /** The header line; null when the text has none. */
  header: string | null;
  /** With `{ spans: true }`: each task's line, as character offsets [start, end) into the text. */
  spans?: [number, number][];
}

/** Parses a whole trace (or a chunk, which repeats the header). */
export function parseTrace(text: string, options: { spans?: boolean } = {}): ParsedTrace {
  const result: ParsedTrace = { tasks: [], malformed: [], warnings: [], header: null };
  const spans: [number, number][] | null = options.spans ? [] : null;
  if (spans) result.spans = spans;
  let parser: TraceParser | null = null;
  let lineNumber = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    const lineStart = start;
    start = end + 1;
    lineNumber++;
    if (line.trim() === '') continue;
    if (!parser) {
      parser = new TraceParser(line);
      result.header = line;
      continue;
    }
    const parsed = parser.parseLine(line);
    if ('malformed' in parsed) {
      result.malformed.push({ line: lineNumber, reason: parsed.malformed });
      continue;
    }
    for (const warning of parsed.warnings) result.warnings.push(`line ${lineNumber}: ${warning}`);
    result.tasks.push(parsed.task);
    spans?.push([lineStart, end]);
  }
  return result;
}
