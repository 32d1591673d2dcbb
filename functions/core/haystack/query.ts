/**
 * A biologist's question as HAYSTACK works on it: the structured query (zod), the interpreter
 * port (Claude, or the rule-based interpreter over the shipped vocabulary), and the rules.
 */
import { z } from 'zod';
import { ValidationError } from '../shared/errors';
import { hallmarkSet } from './gene-sets';
import {
  atlasGenes,
  CELL_TYPES,
  CONDITION_PROGRAMS,
  DATASET_DEFINITIONS,
  DATASETS,
  type DatasetName,
  OPENPROBLEMS_COMPOUNDS,
  PARSE_PBMC_CONDITIONS,
} from './vocabulary';

export const TASK_TYPES = [
  'perturbation_novel_cell_type',
  'perturbation_response',
  'cell_type_imputation',
] as const;

export const StructuredQuery = z.object({
  task_type: z.enum(TASK_TYPES),
  target_cell_type: z.string().min(1).max(200),
  target_cell_type_id: z
    .string()
    .regex(/^CL:\d{7}$/)
    .nullable(),
  perturbation: z.string().min(1).max(200).nullable(),
  /** The dataset prompt cells come from. */
  dataset: z.enum(DATASETS),
  expected_pathways: z.array(z.string().regex(/^HALLMARK_[A-Z0-9_]+$/)).max(10),
  expected_targets: z
    .array(z.object({ gene: z.string().min(1).max(30), direction: z.enum(['up', 'down']) }))
    .max(50),
  interpreter: z.enum(['claude', 'rules']),
  /** What was understood, in words, for the log and the report. */
  rationale: z.string().max(2_000),
});
export type StructuredQuery = z.infer<typeof StructuredQuery>;

/** Turns the question into a structured query; throws ValidationError when it cannot. */
export interface QueryInterpreter {
  readonly kind: 'claude' | 'rules';
  interpret(query: string, dataset?: DatasetName): Promise<StructuredQuery>;
}

const normalize = (text: string) =>
  text
    .toLowerCase()
    .replace(/γ/g, 'gamma')
    .replace(/β/g, 'beta')
    .replace(/α/g, 'alpha')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();

/** Words people use → the datasets' condition names. */
const CONDITION_SYNONYMS: Record<string, string> = {
  'interferon gamma': 'IFN-gamma',
  ifng: 'IFN-gamma',
  'ifn g': 'IFN-gamma',
  'interferon beta': 'IFN-beta',
  'interferon alpha': 'IFN-alpha1',
  'tumor necrosis factor': 'TNF-alpha',
  'tumour necrosis factor': 'TNF-alpha',
  tnf: 'TNF-alpha',
  tnfa: 'TNF-alpha',
  'tgf beta': 'TGF-beta1',
  tgfb: 'TGF-beta1',
  tgfb1: 'TGF-beta1',
  'transforming growth factor beta': 'TGF-beta1',
  'interleukin 6': 'IL-6',
  il6: 'IL-6',
  'interleukin 2': 'IL-2',
  il2: 'IL-2',
  'interleukin 15': 'IL-15',
  'interleukin 1 beta': 'IL-1-beta',
  il1b: 'IL-1-beta',
  'interleukin 4': 'IL-4',
  oncostatin: 'OSM',
  dmso: 'Dimethyl Sulfoxide',
};

/** Words people use → Cell Ontology names. */
const CELL_TYPE_SYNONYMS: [string, string][] = [
  ['lung fibroblast', 'fibroblast of lung'],
  ['pulmonary fibroblast', 'fibroblast of lung'],
  ['fibroblasts of the lung', 'fibroblast of lung'],
  ['fibroblast', 'fibroblast of lung'],
  ['cd14 monocyte', 'CD14-positive monocyte'],
  ['classical monocyte', 'CD14-positive monocyte'],
  ['monocyte', 'CD14-positive monocyte'],
  ['natural killer', 'natural killer cell'],
  ['nk cell', 'natural killer cell'],
  ['regulatory t', 'regulatory T cell'],
  ['t regulatory', 'regulatory T cell'],
  ['treg', 'regulatory T cell'],
  ['cd4', 'CD4-positive, alpha-beta T cell'],
  ['helper t', 'CD4-positive, alpha-beta T cell'],
  ['cd8', 'CD8-positive, alpha-beta T cell'],
  ['cytotoxic t', 'CD8-positive, alpha-beta T cell'],
  ['plasmacytoid', 'plasmacytoid dendritic cell'],
  ['pdc', 'plasmacytoid dendritic cell'],
  ['b cell', 'B cell'],
  ['macrophage', 'macrophage'],
  ['hepatocyte', 'hepatocyte'],
  ['liver cell', 'hepatocyte'],
];

