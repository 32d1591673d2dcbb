import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkName, LiveChunker } from '../../orchestrator/src/chunker';
import { nextflowArgs } from '../../orchestrator/src/main';
import {
  formatDuration,
  formatLogTime,
  formatMemory,
  formatPercent,
  formatTimestamp,
} from '../../orchestrator/src/replay/format';
import { tempDir } from '../helpers/env';

describe('replay trace formats match what Nextflow writes', () => {
  it.each([
    [241, '241ms'],
    [757, '757ms'],
    [1_060, '1.1s'],
    [7_000, '7s'],
    [80_000, '1m 20s'],
    [17_768_000, '4h 56m 8s'],
    [93_600_000, '1d 2h'],
  ])('duration %i ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([
    [913, '913 B'],
    [774_451, '756.3 KB'],
    [12 * 1024 * 1024, '12 MB'],
    [14.2 * 1024 * 1024, '14.2 MB'],
    [1.1 * 1024 ** 3, '1.1 GB'],
  ])('memory %i → %s', (bytes, text) => {
    expect(formatMemory(bytes)).toBe(text);
  });

  it('formats percents, trace dates and log times', () => {
    expect(formatPercent(100)).toBe('100.0%');
    expect(formatTimestamp(Date.UTC(2021, 1, 17, 17, 3, 21, 800))).toBe('2021-02-17 17:03:21.800');
    expect(formatLogTime(Date.UTC(2026, 2, 5, 9, 8, 7, 6))).toBe('Mar-05 09:08:07.006');
  });
});

describe('LiveChunker', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    dir = await tempDir('arc-chunks-');
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('uploads only new complete lines, repeating the trace header in every chunk', async () => {
    const trace = join(dir.path, 'trace.txt');
    const log = join(dir.path, '.nextflow.log');
    const chunks: [string, string][] = [];
    const chunker = new LiveChunker(trace, log, async (name, content) => void chunks.push([name, content]));

    await chunker.flush();
    expect(chunks).toEqual([]);

    await writeFile(trace, 'task_id\tname\n1\tA\n2\tB');
    await writeFile(log, 'line one\nline t');
    await chunker.flush();
    expect(chunks).toEqual([
      ['live/trace.01-000001.tsv', 'task_id\tname\n1\tA\n'],
      ['live/nextflow.01-000001.log', 'line one\n'],
    ]);

    await appendFile(trace, '\n3\tC\n');
    await appendFile(log, 'wo\n');
    await chunker.flush();
    expect(chunks.slice(2)).toEqual([
      ['live/trace.01-000002.tsv', 'task_id\tname\n2\tB\n3\tC\n'],
      ['live/nextflow.01-000002.log', 'line two\n'],
    ]);

    await appendFile(log, 'no newline at the end');
    await chunker.flush();
    expect(chunks).toHaveLength(4);
    await chunker.flush(true);
    expect(chunks.at(-1)).toEqual(['live/nextflow.01-000003.log', 'no newline at the end\n']);
  });

  it('names chunks so they sort by orchestrator attempt, then in upload order', () => {
    expect([chunkName('trace', 2, 1), chunkName('trace', 1, 10), chunkName('trace', 1, 9)].sort()).toEqual([
      'live/trace.01-000009.tsv',
      'live/trace.01-000010.tsv',
      'live/trace.02-000001.tsv',
    ]);
  });

  it("a retried orchestrator's chunks never overwrite the first attempt's", async () => {
    const trace = join(dir.path, 'retry-trace.txt');
    const log = join(dir.path, 'retry.log');
    await writeFile(trace, 'task_id\tname\n1\tA\n');
    await writeFile(log, 'x\n');
    const names: string[] = [];
    await new LiveChunker(trace, log, async (name) => void names.push(name), 1).flush();
    await new LiveChunker(trace, log, async (name) => void names.push(name), 2).flush();
    expect(names).toEqual([
      'live/trace.01-000001.tsv',
      'live/nextflow.01-000001.log',
      'live/trace.02-000001.tsv',
      'live/nextflow.02-000001.log',
    ]);
  });
});

describe('the Nextflow command line', () => {
  it('resumes the session by id with its own run name, work dir and reports', () => {
    const args = nextflowArgs({
      RUN_ID: 'run-abc123def456',
      PIPELINE: 'nf-core/scrnaseq',
      PIPELINE_VERSION: '4.0.0',
      WORK_DIR: 'gs://b/work/run-abc123def456/',
      SESSION_ID: '0b5d7c9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e',
      RUN_NAME: 'run-abc123def456',
    } as Parameters<typeof nextflowArgs>[0]);
    expect(args.join(' ')).toBe(
      'run nf-core/scrnaseq -r 4.0.0 -c nextflow.config -params-file params.yaml -w gs://b/work/run-abc123def456/ ' +
        '-name run-abc123def456 -resume 0b5d7c9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e -with-trace trace.txt ' +
        '-with-timeline timeline.html -with-report report.html -ansi-log false',
    );
  });
});
