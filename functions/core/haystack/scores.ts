/**
 * Grounding scores, integers 1–10: pathway coherence P, target activation T, literature
 * support L (neutral offline: nothing is invented), network coherence N, and the composite
 * `max(1, min(10, round_half_even(0.25·P + 0.30·T + 0.25·L + 0.20·N) − penalty))`.
 */
import { ENRICHED_PADJ, type Enrichment } from './enrichment';
import type { GeneDE } from './stats';

/** Round half to even (banker's rounding): 6.5 → 6, 7.5 → 8, as the reference's language rounds. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  const EPS = 1e-9;
  if (Math.abs(diff - 0.5) < EPS) return floor % 2 === 0 ? floor : floor + 1;
  return Math.round(value);
}

const clamp = (value: number) => Math.max(1, Math.min(10, value));

/** Query-as-control keeps the prompting artifact: its composite loses a point (also after a fallback). */
export const QUERY_AS_CONTROL_PENALTY = 1;

export function compositeScore(scores: { P: number; T: number; L: number; N: number }, penalty = 0): number {
  return clamp(roundHalfEven(0.25 * scores.P + 0.3 * scores.T + 0.25 * scores.L + 0.2 * scores.N) - penalty);
}

export interface ExpectedBiology {
  pathways: string[];
  /** Gene → the direction it should move. */
  targets: { gene: string; direction: 'up' | 'down' }[];
}

export interface Grounding {
  P: number;
  T: number;
  L: number;
  N: number;
  composite: number;
  penalty: number;
  literature_source: 'unavailable';
  de_up: string[];
  de_down: string[];
  enriched: Enrichment[];
  expected_pathways_found: { set: string; rank: number; padj: number }[];
  targets_moved: string[];
  suggestions: string[];
}

/** P: where the expected pathways rank among the significantly enriched sets. */
function pathwayScore(enriched: Enrichment[], expected: string[], deCount: number) {
  if (deCount === 0) return { score: 1, found: [] };
  const significant = enriched.filter((e) => e.padj <= ENRICHED_PADJ);
  const found = expected.flatMap((set) => {
    const rank = significant.findIndex((e) => e.set === set);
    return rank >= 0 ? [{ set, rank: rank + 1, padj: significant[rank]!.padj }] : [];
  });
  if (found.length === 0) return { score: significant.length === 0 ? 2 : 3, found };
  const best = Math.min(...found.map((f) => f.rank));
  const byRank = best === 1 ? 10 : best === 2 ? 9 : best === 3 ? 8 : best <= 5 ? 7 : 6;
  return { score: byRank, found };
}

/** T: the share of expected targets that moved, significantly, the expected way. */
function targetScore(de: GeneDE[], targets: ExpectedBiology['targets']) {
  const byGene = new Map(de.map((d) => [d.gene, d]));
  const measured = targets.filter((t) => byGene.has(t.gene));
  if (measured.length === 0) return { score: 5, moved: [] };
  const moved = measured.filter((t) => {
    const d = byGene.get(t.gene)!;
    return d.is_de && (t.direction === 'up' ? d.log2fc > 0 : d.log2fc < 0);
  });
  return {
    score: clamp(1 + Math.round((9 * moved.length) / measured.length)),
    moved: moved.map((t) => t.gene),
  };
}

/** N: the share of DE genes that belong to some significantly enriched set (they act together). */
function networkScore(deGenes: string[], enriched: Enrichment[]) {
  if (deGenes.length === 0) return 1;
  const inSets = new Set(enriched.filter((e) => e.padj <= ENRICHED_PADJ).flatMap((e) => e.overlap));
  const share = deGenes.filter((g) => inSets.has(g)).length / deGenes.length;
  return clamp(1 + Math.round(9 * share));
}

export function grounding(
  de: GeneDE[],
  enriched: Enrichment[],
  expected: ExpectedBiology,
  options: { queryAsControl: boolean },
): Grounding {
  const up = de.filter((d) => d.is_de && d.log2fc > 0).sort((a, b) => a.padj - b.padj || b.log2fc - a.log2fc);
  const down = de
    .filter((d) => d.is_de && d.log2fc < 0)
    .sort((a, b) => a.padj - b.padj || a.log2fc - b.log2fc);
  const deGenes = [...up, ...down].map((d) => d.gene);
  const P = pathwayScore(enriched, expected.pathways, deGenes.length);
  const T = targetScore(de, expected.targets);
  const L = 5;
  const N = networkScore(deGenes, enriched);
  const penalty = options.queryAsControl ? QUERY_AS_CONTROL_PENALTY : 0;
  const suggestions: string[] = [];
  if (deGenes.length === 0)
    suggestions.push(
      'No gene changed: try a prompt condition with a stronger program, or more prompt cells.',
    );
  if (P.found.length === 0 && expected.pathways.length > 0)
    suggestions.push(
      `The expected pathways (${expected.pathways.join(', ')}) are not enriched: try a mechanistic prompt sharing them.`,
    );
  if (T.moved.length < expected.targets.length / 2 && expected.targets.length > 0)
    suggestions.push(
      'Fewer than half the expected targets moved: try prompt cells closer to the target cell type (ontology).',
    );
  if (options.queryAsControl)
    suggestions.push(
      'Compared with the query cells themselves: cell-identity differences count as DE. A synthetic control removes them.',
    );
  return {
    P: P.score,
    T: T.score,
    L,
    N,
    composite: compositeScore({ P: P.score, T: T.score, L, N }, penalty),
    penalty,
    literature_source: 'unavailable',
    de_up: up.map((d) => d.gene),
    de_down: down.map((d) => d.gene),
    enriched: enriched.slice(0, 20),
    expected_pathways_found: P.found,
    targets_moved: T.moved,
    suggestions,
  };
}
