/** Over-representation of DE genes in the Hallmark sets (hypergeometric, BH across sets). */
import type { GeneSet } from './gene-sets';
import { benjaminiHochberg, hypergeometricUpperTail } from './stats';

export interface Enrichment {
  set: string;
  /** DE genes in the set. */
  overlap: string[];
  /** Set genes among the measured genes. */
  set_size: number;
  pval: number;
  padj: number;
}

export const ENRICHED_PADJ = 0.05;

/**
 * Each set against the measured genes (the universe): P(overlap ≥ observed) for the DE genes
 * drawn from it. Sets with no measured gene are left out. Sorted by p-value, then name.
 */
export function overRepresentation(deGenes: string[], universe: string[], sets: GeneSet[]): Enrichment[] {
  const measured = new Set(universe);
  const hits = new Set(deGenes.filter((g) => measured.has(g)));
  const rows = sets
    .map((set) => {
      const members = set.genes.filter((g) => measured.has(g));
      const overlap = members.filter((g) => hits.has(g));
      return {
        set: set.name,
        overlap,
        set_size: members.length,
        pval:
          overlap.length === 0
            ? 1
            : hypergeometricUpperTail(overlap.length, measured.size, members.length, hits.size),
      };
    })
    .filter((row) => row.set_size > 0);
  const padj = benjaminiHochberg(rows.map((r) => r.pval));
  return rows
    .map((r, i) => ({ ...r, padj: padj[i]! }))
    .sort((a, b) => a.pval - b.pval || b.overlap.length - a.overlap.length || a.set.localeCompare(b.set));
}
