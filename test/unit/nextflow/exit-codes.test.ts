import { describe, expect, it } from 'vitest';
import { exitCodeHint } from '../../../functions/core/nextflow/exit-codes';

describe('exitCodeHint', () => {
  it.each([
    [137, /out of memory/i],
    [50001, /spot vm preempted/i],
    [143, /sigterm/i],
    [127, /command not found/i],
  ])('explains exit code %i in plain words', (code, pattern) => {
    expect(exitCodeHint(code)).toMatch(pattern);
  });

  it.each([[0], [1], [null], [undefined]])('has nothing to add for %s', (code) => {
    expect(exitCodeHint(code)).toBeNull();
  });
});
