import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseDuration,
  parseMemory,
  parseTrace,
  parseTraceDate,
  processOfName,
  TraceParser,
} from '../../../functions/core/nextflow/trace';

const fixture = readFileSync('test/fixtures/nextflow/chipseq_execution_trace.txt', 'utf8');

describe('value conversions', () => {
  it.each([
    ['650ms', 650],
    ['0ms', 0],
    ['4.9s', 4_900],
    ['7s', 7_000],
    ['1m 19s', 79_000],
    ['4h 56m 8s', 17_768_000],
    ['1d 2h', 93_600_000],
    ['2h', 7_200_000],
  ])('duration %s → %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'abc', '5 minutes', '1x', '-', '4.9', '1m 19'])('duration %s is unreadable', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it.each([
    ['540 B', 540],
    ['193.5 KB', 198_144],
    ['1.5 GB', 1_610_612_736],
    ['12 MB', 12_582_912],
    ['2 TB', 2 * 1024 ** 4],
    ['1024', 1024],
  ])('memory %s → %i bytes', (text, bytes) => {
    expect(parseMemory(text)).toBe(bytes);
  });

  it('reads dates as UTC ISO 8601', () => {
    expect(parseTraceDate('2021-02-17 17:03:21.800')).toBe('2021-02-17T17:03:21.800Z');
    expect(parseTraceDate('2021-02-17 17:03:21')).toBe('2021-02-17T17:03:21.000Z');
    expect(parseTraceDate('17/02/2021')).toBeNull();
    expect(parseTraceDate('2021-02-17 17:03:21.8')).toBe('2021-02-17T17:03:21.800Z');
    // As long as a full date, but not one.
    expect(parseTraceDate('2021-02-17 17:03:2x.800')).toBeNull();
    expect(parseTraceDate('2021-02-17T17:03:21.800')).toBeNull();
  });

  it('finds the process of a task name', () => {
    expect(processOfName('CHIPSEQ:PHANTOMPEAKQUALTOOLS (SPT5_INPUT_R1)')).toBe(
      'CHIPSEQ:PHANTOMPEAKQUALTOOLS',
    );
    expect(processOfName('NFCORE_SCRNASEQ:SCRNASEQ:MULTIQC')).toBe('NFCORE_SCRNASEQ:SCRNASEQ:MULTIQC');
  });
});

describe('parseTrace on a real nf-core trace', () => {
  const trace = parseTrace(fixture);

  it('reads every row by header name', () => {
    expect(trace.malformed).toEqual([]);
    expect(trace.tasks).toHaveLength(fixture.trim().split('\n').length - 1);
    expect(trace.tasks[0]).toMatchObject({
      task_id: 5,
      hash: '19/beb69e',
      native_id: '3038',
      name: 'CHIPSEQ:OUTPUT_DOCUMENTATION',
      process: 'CHIPSEQ:OUTPUT_DOCUMENTATION',
      status: 'COMPLETED',
      exit: 0,
      submit: '2021-02-17T17:03:21.800Z',
      duration: 80_000,
      realtime: 241,
      cpu_percent: 85.2,
      peak_rss: Math.round(14.2 * 1024 * 1024),
      peak_vmem: Math.round(19.5 * 1024 * 1024),
      rchar: Math.round(3.2 * 1024 * 1024),
      wchar: Math.round(1.2 * 1024 * 1024),
    });
  });

  it('keeps failed rows with their exit code and null metrics', () => {
    const failed = trace.tasks.filter((t) => t.status === 'FAILED');
    expect(failed).toHaveLength(17);
    expect(failed[0]).toMatchObject({
      task_id: 120,
      exit: 127,
      cpu_percent: null,
      peak_rss: null,
      rchar: null,
    });
    expect(new Set(failed.map((t) => t.exit))).toEqual(new Set([1, 127]));
  });

  it('counts statuses the way the file does', () => {
    const statuses: Record<string, number> = {};
    for (const task of trace.tasks) statuses[task.status!] = (statuses[task.status!] ?? 0) + 1;
    expect(statuses).toEqual({ COMPLETED: trace.tasks.length - 17, FAILED: 17 });
  });
});

describe('parseTrace on hostile input', () => {
  const header = 'task_id\thash\tname\tstatus\texit\trealtime\tpeak_rss';

  it('parses any subset and order of columns, keeping unknown ones', () => {
    const parsed = parseTrace('status\tpeak_rss\tname\tmy_column\nCACHED\t1.5 GB\tA:B (x)\thello\n');
    expect(parsed.tasks[0]).toMatchObject({
      status: 'CACHED',
      peak_rss: 1_610_612_736,
      name: 'A:B (x)',
      process: 'A:B',
      task_id: null,
      extra: { my_column: 'hello' },
    });
  });

  it('skips and counts short rows and rows with extra columns', () => {
    const parsed = parseTrace(
      `${header}\n1\tab/cd\tA\tCOMPLETED\t0\t1s\t1 MB\n2\tab/ce\tB\tCOMPLETED\n3\tab/cf\tC\tCOMPLETED\t0\t1s\t1 MB\textra\n`,
    );
    expect(parsed.tasks.map((t) => t.task_id)).toEqual([1]);
    expect(parsed.malformed).toEqual([
      { line: 3, reason: 'has 4 cells, the header has 7' },
      { line: 4, reason: 'has 8 cells, the header has 7' },
    ]);
  });

  it('handles CRLF line endings', () => {
    const parsed = parseTrace(`${header}\r\n1\tab/cd\tA\tCOMPLETED\t0\t4.9s\t540 B\r\n`);
    expect(parsed.tasks).toEqual([expect.objectContaining({ task_id: 1, realtime: 4_900, peak_rss: 540 })]);
    expect(parsed.malformed).toEqual([]);
  });

  it('returns nothing for an empty file or a header alone', () => {
    expect(parseTrace('')).toEqual({ tasks: [], malformed: [], warnings: [], header: null });
    expect(parseTrace(`${header}\n`)).toEqual({ tasks: [], malformed: [], warnings: [], header });
  });

  it('keeps unknown statuses as written, and warns about unreadable values without dropping the row', () => {
    const parsed = parseTrace(`${header}\n1\tab/cd\tA\tRETRIED\tx\tlong\t12 parsecs\n`);
    expect(parsed.tasks[0]).toMatchObject({ status: 'RETRIED', exit: null, realtime: null, peak_rss: null });
    expect(parsed.warnings).toEqual([
      'line 2: exit "x" is not a valid int',
      'line 2: realtime "long" is not a valid duration',
      'line 2: peak_rss "12 parsecs" is not a valid memory',
    ]);
  });

  it('reads a number too large for a double as unreadable, not Infinity (JSON would turn it into null)', () => {
    const huge = '9'.repeat(400);
    const parsed = parseTrace(`${header}\n1\tab/cd\tA\tCOMPLETED\t${huge}\t${huge}s\t${huge} GB\n`);
    expect(parsed.tasks[0]).toMatchObject({ exit: null, realtime: null, peak_rss: null });
    expect(parsed.warnings).toHaveLength(3);
  });

  it('parses line by line with one parser per header', () => {
    const [fixtureHeader, ...lines] = fixture.split('\n').filter(Boolean);
    const parser = new TraceParser(fixtureHeader!);
    const results = lines.map((line) => parser.parseLine(line));
    expect(results.every((r) => 'task' in r)).toBe(true);
  });
});
