/** Gene sets in GMT form (one set a line: name, URL, genes, tab-separated); the Hallmark collection. */
import { HALLMARK_GMT } from './data/reference';

export interface GeneSet {
  name: string;
  genes: string[];
}

export function parseGmt(text: string): GeneSet[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [name, , ...genes] = line.split('\t');
      return { name: name!, genes: genes.map((g) => g.trim()).filter(Boolean) };
    });
}

let hallmark: GeneSet[] | null = null;

/** MSigDB Hallmark v7.0, 50 sets (CC BY 4.0; Liberzon et al. 2015). */
export function hallmarkSets(): GeneSet[] {
  hallmark ??= parseGmt(HALLMARK_GMT);
  return hallmark;
}

export function hallmarkSet(name: string): GeneSet {
  const set = hallmarkSets().find((s) => s.name === name);
  if (!set) throw new Error(`No Hallmark set ${name}.`);
  return set;
}
