/**
 * Prompt strategies, tried in order and never the same prompt twice: direct (the condition
 * itself), mechanistic (another condition sharing its pathway), lexical (a condition of the
 * same family by name), ontology (the condition on a related cell type, by Cell Ontology).
 */
import type { StructuredQuery } from './query';
import { CONDITION_PROGRAMS, DATASET_DEFINITIONS, type DatasetName, ONTOLOGY_PARENTS } from './vocabulary';

export const PROMPT_STRATEGIES = ['direct', 'mechanistic', 'lexical', 'ontology'] as const;
export type PromptStrategy = (typeof PROMPT_STRATEGIES)[number];

export interface Prompt {
  strategy: PromptStrategy;
  dataset: DatasetName;
  condition: string;
  /** The prompt cells' cell type (Cell Ontology name). */
  cell_type: string;
  rationale: string;
}

const family = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z]+/g, '')
    .replace(/(alpha|beta|gamma|omega|epsilon|lambda)\d*$/, '');

/** The prompt dataset's cell types, the best match for the target first. */
function cellTypesByCloseness(dataset: DatasetName, targetId: string | null): string[] {
  const types = DATASET_DEFINITIONS[dataset].cell_types.map((t) => t.cell_type);
  const parent = targetId ? ONTOLOGY_PARENTS[targetId]?.id : undefined;
  const score = (t: (typeof types)[number]) =>
    (t.ontology_id === targetId ? 100 : 0) +
    (parent && ONTOLOGY_PARENTS[t.ontology_id]?.id === parent ? 10 : 0) +
    t.responsiveness;
  return [...new Set(types.sort((a, b) => score(b) - score(a)).map((t) => t.name))];
}

/** Every candidate prompt for the query, in the order the strategies try them. */
export function candidatePrompts(query: StructuredQuery): Prompt[] {
  if (!query.perturbation) return [];
  const dataset = query.dataset;
  const conditions = DATASET_DEFINITIONS[dataset].conditions.filter(
    (c) => !DATASET_DEFINITIONS[dataset].controls.includes(c),
  );
  const types = cellTypesByCloseness(dataset, query.target_cell_type_id);
  const best = types[0]!;
  const sets = new Set((CONDITION_PROGRAMS[query.perturbation] ?? []).map((p) => p.set));
  const out: Prompt[] = [
    {
      strategy: 'direct',
      dataset,
      condition: query.perturbation,
      cell_type: best,
      rationale: `${query.perturbation} itself, on ${best}, the closest cell type ${dataset} has to ${query.target_cell_type}.`,
    },
  ];
  for (const condition of conditions) {
    if (condition === query.perturbation) continue;
    const shared = (CONDITION_PROGRAMS[condition] ?? []).find((p) => sets.has(p.set) && p.strength > 0);
    if (shared)
      out.push({
        strategy: 'mechanistic',
        dataset,
        condition,
        cell_type: best,
        rationale: `${condition} drives ${shared.set} as ${query.perturbation} does.`,
      });
  }
  for (const condition of conditions) {
    if (condition !== query.perturbation && family(condition) === family(query.perturbation))
      out.push({
        strategy: 'lexical',
        dataset,
        condition,
        cell_type: best,
        rationale: `${condition} is of the same family as ${query.perturbation} by name.`,
      });
  }
  for (const cellType of types.slice(1, 4)) {
    out.push({
      strategy: 'ontology',
      dataset,
      condition: query.perturbation,
      cell_type: cellType,
      rationale: `${query.perturbation} on ${cellType}, a related cell type (Cell Ontology).`,
    });
  }
  return out;
}

/**
 * The next prompt: the first candidate not yet tried, preferring the strategy the last
 * evaluation suggested; null when every candidate was tried.
 */
export function nextPrompt(candidates: Prompt[], tried: Prompt[], suggestions: string[]): Prompt | null {
  const key = (p: Prompt) => `${p.dataset}/${p.condition}/${p.cell_type}`;
  const seen = new Set(tried.map(key));
  const open = candidates.filter((c) => !seen.has(key(c)));
  const wanted = PROMPT_STRATEGIES.find((s) =>
    suggestions.some((text) => text.includes(`${s} prompt`) || text.includes(`(${s})`)),
  );
  return (wanted ? open.find((c) => c.strategy === wanted) : undefined) ?? open[0] ?? null;
}
