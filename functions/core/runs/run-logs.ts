/**
 * A run's nextflow.log as parsed entries, read in byte ranges: the final logs/nextflow.log
 * once the run has ended, the concatenated live chunks (logs/live/nextflow.{seq}.log) while
 * it runs. Offsets are byte offsets into that log, so a page of 100 entries of a 200 MB log
 * costs a ranged read of a few kilobytes, and a cursor stays valid as the log grows.
 */

import { LOG_LINE } from '../nextflow/nextflow-log';
import { LIVE_LOG_CHUNK, runPaths } from '../shared/bucket-layout';
import { ValidationError } from '../shared/errors';
import type { ObjectStore } from '../shared/ports';
import type { LogEntry, LogPage } from './views';

export type { LogEntry, LogPage };

export interface LogSegment {
  name: string;
  /** Where the segment starts in the log. */
  start: number;
  size: number;
}

export interface RunLog {
  source: 'final' | 'live';
  segments: LogSegment[];
  size: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Mar-25 09:38:50.568` → ISO, in the year the run started (the next year if that would be before it). */
export function logTime(timestamp: string, runStarted: string): string | null {
  const match = /^([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})$/.exec(timestamp);
  const month = match ? MONTHS.indexOf(match[1]!) : -1;
  if (!match || month === -1) return null;
  const started = new Date(runStarted);
  const at = (year: number) =>
    Date.UTC(
      year,
      month,
      Number(match[2]),
      Number(match[3]),
      Number(match[4]),
      Number(match[5]),
      Number(match[6]),
    );
  let time = at(started.getUTCFullYear());
  if (time < started.getTime() - 86_400_000) time = at(started.getUTCFullYear() + 1);
  return new Date(time).toISOString();
}

/** Where the run's log is, and how long it is: the final file if there is one, else the live chunks. */
export async function locateRunLog(objects: ObjectStore, runId: string): Promise<RunLog> {
  const paths = runPaths(objects.bucket, runId);
  const final = await objects.stat(paths.finalLog);
  if (final)
    return {
      source: 'final',
      segments: [{ name: final.name, start: 0, size: final.size }],
      size: final.size,
    };
  const { objects: chunks } = await objects.list(paths.liveLogChunks, 100_000);
  let start = 0;
  const segments = chunks
    .filter((chunk) => LIVE_LOG_CHUNK.test(chunk.name))
    .map((chunk) => {
      const segment = { name: chunk.name, start, size: chunk.size };
      start += chunk.size;
      return segment;
    });
  return { source: 'live', segments, size: start };
}

/** Bytes [start, end) of the log, across chunks. */
export async function readLogRange(
  objects: ObjectStore,
  log: RunLog,
  start: number,
  end: number,
): Promise<Buffer> {
  const parts = await Promise.all(
    log.segments
      .filter((s) => s.start < end && s.start + s.size > start)
      .map((s) => objects.readRange(s.name, Math.max(0, start - s.start), Math.min(s.size, end - s.start))),
  );
  return Buffer.concat(parts);
}

interface ParsedWindow {
  /** Entries whose end was seen (the next entry started, or the window reached the end of the log). */
  entries: LogEntry[];
  /** Offset just after the last complete entry. */
  end: number;
}

/**
 * Parses the entries in a window of the log starting at `base`. Lines before the first entry
 * start (the tail of an entry cut by the window) are skipped. The last entry counts only if
 * the window reaches the end of the log.
 */
export function parseLogWindow(
  bytes: Buffer,
  base: number,
  atEnd: boolean,
  runStarted: string,
): ParsedWindow {
  const entries: LogEntry[] = [];
  let current: LogEntry | null = null;
  let position = 0;
  let end = base;
  while (position < bytes.length) {
    let newline = bytes.indexOf(10, position);
    const complete = newline !== -1;
    if (!complete) newline = bytes.length;
    const line = bytes.subarray(position, newline).toString('utf8').replace(/\r$/, '');
    const lineStart = base + position;
    position = newline + 1;
    if (!complete && !atEnd) break;
    const match = LOG_LINE.exec(line);
    if (match) {
      if (current) {
        entries.push(current);
        end = lineStart;
      }
      current = {
        offset: lineStart,
        timestamp: match[1]!,
        time: logTime(match[1]!, runStarted),
        thread: match[2]!,
        level: match[3]!,
        logger: match[4]!,
        message: match[5]!,
      };
    } else if (current) {
      current.message += `\n${line}`;
    }
  }
  if (current && atEnd) {
    entries.push(current);
    end = base + bytes.length;
  }
  return { entries, end };
}

const FIRST_WINDOW = 64 * 1024;
const MAX_WINDOW = 16 * 1024 * 1024;

/** `limit` entries from `offset` (a byte offset from an earlier page), in order. */
export async function readLogPage(
  objects: ObjectStore,
  log: RunLog,
  offset: number,
  limit: number,
  runStarted: string,
): Promise<LogPage> {
  if (offset > log.size) {
    throw new ValidationError(`offset ${offset} is past the end of the log (${log.size} bytes).`, [
      { field: 'offset', rule: 'range', message: `must be at most ${log.size}` },
    ]);
  }
  let window = FIRST_WINDOW;
  for (;;) {
    const end = Math.min(log.size, offset + window);
    // A live log can still get continuation lines for its last entry: hold it back until the next entry starts.
    const atEnd = end === log.size && log.source === 'final';
    const parsed = parseLogWindow(await readLogRange(objects, log, offset, end), offset, atEnd, runStarted);
    if (parsed.entries.length >= limit || end === log.size || window >= MAX_WINDOW) {
      const entries = parsed.entries.slice(0, limit);
      const next =
        entries.length < parsed.entries.length ? parsed.entries[entries.length]!.offset : parsed.end;
      return {
        source: log.source,
        entries,
        offset,
        next_offset: entries.length > 0 ? next : offset,
        size: log.size,
      };
    }
    window *= 4;
  }
}

/** The last `count` entries of the log. */
export async function readLogTail(
  objects: ObjectStore,
  log: RunLog,
  count: number,
  runStarted: string,
): Promise<LogPage> {
  let window = FIRST_WINDOW;
  for (;;) {
    const start = Math.max(0, log.size - window);
    const parsed = parseLogWindow(await readLogRange(objects, log, start, log.size), start, true, runStarted);
    // An entry cut by the window's start has no header line, so it was skipped: what remains is whole.
    if (parsed.entries.length >= count || start === 0 || window >= MAX_WINDOW) {
      const entries = parsed.entries.slice(-count);
      return {
        source: log.source,
        entries,
        offset: entries[0]?.offset ?? log.size,
        next_offset: log.size,
        size: log.size,
      };
    }
    window *= 4;
  }
}