function findCondition(text: string): { condition: string; dataset: DatasetName } | null {
  const words = ` ${normalize(text)} `;
  const candidates: [string, string][] = [
    ...Object.entries(CONDITION_SYNONYMS),
    ...[...PARSE_PBMC_CONDITIONS, ...OPENPROBLEMS_COMPOUNDS].map(
      (c) => [normalize(c), c] as [string, string],
    ),
  ];
  // The longest phrase that appears wins ("IL-1-beta" over "IL-1").
  const found = candidates
    .filter(([phrase]) => phrase && words.includes(` ${phrase} `))
    .sort((a, b) => b[0].length - a[0].length)[0];
  if (!found) return null;
  const condition = found[1];
  return { condition, dataset: OPENPROBLEMS_COMPOUNDS.includes(condition) ? 'openproblems' : 'parse_pbmc' };
}

function findCellType(text: string): (typeof CELL_TYPES)[string] | null {
  const id = /CL:\d{7}/.exec(text)?.[0];
  if (id) return Object.values(CELL_TYPES).find((t) => t.ontology_id === id) ?? null;
  const words = ` ${normalize(text)} `;
  for (const [phrase, name] of CELL_TYPE_SYNONYMS) if (words.includes(` ${phrase}`)) return CELL_TYPES[name]!;
  return null;
}

/** The Hallmark programs a condition implies, and their leading genes as targets. */
export function expectedBiology(condition: string | null) {
  const programs = condition ? (CONDITION_PROGRAMS[condition] ?? []) : [];
  const measured = new Set(atlasGenes());
  return {
    expected_pathways: programs.map((p) => p.set),
    expected_targets: programs.flatMap((p) =>
      hallmarkSet(p.set)
        .genes.filter((g) => measured.has(g))
        .slice(0, 15)
        .map((gene) => ({ gene, direction: p.strength > 0 ? ('up' as const) : ('down' as const) })),
    ),
  };
}

/**
 * The local interpreter, and the fallback when no Anthropic key is set: vocabulary lookups and
 * synonyms ("interferon gamma" → IFN-gamma, "lung fibroblast" → CL:0002553). Labelled
 * `interpreter: "rules"` wherever its result shows.
 */
export class RuleBasedInterpreter implements QueryInterpreter {
  readonly kind = 'rules' as const;

  async interpret(query: string, dataset?: DatasetName): Promise<StructuredQuery> {
    const condition = findCondition(query);
    const cellType = findCellType(query);
    if (!cellType) {
      throw new ValidationError(
        `Could not tell which cell type the question is about. Name one, e.g. "lung fibroblasts", "CD14 monocytes", "NK cells" or a Cell Ontology id such as CL:0002553.`,
        [{ field: 'query', rule: 'cell_type', message: 'no known cell type in the question' }],
      );
    }
    const source = dataset ?? condition?.dataset ?? 'parse_pbmc';
    const inSource = DATASET_DEFINITIONS[source].cell_types.some(
      (t) => t.cell_type.ontology_id === cellType.ontology_id,
    );
    const biology = expectedBiology(condition?.condition ?? null);
    return StructuredQuery.parse({
      task_type: !condition
        ? 'cell_type_imputation'
        : inSource
          ? 'perturbation_response'
          : 'perturbation_novel_cell_type',
      target_cell_type: cellType.name,
      target_cell_type_id: cellType.ontology_id,
      perturbation: condition?.condition ?? null,
      dataset: source,
      ...biology,
      interpreter: 'rules',
      rationale: `Rule-based reading (no language model): cell type "${cellType.name}" (${cellType.ontology_id})${
        condition ? `, perturbation "${condition.condition}" from ${source}` : ', no perturbation named'
      }${biology.expected_pathways.length ? `; expected: ${biology.expected_pathways.join(', ')}` : ''}.`,
    });
  }
}
