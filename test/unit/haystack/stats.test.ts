import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  benjaminiHochberg,
  hypergeometricUpperTail,
  mannWhitneyU,
  rankdata,
} from '../../../functions/core/haystack/stats';

/** Computed once with scipy: test/fixtures/haystack/make-scipy-reference.py says how. */
const reference = JSON.parse(readFileSync('test/fixtures/haystack/scipy-reference.json', 'utf8')) as {
  mannwhitneyu: { name: string; x: number[]; y: number[]; u: number; p: number }[];
  benjamini_hochberg: { p: number[]; adjusted: number[] };
  hypergeom_sf: { k: number; N: number; K: number; n: number; sf: number }[];
};

const relative = (a: number, b: number) =>
  a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));

describe('the rank-sum test against scipy', () => {
  it.each(reference.mannwhitneyu.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = mannWhitneyU(c.x, c.y);
    // scipy's statistic is U of the first sample, as ours.
    expect(relative(result.u, c.u)).toBeLessThanOrEqual(1e-9);
    expect(relative(result.p, c.p)).toBeLessThanOrEqual(1e-6);
  });

  it('answers p = 1 and z = 0 when every value is tied (scipy answers NaN)', () => {
    expect(mannWhitneyU([1, 1, 1], [1, 1])).toMatchObject({ z: 0, p: 1 });
  });

  it('ranks ties by their average and counts them for the correction', () => {
    const { ranks, tieTerm } = rankdata([3, 1, 3, 2, 3]);
    expect([...ranks]).toEqual([4, 1, 4, 2, 4]);
    expect(tieTerm).toBe(3 * 3 * 3 - 3);
  });
});

describe('Benjamini–Hochberg against the reference', () => {
  it('adjusts every p-value within 1e-6', () => {
    const adjusted = benjaminiHochberg(reference.benjamini_hochberg.p);
    reference.benjamini_hochberg.adjusted.forEach((expected, i) => {
      expect(relative(adjusted[i]!, expected)).toBeLessThanOrEqual(1e-6);
    });
  });
});

describe('the hypergeometric upper tail against scipy', () => {
  it.each(reference.hypergeom_sf.map((c) => [`k=${c.k} N=${c.N} K=${c.K} n=${c.n}`, c] as const))(
    '%s',
    (_name, c) => {
      expect(relative(hypergeometricUpperTail(c.k, c.N, c.K, c.n), c.sf)).toBeLessThanOrEqual(1e-6);
    },
  );
});
