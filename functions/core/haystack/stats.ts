/**
 * The statistics of evaluation: the two-sided Wilcoxon rank-sum test (Mann–Whitney U, normal
 * approximation with the tie correction, no continuity correction: scipy's
 * `mannwhitneyu(method="asymptotic", use_continuity=False)`; scanpy's "wilcoxon" only with
 * `tie_correct=True`, which is not scanpy's default), Benjamini–Hochberg, and the
 * hypergeometric upper tail for over-representation. Checked against scipy
 * (test/fixtures/haystack/scipy-reference.json).
 *
 * Non-finite values (NaN, ±Inf) have no rank: the rank-sum test refuses them, BH leaves a
 * non-finite p-value out of the family (R's p.adjust does the same with NA), and DE drops a
 * gene's non-finite cells from its test and counts them, so a model output that carries them
 * gives a warning naming the genes rather than a confident p-value.
 */
import erfc from '@stdlib/math-base-special-erfc';
import gammaln from '@stdlib/math-base-special-gammaln';
import type { Matrix } from './anndata';

/** Average ranks (1-based) and the tie term Σ(t³ − t) over groups of ties. */
export function rankdata(values: ArrayLike<number>): { ranks: Float64Array; tieTerm: number } {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Float64Array(n);
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!] === values[order[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!] = rank;
    const t = j - i + 1;
    if (t > 1) tieTerm += t * t * t - t;
    i = j + 1;
  }
  return { ranks, tieTerm };
}

export interface RankSum {
  /** U of the first group. */
  u: number;
  /** Signed: positive when the first group ranks higher. */
  z: number;
  /** Two-sided. */
  p: number;
}

/** How the DE test treats ties, as the predictions file's `uns` reports it. */
export const RANK_SUM_METHOD = {
  test: 'Wilcoxon rank-sum (Mann-Whitney U), two-sided, normal approximation',
  tie_correct: 'true',
  continuity_correction: 'false',
  multiple_testing: 'Benjamini-Hochberg over genes',
  note: "scipy's mannwhitneyu(method='asymptotic', use_continuity=False); scanpy's rank_genes_groups(method='wilcoxon') gives the same only with tie_correct=True (its default is False).",
} as const;

function assertFinite(values: ArrayLike<number>, name: string): void {
  for (let i = 0; i < values.length; i++)
    if (!Number.isFinite(values[i]!))
      throw new RangeError(`The rank-sum test needs finite values; ${name}[${i}] is ${values[i]}.`);
}

export function mannWhitneyU(x: ArrayLike<number>, y: ArrayLike<number>): RankSum {
  assertFinite(x, 'x');
  assertFinite(y, 'y');
  const n1 = x.length;
  const n2 = y.length;
  const n = n1 + n2;
  const all = new Float64Array(n);
  for (let i = 0; i < n1; i++) all[i] = x[i]!;
  for (let i = 0; i < n2; i++) all[n1 + i] = y[i]!;
  const { ranks, tieTerm } = rankdata(all);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i]!;
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (!(variance > 0)) return { u, z: 0, p: 1 };
  const z = (u - mean) / Math.sqrt(variance);
  return { u, z, p: Math.min(1, erfc(Math.abs(z) / Math.SQRT2)) };
}

/**
 * Benjamini–Hochberg adjusted p-values, in the input's order. A non-finite p-value is not a
 * test: it is left out of the family (m counts the others) and its adjusted value is NaN.
 */
export function benjaminiHochberg(p: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: p.length }, (_, i) => i)
    .filter((i) => Number.isFinite(p[i]!))
    .sort((a, b) => p[a]! - p[b]!);
  const m = order.length;
  const adjusted = new Float64Array(p.length).fill(Number.NaN);
  let running = 1;
  for (let k = m - 1; k >= 0; k--) {
    const i = order[k]!;
    running = Math.min(running, (p[i]! * m) / (k + 1));
    adjusted[i] = Math.min(1, running);
  }
  return adjusted;
}

function logChoose(n: number, k: number): number {
  return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1);
}

/**
 * P(X ≥ k) for X ~ Hypergeometric(population N, K successes, n draws): scipy's
 * `hypergeom.sf(k - 1, N, K, n)`. Summed term by term in log space, so tiny tails keep
 * their precision.
 */
