import { open, stat } from 'node:fs/promises';
import { liveChunkName } from '../../functions/core/shared/bucket-layout';

/** Reads the complete lines appended to a file since the last read (the last partial line waits). */
export class FileTail {
  private offset = 0;
  private carry = '';

  constructor(private readonly path: string) {}

  async readLines(): Promise<string[]> {
    let size: number;
    try {
      size = (await stat(this.path)).size;
    } catch {
      return [];
    }
    if (size < this.offset) {
      // The file was rewritten from the start: read it again.
      this.offset = 0;
      this.carry = '';
    }
    if (size === this.offset) return [];
    const handle = await open(this.path, 'r');
    try {
      const buffer = Buffer.alloc(size - this.offset);
      await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset = size;
      const text = this.carry + buffer.toString('utf8');
      const lines = text.split('\n');
      this.carry = lines.pop() ?? '';
      return lines.map((line) => line.replace(/\r$/, ''));
    } finally {
      await handle.close();
    }
  }

  /** Whatever is left after the last newline (at the very end of the run). */
  rest(): string[] {
    const rest = this.carry;
    this.carry = '';
    return rest ? [rest] : [];
  }
}

/**
 * Chunk names sort by orchestrator attempt, then in upload order:
 * logs/live/trace.01-000001.tsv, logs/live/nextflow.01-000001.log. A retried orchestrator
 * (Batch's attempt 2) writes names of its own, never over the first attempt's.
 */
export { liveChunkName as chunkName } from '../../functions/core/shared/bucket-layout';

const MAX_LINES_PER_CHUNK = 5_000;

/**
 * Turns the growing trace file and nextflow.log into append-only chunks. Every trace chunk
 * starts with the trace header, so each chunk parses on its own.
 */
export class LiveChunker {
  private readonly trace: FileTail;
  private readonly log: FileTail;
  private traceHeader: string | null = null;
  private traceSeq = 0;
  private logSeq = 0;

  constructor(
    tracePath: string,
    logPath: string,
    private readonly emit: (name: string, content: string, contentType: string) => Promise<unknown>,
    /** The orchestrator's attempt (1-based), part of every chunk's name. */
    private readonly attempt = 1,
  ) {
    this.trace = new FileTail(tracePath);
    this.log = new FileTail(logPath);
  }

  async flush(final = false): Promise<void> {
    const traceLines = [...(await this.trace.readLines()), ...(final ? this.trace.rest() : [])];
    if (this.traceHeader === null && traceLines.length > 0) this.traceHeader = traceLines.shift()!;
    const rows = traceLines.filter((line) => line.trim() !== '');
    for (let i = 0; i < rows.length; i += MAX_LINES_PER_CHUNK) {
      const slice = rows.slice(i, i + MAX_LINES_PER_CHUNK);
      await this.emit(
        liveChunkName('trace', this.attempt, ++this.traceSeq),
        `${this.traceHeader}\n${slice.join('\n')}\n`,
        'text/tab-separated-values',
      );
    }
    const logLines = [...(await this.log.readLines()), ...(final ? this.log.rest() : [])];
    for (let i = 0; i < logLines.length; i += MAX_LINES_PER_CHUNK) {
      const slice = logLines.slice(i, i + MAX_LINES_PER_CHUNK);
      await this.emit(
        liveChunkName('nextflow', this.attempt, ++this.logSeq),
        `${slice.join('\n')}\n`,
        'text/plain',
      );
    }
  }
}
