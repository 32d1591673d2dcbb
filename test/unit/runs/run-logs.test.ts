import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { logTime, parseLogWindow } from '../../../functions/core/runs/run-logs';

const fixture = readFileSync('test/fixtures/nextflow/ampliseq_resumed_failed.nextflow.log');
const STARTED = '2026-03-25T09:00:00.000Z';

describe('parseLogWindow', () => {
  const { entries, end } = parseLogWindow(fixture, 0, true, STARTED);

  it('parses every entry of a real nextflow.log, folding continuation lines into their entry', () => {
    const starts = fixture
      .toString('utf8')
      .split('\n')
      .filter((line) => /^[A-Z][a-z]{2}-\d{2} \d\d:\d\d:\d\d\.\d{3} \[/.test(line));
    expect(entries).toHaveLength(starts.length);
    expect(end).toBe(fixture.length);
    expect(entries.find((e) => e.message.startsWith('Session UUID'))).toMatchObject({
      timestamp: 'Mar-25 09:38:50.568',
      time: '2026-03-25T09:38:50.568Z',
      thread: 'main',
      level: 'DEBUG',
      logger: 'nextflow.Session',
      message: 'Session UUID: 96db9b86-0ec3-4269-a7d5-00a28dcbbcd4',
    });
    const error = entries.find((e) => e.message.startsWith('Error executing process'))!;
    expect(error.level).toBe('ERROR');
    expect(error.message).toContain('\nCaused by:\n  Process requirement exceeds available memory');
    expect(error.message).toContain('Tip: you can replicate the issue');
  });

  it('gives each entry the byte offset where it starts', () => {
    for (const entry of entries.slice(0, 50)) {
      expect(fixture.subarray(entry.offset, entry.offset + entry.timestamp.length).toString()).toBe(
        entry.timestamp,
      );
    }
  });

  it('skips the tail of an entry cut by the window, and holds back an entry the window does not finish', () => {
    const error = entries.find((e) => e.message.startsWith('Error executing process'))!;
    const next = entries[entries.indexOf(error) + 1]!;
    const window = fixture.subarray(error.offset + 20, next.offset + 10);
    const parsed = parseLogWindow(window, error.offset + 20, false, STARTED);
    expect(parsed.entries).toEqual([]);
    expect(parsed.end).toBe(error.offset + 20);
    // Ten bytes of the next header do not prove the entry ended: it is held back.
    expect(
      parseLogWindow(fixture.subarray(error.offset, next.offset + 10), error.offset, false, STARTED).entries,
    ).toEqual([]);
    // The next header line, whole, does: the entry is complete, the next one is held back.
    const afterNext = entries[entries.indexOf(next) + 1]!;
    const whole = parseLogWindow(
      fixture.subarray(error.offset, afterNext.offset),
      error.offset,
      false,
      STARTED,
    );
    expect(whole.entries.map((e) => e.offset)).toEqual([error.offset]);
    expect(whole.end).toBe(next.offset);
  });

  it('reads multi-byte characters and CRLF line ends', () => {
    const text = Buffer.from(
      'Nov-23 10:00:00.000 [main] INFO  nextflow.Nextflow - Résumé ✓\r\nNov-23 10:00:01.000 [main] WARN  x.Y - second\r\n',
    );
    const parsed = parseLogWindow(text, 0, true, '2026-11-23T09:00:00.000Z');
    expect(parsed.entries.map((e) => [e.level, e.message])).toEqual([
      ['INFO', 'Résumé ✓'],
      ['WARN', 'second'],
    ]);
    expect(parsed.entries[1]!.offset).toBe(
      Buffer.byteLength('Nov-23 10:00:00.000 [main] INFO  nextflow.Nextflow - Résumé ✓\r\n'),
    );
  });
});

describe('logTime', () => {
  it('takes the year from the run, rolling over into January', () => {
    expect(logTime('Mar-25 09:38:50.568', '2026-03-25T09:00:00.000Z')).toBe('2026-03-25T09:38:50.568Z');
    expect(logTime('Jan-01 00:00:01.000', '2026-12-31T23:00:00.000Z')).toBe('2027-01-01T00:00:01.000Z');
    expect(logTime('not a time', '2026-12-31T23:00:00.000Z')).toBeNull();
  });
});