export function hypergeometricUpperTail(k: number, N: number, K: number, n: number): number {
  const lo = Math.max(k, 0, n - (N - K));
  const hi = Math.min(K, n);
  if (lo > hi) return 0;
  const total = logChoose(N, n);
  const terms: number[] = [];
  for (let i = lo; i <= hi; i++) terms.push(logChoose(K, i) + logChoose(N - K, n - i) - total);
  const max = Math.max(...terms);
  const sum = terms.reduce((acc, t) => acc + Math.exp(t - max), 0);
  return Math.min(1, Math.exp(max) * sum);
}

export const DE_THRESHOLDS = { minAbsLog2FC: 0.5, maxPadj: 0.05, minCellsPerGroup: 10 } as const;

export interface GeneDE {
  gene: string;
  log2fc: number;
  /** The rank-sum z-score (scanpy's "scores"). */
  score: number;
  /** NaN when the gene could not be tested (fewer than two finite values). */
  pval: number;
  padj: number;
  is_de: boolean;
  /** Cells whose value for this gene was not finite (NaN, ±Inf), left out of its test. */
  nonfinite: number;
}

/**
 * DE of `group` against `reference`, both log1p-CP10k (cells × genes): rank-sum per gene,
 * BH over genes, log2 fold change of the means as scanpy computes it. A gene's non-finite
 * values are left out of its test and its means; with fewer than the minimum cells left in
 * either group it is not called DE.
 */
export function differentialExpression(group: Matrix, reference: Matrix, genes: string[]): GeneDE[] {
  const x = new Float64Array(group.rows);
  const y = new Float64Array(reference.rows);
  const rows = genes.map((gene, g) => {
    let nx = 0;
    let ny = 0;
    let sx = 0;
    let sy = 0;
    for (let r = 0; r < group.rows; r++) {
      const v = group.data[r * group.cols + g]!;
      if (Number.isFinite(v)) sx += x[nx++] = v;
    }
    for (let r = 0; r < reference.rows; r++) {
      const v = reference.data[r * reference.cols + g]!;
      if (Number.isFinite(v)) sy += y[ny++] = v;
    }
    const nonfinite = group.rows - nx + (reference.rows - ny);
    const testable = nx > 0 && ny > 0 && nx + ny > 1;
    const test = testable
      ? mannWhitneyU(x.subarray(0, nx), y.subarray(0, ny))
      : { z: Number.NaN, p: Number.NaN };
    const meanX = nx ? sx / nx : 0;
    const meanY = ny ? sy / ny : 0;
    const log2fc = Math.log2((Math.expm1(meanX) + 1e-9) / (Math.expm1(meanY) + 1e-9));
    const enough = nx >= DE_THRESHOLDS.minCellsPerGroup && ny >= DE_THRESHOLDS.minCellsPerGroup;
    return { gene, log2fc, score: test.z, pval: test.p, nonfinite, enough };
  });
  const padj = benjaminiHochberg(rows.map((r) => r.pval));
  return rows.map(({ enough, ...r }, i) => ({
    ...r,
    padj: padj[i]!,
    is_de: enough && Math.abs(r.log2fc) >= DE_THRESHOLDS.minAbsLog2FC && padj[i]! <= DE_THRESHOLDS.maxPadj,
  }));
}

/**
 * What a biologist must be told when a prediction carried non-finite values: the genes and
 * how many cells each, the first few by count. Null when every value was finite.
 */
export function nonFiniteWarning(de: GeneDE[], what: string): string | null {
  const hit = de.filter((d) => d.nonfinite > 0).sort((a, b) => b.nonfinite - a.nonfinite);
  if (hit.length === 0) return null;
  const shown = hit
    .slice(0, 8)
    .map((d) => `${d.gene} (${d.nonfinite} ${d.nonfinite === 1 ? 'cell' : 'cells'})`)
    .join(', ');
  const more = hit.length > 8 ? ` and ${hit.length - 8} more` : '';
  return `${what} had non-finite values (NaN or infinity) for ${hit.length} ${hit.length === 1 ? 'gene' : 'genes'}: ${shown}${more}. Those cells were left out of those genes' tests; a gene with fewer than ${DE_THRESHOLDS.minCellsPerGroup} finite cells in either group is not called DE.`;
}
