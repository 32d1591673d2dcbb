import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { log1pCp10k } from '../../../functions/core/haystack/anndata';
import {
  benjaminiHochberg,
  differentialExpression,
  hypergeometricUpperTail,
  mannWhitneyU,
  nonFiniteWarning,
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

describe('non-finite values in a model output', () => {
  const matrix = (rows: number[][]) => ({
    rows: rows.length,
    cols: rows[0]!.length,
    data: Float32Array.from(rows.flat()),
  });

  it('are refused by the rank-sum test, which cannot rank them', () => {
    const x = [Number.NaN, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(() => mannWhitneyU(x, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toThrow(/finite values; x\[0\] is NaN/);
    expect(() => mannWhitneyU([1, 2], [3, Number.POSITIVE_INFINITY])).toThrow(/y\[1\] is Infinity/);
  });

  it('leave BH: a NaN p-value is no test, the others are adjusted as a family without it', () => {
    const p = [0.01, Number.NaN, 0.04, 0.03, 0.5];
    const adjusted = benjaminiHochberg(p);
    expect(adjusted[1]).toBeNaN();
    const without = benjaminiHochberg([0.01, 0.04, 0.03, 0.5]);
    expect([adjusted[0], adjusted[2], adjusted[3], adjusted[4]]).toEqual([...without]);
    // m = 4, not 5: 0.01 · 4 / 1.
    expect(adjusted[0]).toBeCloseTo(0.04, 12);
  });

  it('are left out of the normalisation: the cell keeps its other genes at their finite share', () => {
    const out = log1pCp10k(matrix([[Number.NaN, 30, 70]]));
    expect(out.data[0]).toBeNaN();
    expect(out.data[1]).toBeCloseTo(Math.log1p(3_000), 3);
    expect(out.data[2]).toBeCloseTo(Math.log1p(7_000), 3);
  });

  it("drop out of a gene's test, are counted, and are named in a warning", () => {
    // 12 cells a group; gene A has NaN in 2 treated cells and +Inf in 1 reference cell.
    const treated = Array.from({ length: 12 }, (_, i) => [i < 2 ? Number.NaN : 5 + i, 1 + (i % 3)]);
    const reference = Array.from({ length: 12 }, (_, i) => [
      i === 0 ? Number.POSITIVE_INFINITY : i,
      1 + (i % 3),
    ]);
    const de = differentialExpression(matrix(treated), matrix(reference), ['A', 'B']);
    expect(de.map((d) => d.nonfinite)).toEqual([3, 0]);
    const finite = mannWhitneyU(
      treated.slice(2).map((r) => r[0]!),
      reference.slice(1).map((r) => r[0]!),
    );
    expect(de[0]!.pval).toBeCloseTo(finite.p, 12);
    expect(de[0]!.is_de).toBe(true);
    expect(de[1]!.pval).toBe(1);
    expect(nonFiniteWarning(de, 'The prediction')).toBe(
      "The prediction had non-finite values (NaN or infinity) for 1 gene: A (3 cells). Those cells were left out of those genes' tests; a gene with fewer than 10 finite cells in either group is not called DE.",
    );
    expect(nonFiniteWarning([de[1]!], 'The prediction')).toBeNull();
  });

  it('make a gene untested when too few finite cells are left, and never a confident p-value', () => {
    const treated = Array.from({ length: 12 }, (_, i) => [i < 4 ? Number.NaN : 50 + i, Number.NaN]);
    const reference = Array.from({ length: 12 }, (_, i) => [i, 1]);
    const [a, b] = differentialExpression(matrix(treated), matrix(reference), ['A', 'B']);
    // A: 8 finite treated cells, a real difference, but fewer than 10: not called DE.
    expect(a!.pval).toBeLessThan(0.01);
    expect(a!.is_de).toBe(false);
    // B: no finite treated cell: no test at all.
    expect(b!.pval).toBeNaN();
    expect(b!.padj).toBeNaN();
    expect(b!.is_de).toBe(false);
  });
});
