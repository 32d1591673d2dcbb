/**
 * The statistics of evaluation: the two-sided Wilcoxon rank-sum test (Mann–Whitney U, normal
 * approximation with the tie correction, no continuity correction: scipy's
 * `mannwhitneyu(method="asymptotic", use_continuity=False)`, scanpy's "wilcoxon" with
 * tie_correct), Benjamini–Hochberg, and the hypergeometric upper tail for over-representation.
 * Checked against scipy (test/fixtures/haystack/scipy-reference.json).
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

export function mannWhitneyU(x: ArrayLike<number>, y: ArrayLike<number>): RankSum {
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

/** Benjamini–Hochberg adjusted p-values, in the input's order. */
export function benjaminiHochberg(p: ArrayLike<number>): Float64Array {
  const m = p.length;
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => p[a]! - p[b]!);
  const adjusted = new Float64Array(m);
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
  pval: number;
  padj: number;
  is_de: boolean;
}

/**
 * DE of `group` against `reference`, both log1p-CP10k (cells × genes): rank-sum per gene,
 * BH over genes, log2 fold change of the means as scanpy computes it.
 */
export function differentialExpression(group: Matrix, reference: Matrix, genes: string[]): GeneDE[] {
  const enough =
    group.rows >= DE_THRESHOLDS.minCellsPerGroup && reference.rows >= DE_THRESHOLDS.minCellsPerGroup;
  const x = new Float64Array(group.rows);
  const y = new Float64Array(reference.rows);
  const rows = genes.map((gene, g) => {
    let sx = 0;
    let sy = 0;
    for (let r = 0; r < group.rows; r++) sx += x[r] = group.data[r * group.cols + g]!;
    for (let r = 0; r < reference.rows; r++) sy += y[r] = reference.data[r * reference.cols + g]!;
    const test = mannWhitneyU(x, y);
    const meanX = group.rows ? sx / group.rows : 0;
    const meanY = reference.rows ? sy / reference.rows : 0;
    const log2fc = Math.log2((Math.expm1(meanX) + 1e-9) / (Math.expm1(meanY) + 1e-9));
    return { gene, log2fc, score: test.z, pval: test.p };
  });
  const padj = benjaminiHochberg(rows.map((r) => r.pval));
  return rows.map((r, i) => ({
    ...r,
    padj: padj[i]!,
    is_de: enough && Math.abs(r.log2fc) >= DE_THRESHOLDS.minAbsLog2FC && padj[i]! <= DE_THRESHOLDS.maxPadj,
  }));
}
