/**
 * HAYSTACK's query interpreter on Claude: one Messages call that must answer with the
 * `structured_query` tool (tool_choice forces it); the input is validated with zod against the
 * shipped vocabulary. Anything Claude answers that does not validate — an unknown cell type or
 * condition, a malformed field — or Claude being unavailable, falls back to the rule-based
 * interpreter, and the result says which one read the question.
 */

import { z } from 'zod';
import { hallmarkSets } from '../core/haystack/gene-sets';
import {
  chooseConditions,
  expectedBiology,
  type QueryInterpreter,
  RuleBasedInterpreter,
  type StructuredQuery,
  unusedMentions,
} from '../core/haystack/query';
import {
  CELL_TYPES,
  DATASET_DEFINITIONS,
  DATASETS,
  type DatasetName,
  OPENPROBLEMS_COMPOUNDS,
  PARSE_PBMC_CONDITIONS,
} from '../core/haystack/vocabulary';
import { modelTakesTemperature } from '../core/shared/claude-models';
import { type AnthropicClient, modelErrorFrom } from './anthropic-chat-model';

const cellTypeIds = Object.values(CELL_TYPES).map((t) => t.ontology_id);
const conditions = [...PARSE_PBMC_CONDITIONS, ...OPENPROBLEMS_COMPOUNDS];

/** What Claude is asked to fill in; our own fields (targets, labels) are derived after. */
export const ClaudeReading = z.object({
  task_type: z.enum(['perturbation_novel_cell_type', 'perturbation_response', 'cell_type_imputation']),
  target_cell_type_id: z
    .enum(cellTypeIds as [string, ...string[]])
    .describe('Cell Ontology id of the cell type asked about'),
  perturbation: z
    .enum(conditions as [string, ...string[]])
    .nullable()
    .describe('the condition exactly as the datasets name it, or null'),
  dataset: z.enum(DATASETS).describe('where prompt cells with that condition come from'),
  expected_pathways: z
    .array(z.string())
    .max(5)
    .describe('MSigDB Hallmark set names the response should involve'),
  comparison_perturbation: z
    .enum(conditions as [string, ...string[]])
    .nullable()
    .default(null)
    .describe('a second condition the question compares the first with (same dataset), or null'),
  not_used: z
    .array(z.object({ term: z.string().max(200), reason: z.string().max(500) }))
    .max(10)
    .default([])
    .describe(
      'what the question asks about that this reading cannot use (a second cell type, a condition not in the vocabulary), and why',
    ),
  rationale: z.string().max(1_000).describe('one or two sentences: how the question was read'),
});

const SYSTEM = `You read a biologist's question for HAYSTACK, which prompts a single-cell model with cells.
Answer only with the structured_query tool. Use the vocabulary given; never invent names.
Cell types (Cell Ontology): ${Object.values(CELL_TYPES)
  .map((t) => `${t.ontology_id} ${t.name}`)
  .join('; ')}.
Datasets: ${DATASETS.map((d) => `${d} (${DATASET_DEFINITIONS[d].title})`).join('; ')}.
parse_pbmc conditions: ${PARSE_PBMC_CONDITIONS.join(', ')}. openproblems compounds: ${OPENPROBLEMS_COMPOUNDS.join(', ')}.
Hallmark sets: ${hallmarkSets()
  .map((s) => s.name)
  .join(', ')}.`;

export class AnthropicQueryInterpreter implements QueryInterpreter {
  readonly kind = 'claude' as const;
  private readonly rules = new RuleBasedInterpreter();

  constructor(
    private readonly client: AnthropicClient,
    private readonly model: string,
    private readonly onFallback: (reason: string) => void = () => {},
  ) {}

  async interpret(query: string, dataset?: DatasetName): Promise<StructuredQuery> {
    let reading: z.infer<typeof ClaudeReading>;
    try {
      const sdk = await this.client.get();
      const message = await sdk.messages.create({
        model: this.model,
        max_tokens: 1_000,
        // As literal as the model allows: models after Claude Opus 4.6 take no temperature.
        ...(modelTakesTemperature(this.model) ? { temperature: 0 } : {}),
        system: SYSTEM,
        messages: [
          { role: 'user', content: dataset ? `${query}\n(Prompt from the ${dataset} dataset.)` : query },
        ],
        tools: [
          {
            name: 'structured_query',
            description: 'The question as HAYSTACK needs it.',
            input_schema: z.toJSONSchema(ClaudeReading) as { type: 'object' },
          },
        ],
        tool_choice: { type: 'tool', name: 'structured_query' },
      });
      const use = message.content.find((block) => block.type === 'tool_use');
      const parsed = ClaudeReading.safeParse(use?.type === 'tool_use' ? use.input : undefined);
      if (!parsed.success) {
        this.onFallback(
          `Claude's reading did not validate: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
        return this.rules.interpret(query, dataset);
      }
      reading = parsed.data;
    } catch (error) {
      this.onFallback(modelErrorFrom(error).message);
      return this.rules.interpret(query, dataset);
    }
    const cellType = Object.values(CELL_TYPES).find((t) => t.ontology_id === reading.target_cell_type_id)!;
    // A comparison runs within one dataset; what the question names and the reading left out is
    // said whatever Claude reported (a second look by the vocabulary).
    const chosen = chooseConditions(
      [reading.perturbation, reading.comparison_perturbation].filter((c): c is string => c !== null),
      dataset,
    );
    // Claude's own words for a term ("B cells") count as saying the vocabulary's ("B cell").
    const key = (term: string) => term.toLowerCase().replace(/[^a-z0-9]+/g, '');
    const saidTerms = reading.not_used.map((n) => key(n.term));
    const said = { has: (term: string) => saidTerms.some((t) => t.includes(term) || term.includes(t)) };
    const notUsed = [
      ...reading.not_used,
      ...chosen.notUsed,
      ...unusedMentions(query, {
        conditions: [chosen.perturbation, chosen.comparison],
        cellTypeId: cellType.ontology_id,
      }).filter((n) => !said.has(key(n.term)) && !chosen.notUsed.some((c) => c.term === n.term)),
    ].slice(0, 20);
    const biology = expectedBiology(chosen.perturbation);
    const known = new Set(hallmarkSets().map((s) => s.name));
    const pathways = reading.expected_pathways.filter((p) => known.has(p));
    return {
      task_type: chosen.perturbation ? reading.task_type : 'cell_type_imputation',
      target_cell_type: cellType.name,
      target_cell_type_id: cellType.ontology_id,
      perturbation: chosen.perturbation,
      comparison_perturbation: chosen.comparison,
      not_used: notUsed,
      // The dataset that holds the condition wins over Claude's pick: prompts need its cells.
      dataset:
        dataset ??
        (chosen.perturbation && OPENPROBLEMS_COMPOUNDS.includes(chosen.perturbation)
          ? 'openproblems'
          : chosen.perturbation && PARSE_PBMC_CONDITIONS.includes(chosen.perturbation)
            ? 'parse_pbmc'
            : reading.dataset),
      expected_pathways: pathways.length ? pathways : biology.expected_pathways,
      expected_targets: biology.expected_targets,
      interpreter: 'claude',
      rationale: reading.rationale,
    };
  }
}
