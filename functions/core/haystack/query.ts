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
  type CellType,
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

export const NotUsed = z.object({ term: z.string().max(200), reason: z.string().max(500) });
export type NotUsed = z.infer<typeof NotUsed>;

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
  /** A second condition the question compares with (same dataset): two predictions and their contrast. */
  comparison_perturbation: z.string().min(1).max(200).nullable().default(null),
  /** What the question names that the run does not use, and why: nothing is dropped silently. */
  not_used: z.array(NotUsed).max(20).default([]),
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
    .replace(/([0-9])([γβα])/g, '$1 $2')
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

interface Mention<T> {
  value: T;
  /** Where it is in the normalized question, for overlaps and order. */
  at: number;
  end: number;
}

/**
 * Every phrase of `candidates` the question names, each place once: the longest phrase wins a
 * place ("IL-1-beta" over "IL-1", "CD14 monocyte" over "monocyte"), and places already taken
 * (`taken`) are skipped. `prefix` matches a phrase at a word's start ("monocytes").
 */
function mentions<T>(
  words: string,
  candidates: readonly [string, T][],
  prefix: boolean,
  taken: { at: number; end: number }[],
): Mention<T>[] {
  const found: Mention<T>[] = [];
  const sorted = [...candidates].filter(([p]) => p).sort((a, b) => b[0].length - a[0].length);
  for (const [phrase, value] of sorted) {
    const needle = prefix ? ` ${phrase}` : ` ${phrase} `;
    for (let at = words.indexOf(needle); at >= 0; at = words.indexOf(needle, at + 1)) {
      const span = { at: at + 1, end: at + 1 + phrase.length };
      if (taken.some((t) => span.at < t.end && t.at < span.end)) continue;
      taken.push(span);
      found.push({ value, ...span });
    }
  }
  return found.sort((a, b) => a.at - b.at);
}

/** Condition names that are everyday words too: only their own capitals name the condition. */
const WORDLIKE_CONDITIONS = new Set(['LIGHT', 'APRIL']);

/** The datasets' conditions the question names, in the order it names them (each once). */
function findConditions(text: string, words: string, taken: { at: number; end: number }[]): string[] {
  const candidates: [string, string][] = [
    ...Object.entries(CONDITION_SYNONYMS),
    ...[...PARSE_PBMC_CONDITIONS, ...OPENPROBLEMS_COMPOUNDS]
      .filter((c) => !WORDLIKE_CONDITIONS.has(c) || new RegExp(`\\b${c}\\b`).test(text))
      .map((c) => [normalize(c), c] as [string, string]),
  ];
  return [...new Set(mentions(words, candidates, false, taken).map((m) => m.value))];
}

function findCellTypes(text: string, words: string, taken: { at: number; end: number }[]): CellType[] {
  const ids = [...text.matchAll(/CL:\d{7}/g)].map((m) => m[0]);
  const byId = ids.flatMap((id) => Object.values(CELL_TYPES).filter((t) => t.ontology_id === id));
  const named = mentions(
    words,
    CELL_TYPE_SYNONYMS.map(([phrase, name]) => [phrase, CELL_TYPES[name]!] as [string, CellType]),
    true,
    taken,
  ).map((m) => m.value);
  return [...new Set([...byId, ...named])];
}

/** Cytokine- and compound-like names the vocabulary does not have (IL-37, CXCL10): said, not dropped. */
function unknownConditionNames(text: string): string[] {
  const known = new Set(
    [...Object.keys(CONDITION_SYNONYMS), ...PARSE_PBMC_CONDITIONS, ...OPENPROBLEMS_COMPOUNDS].map(normalize),
  );
  return [
    ...new Set(
      [
        ...text.matchAll(
          /\b(?:IL|IFN|TNF|TGF|CCL|CXCL|CSF)[-\s]?(?:\d+[A-Za-zγαβ]?|(?:alpha|beta|gamma|lambda|omega|epsilon|[γαβ])\d*)(?:-[0-9A-Za-zγαβ]+)*/gi,
        ),
      ]
        .map((m) => m[0])
        .filter((name) => !known.has(normalize(name))),
    ),
  ];
}

const datasetOf = (condition: string): DatasetName =>
  OPENPROBLEMS_COMPOUNDS.includes(condition) ? 'openproblems' : 'parse_pbmc';
const isControl = (condition: string) =>
  DATASETS.some((d) => DATASET_DEFINITIONS[d].controls.includes(condition));

/** What a question names: its conditions (controls apart), cell types and unknown condition-like names. */
export function questionMentions(text: string): {
  conditions: string[];
  cellTypes: CellType[];
  unknown: string[];
} {
  const words = ` ${normalize(text)} `;
  const taken: { at: number; end: number }[] = [];
  const conditions = findConditions(text, words, taken).filter((c) => !isControl(c));
  return { conditions, cellTypes: findCellTypes(text, words, taken), unknown: unknownConditionNames(text) };
}

