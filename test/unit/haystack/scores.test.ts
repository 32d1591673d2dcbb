import { describe, expect, it } from 'vitest';
import {
  compositeScore,
  QUERY_AS_CONTROL_PENALTY,
  roundHalfEven,
} from '../../../functions/core/haystack/scores';

describe('roundHalfEven', () => {
  it.each([
    [6.5, 6],
    [7.5, 8],
    [0.5, 0],
    [1.5, 2],
    [2.4999, 2],
    [2.5001, 3],
    [8.75, 9],
  ])('%d → %d', (value, expected) => {
    expect(roundHalfEven(value)).toBe(expected);
  });

  it('differs from Math.round where the spec says it must', () => {
    expect(Math.round(6.5)).toBe(7);
    expect(roundHalfEven(6.5)).toBe(6);
  });
});

describe('compositeScore', () => {
  it.each([
    // 0.25·P + 0.30·T + 0.25·L + 0.20·N
    ['6.5 rounds down to even', { P: 6, T: 5, L: 10, N: 5 }, 0, 6],
    ['7.5 rounds up to even', { P: 10, T: 5, L: 10, N: 5 }, 0, 8],
    ['clamped at 10', { P: 10, T: 10, L: 10, N: 10 }, 0, 10],
    ['clamped at 1', { P: 1, T: 1, L: 1, N: 1 }, 0, 1],
    ['the query-as-control penalty takes a point', { P: 10, T: 10, L: 5, N: 5 }, QUERY_AS_CONTROL_PENALTY, 7],
    ['the penalty cannot go below 1', { P: 1, T: 1, L: 1, N: 1 }, QUERY_AS_CONTROL_PENALTY, 1],
  ])('%s', (_name, scores, penalty, expected) => {
    expect(compositeScore(scores, penalty)).toBe(expected);
  });
});
