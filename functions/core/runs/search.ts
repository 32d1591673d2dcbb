/**
 * What the page's search box finds a run by: its name, sample names, NGS runs and project,
 * case-insensitively and by prefix ("pbmc" finds PBMC_1). Firestore has neither, so each word's
 * lowercase prefixes (2 characters and up) are stored on the run (`search_terms`) and queried
 * with array-contains; the list stays bounded so the document's index entries do too.
 */
import type { Run } from './run-model';

export const MAX_SEARCH_TERMS = 3_000;
const MAX_TERM = 40;

function prefixes(word: string): string[] {
  const lower = word.toLowerCase().slice(0, MAX_TERM);
  const out: string[] = [];
  for (let n = Math.min(2, lower.length); n <= lower.length; n++) out.push(lower.slice(0, n));
  return out;
}

export function searchTerms(
  run: Pick<Run, 'name' | 'samples' | 'source_ngs_runs' | 'source_project'>,
): string[] {
  const words = [
    run.name ?? '',
    ...(run.name ?? '').split(/\s+/),
    ...run.source_ngs_runs,
    run.source_project ?? '',
    ...run.samples,
  ].filter((w) => w.trim() !== '');
  const terms = new Set<string>();
  for (const word of words) {
    for (const term of prefixes(word.trim())) {
      if (terms.size >= MAX_SEARCH_TERMS) return [...terms];
      terms.add(term);
    }
  }
  return [...terms];
}

/** The search box's text as it is looked up. */
export const searchKey = (text: string) => text.trim().toLowerCase().slice(0, MAX_TERM);