/**
 * The conditions a run uses from those a question names: the first, and a second to compare
 * with when both are in one dataset (the one asked for, if any); what is left is said with why.
 */
export function chooseConditions(
  conditions: readonly string[],
  dataset: DatasetName | undefined,
): { perturbation: string | null; comparison: string | null; notUsed: NotUsed[] } {
  const notUsed: NotUsed[] = [];
  const usable = conditions.filter((c) => {
    if (!dataset || DATASET_DEFINITIONS[dataset].conditions.includes(c)) return true;
    notUsed.push({ term: c, reason: `not a condition of ${dataset}, the dataset asked for` });
    return false;
  });
  const [perturbation = null, ...rest] = usable;
  let comparison: string | null = null;
  for (const other of rest) {
    if (comparison === null && perturbation && datasetOf(other) === datasetOf(perturbation))
      comparison = other;
    else if (comparison === null && perturbation)
      notUsed.push({
        term: other,
        reason: `in ${datasetOf(other)}, not ${datasetOf(perturbation)} where ${perturbation} is: a comparison needs both in one dataset; ask about ${other} separately`,
      });
    else
      notUsed.push({
        term: other,
        reason: `one comparison per question (${perturbation} with ${comparison}); ask about ${other} separately`,
      });
  }
  return { perturbation, comparison, notUsed };
}

/** What a reading leaves out of what the question names (any interpreter's reading). */
export function unusedMentions(
  text: string,
  used: { conditions: readonly (string | null)[]; cellTypeId: string | null },
): NotUsed[] {
  const found = questionMentions(text);
  return [
    ...found.conditions
      .filter((c) => !used.conditions.includes(c))
      .map((term) => ({ term, reason: 'not used in this reading of the question' })),
    ...found.cellTypes
      .filter((t) => t.ontology_id !== used.cellTypeId)
      .map((t) => ({
        term: t.name,
        reason: 'one cell type per question; ask about it separately',
      })),
    ...found.unknown.map((term) => ({
      term,
      reason: 'not a condition of the datasets (parse_pbmc cytokines, openproblems compounds)',
    })),
  ];
}

/** The reading in one line, as the form, the run page, the report and arc show it. */
export function describeQuery(query: StructuredQuery): string {
  const cell = `${query.target_cell_type}${query.target_cell_type_id ? ` (${query.target_cell_type_id})` : ''}`;
  if (!query.perturbation) return `${cell}, no perturbation (${query.task_type.replace(/_/g, ' ')})`;
  return `${cell} under ${query.perturbation}${
    query.comparison_perturbation ? `, compared with ${query.comparison_perturbation}` : ''
  }, prompted from ${query.dataset}`;
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
    const found = questionMentions(query);
    const [cellType, ...otherCellTypes] = found.cellTypes;
    if (!cellType) {
      throw new ValidationError(
        `Could not tell which cell type the question is about. Name one, e.g. "lung fibroblasts", "CD14 monocytes", "NK cells" or a Cell Ontology id such as CL:0002553.`,
        [{ field: 'query', rule: 'cell_type', message: 'no known cell type in the question' }],
      );
    }
    const chosen = chooseConditions(found.conditions, dataset);
    const condition = chosen.perturbation;
    const source = dataset ?? (condition ? datasetOf(condition) : 'parse_pbmc');
    const inSource = DATASET_DEFINITIONS[source].cell_types.some(
      (t) => t.cell_type.ontology_id === cellType.ontology_id,
    );
    const biology = expectedBiology(condition);
    const notUsed: NotUsed[] = [
      ...chosen.notUsed,
      ...otherCellTypes.map((t) => ({
        term: t.name,
        reason: `one cell type per question (${cellType.name} is used); ask about it separately`,
      })),
      ...found.unknown.map((term) => ({
        term,
        reason: 'not a condition of the datasets (parse_pbmc cytokines, openproblems compounds)',
      })),
    ];
    return StructuredQuery.parse({
      task_type: !condition
        ? 'cell_type_imputation'
        : inSource
          ? 'perturbation_response'
          : 'perturbation_novel_cell_type',
      target_cell_type: cellType.name,
      target_cell_type_id: cellType.ontology_id,
      perturbation: condition,
      comparison_perturbation: chosen.comparison,
      dataset: source,
      ...biology,
      interpreter: 'rules',
      not_used: notUsed,
      rationale: `Rule-based reading (no language model): cell type "${cellType.name}" (${cellType.ontology_id})${
        condition ? `, perturbation "${condition}" from ${source}` : ', no perturbation named'
      }${chosen.comparison ? `, compared with "${chosen.comparison}"` : ''}${
        biology.expected_pathways.length ? `; expected: ${biology.expected_pathways.join(', ')}` : ''
      }.`,
    });
  }
}
