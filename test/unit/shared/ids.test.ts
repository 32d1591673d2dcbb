import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RUN_ID_PATTERN } from '../../../functions/core/runs/run-model';
import {
  BATCH_JOB_ID_PATTERN,
  batchJobId,
  newId,
  newRunId,
  runIdFromBatchJobId,
  sanitizeLabelKey,
  sanitizeLabelValue,
} from '../../../functions/core/shared/ids';

describe('newId', () => {
  it('takes the prefix of the domain whose id it is', () => {
    expect(newId('hay', (n) => new Uint8Array(n).fill(1))).toBe('hay-bbbbbbbbbbbb');
    expect(newId('hay', randomBytes)).toMatch(/^hay-[a-z0-9]{12}$/);
  });
});

describe('newRunId', () => {
  it('is run- followed by 12 characters of [a-z0-9]', () => {
    for (let i = 0; i < 1000; i++) expect(newRunId(randomBytes)).toMatch(RUN_ID_PATTERN);
  });

  it('draws every character from the random source', () => {
    expect(newRunId((n) => new Uint8Array(n).fill(0))).toBe('run-aaaaaaaaaaaa');
    expect(newRunId((n) => new Uint8Array(n).fill(35))).toBe('run-999999999999');
  });

  it('drops bytes that would bias the alphabet and draws again', () => {
    let call = 0;
    const source = (n: number) => new Uint8Array(n).fill(call++ === 0 ? 255 : 1);
    expect(newRunId(source)).toBe('run-bbbbbbbbbbbb');
    expect(call).toBe(2);
  });

  it('spreads characters evenly (no modulo bias)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      for (const c of newRunId(randomBytes).slice(4)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(counts.size).toBe(36);
    const expected = 36_000 / 36;
    for (const count of counts.values()) expect(Math.abs(count - expected)).toBeLessThan(expected * 0.2);
  });
});

describe('batchJobId', () => {
  it('is nf-{run_id} and valid for the Batch API', () => {
    const id = batchJobId('run-abc123def456');
    expect(id).toBe('nf-run-abc123def456');
    expect(id).toMatch(BATCH_JOB_ID_PATTERN);
    expect(runIdFromBatchJobId(id)).toBe('run-abc123def456');
  });

  it('refuses ids Batch would reject (underscores)', () => {
    expect(() => batchJobId('run_abc123')).toThrow(/not a valid Batch job id/);
    expect(runIdFromBatchJobId('nf-run_abc123')).toBeNull();
  });
});

describe('label sanitizing', () => {
  it.each([
    ['alice@example.com', 'alice_example_com'],
    ['nf-core/scrnaseq', 'nf-core_scrnaseq'],
    ['Run-ABC', 'run-abc'],
    ['ünïcode', '_n_code'],
    ['x'.repeat(80), 'x'.repeat(63)],
    ['', ''],
  ])('%s → %s', (input, expected) => {
    expect(sanitizeLabelValue(input)).toBe(expected);
    expect(sanitizeLabelValue(input)).toMatch(/^[a-z0-9_-]{0,63}$/);
  });

  it('makes keys start with a letter', () => {
    expect(sanitizeLabelKey('9lives')).toBe('k9lives');
    expect(sanitizeLabelKey('run-id')).toBe('run-id');
  });
});
