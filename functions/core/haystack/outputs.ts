/**
 * A run's three outputs: the predictions (AnnData: obs, var, uns as HAYSTACK.md lays them out),
 * a self-contained HTML report, and log.json (its zod schema here). All say what is synthetic
 * and what model made them.
 */

import { z } from 'zod';
import { haystackPaths } from '../shared/bucket-layout';
import { escapeHtml } from '../shared/format';
import type { ObjectStore } from '../shared/ports';
import { type AnnData, type Column, stringColumn, UnsTable } from './anndata';
import type { Enrichment } from './enrichment';
import type { HaystackRequest, HaystackResult } from './loop';
import { TERMINATION_REASONS } from './phases';
import type { AnnDataFiles } from './ports';
import { describeQuery } from './query';
import { RANK_SUM_METHOD } from './stats';
import { DATASET_DEFINITIONS, type DatasetName } from './vocabulary';

const TopPathway = z.object({ set: z.string(), padj: z.number(), overlap: z.number().int() });
const topPathways = (enriched: Enrichment[]) =>
  enriched.slice(0, 5).map((e) => ({ set: e.set, padj: e.padj, overlap: e.overlap.length }));

export const HaystackLog = z.object({
  run_id: z.string(),
  query: z.string(),
  config: z.object({
    control_strategy: z.string(),
    max_iterations: z.number().int(),
    score_threshold: z.number().int(),
    dataset: z.string().nullable(),
    seed: z.number().int(),
  }),
  structured_query: z.record(z.string(), z.unknown()),
  interpreter: z.enum(['claude', 'rules']),
  model: z.string(),
  control_strategy: z.string(),
  control_strategy_effective: z.string(),
  iterations: z.array(
    z.object({
      iteration: z.number().int(),
      strategy: z.string(),
      dataset: z.string(),
      condition: z.string(),
      cell_type: z.string(),
      rationale: z.string(),
      prompt_cells: z.number().int(),
      control_cells: z.number().int(),
      control_strategy_effective: z.string(),
      scores: z.object({
        P: z.number(),
        T: z.number(),
        L: z.number(),
        N: z.number(),
        composite: z.number(),
        penalty: z.number(),
      }),
      de_up: z.number().int(),
      de_down: z.number().int(),
      top_pathways: z.array(TopPathway),
      suggestions: z.array(z.string()),
      warnings: z.array(z.string()),
    }),
  ),
  not_used: z.array(z.object({ term: z.string(), reason: z.string() })),
  comparison: z
    .object({
      perturbation: z.string(),
      best_prompt_condition: z.string(),
      comparison: z.string(),
      prompt: z.object({
        strategy: z.string(),
        dataset: z.string(),
        condition: z.string(),
        cell_type: z.string(),
      }),
      prompt_cells: z.number().int(),
      error: z.string().nullable(),
      response: z.object({
        de_up: z.array(z.string()),
        de_down: z.array(z.string()),
        top_pathways: z.array(TopPathway),
      }),
      contrast: z.object({
        higher_under_first: z.array(z.string()),
        higher_under_second: z.array(z.string()),
        top_pathways: z.array(TopPathway),
      }),
    })
    .nullable(),
  final_score: z.number().nullable(),
  termination_reason: z.enum(TERMINATION_REASONS),
  error_message: z.string().nullable(),
  data: z.object({ dataset_kind: z.literal('synthetic'), note: z.string() }),
  literature: z.object({ source: z.literal('unavailable'), score: z.literal(5) }),
});
export type HaystackLog = z.infer<typeof HaystackLog>;

const SYNTHETIC_NOTE =
  'Cells are synthetic (generated from a seed with the real datasets’ vocabulary); predictions come from the STACK stand-in (a mean-shift baseline), not STACK.';

export function haystackLog(runId: string, request: HaystackRequest, result: HaystackResult): HaystackLog {
  return HaystackLog.parse({
    run_id: runId,
    query: request.query,
    config: {
      control_strategy: request.control_strategy,
      max_iterations: request.max_iterations,
      score_threshold: request.score_threshold,
      dataset: request.dataset ?? null,
      seed: request.seed,
    },
    structured_query: result.structured_query,
    interpreter: result.structured_query.interpreter,
    model: result.model,
    control_strategy: result.control_strategy,
    control_strategy_effective: result.control_strategy_effective,
    iterations: result.iterations.map((it) => ({
      iteration: it.iteration,
      strategy: it.prompt.strategy,
      dataset: it.prompt.dataset,
      condition: it.prompt.condition,
      cell_type: it.prompt.cell_type,
      rationale: it.prompt.rationale,
      prompt_cells: it.prompt_cells,
      control_cells: it.control_cells,
      control_strategy_effective: it.control_strategy_effective,
      scores: {
        P: it.grounding.P,
        T: it.grounding.T,
        L: it.grounding.L,
        N: it.grounding.N,
        composite: it.grounding.composite,
        penalty: it.grounding.penalty,
      },
      de_up: it.grounding.de_up.length,
      de_down: it.grounding.de_down.length,
      top_pathways: topPathways(it.grounding.enriched),
      warnings: it.warnings,
      suggestions: it.grounding.suggestions,
    })),
    not_used: result.structured_query.not_used,
    comparison: result.comparison?.prompt
      ? {
          perturbation: result.comparison.perturbation,
          best_prompt_condition: result.comparison.best_prompt_condition,
          comparison: result.comparison.comparison,
          prompt: {
            strategy: result.comparison.prompt.strategy,
            dataset: result.comparison.prompt.dataset,
            condition: result.comparison.prompt.condition,
            cell_type: result.comparison.prompt.cell_type,
          },
          prompt_cells: result.comparison.prompt_cells,
          error: result.comparison.error,
          response: {
            de_up: result.comparison.response.de_up,
            de_down: result.comparison.response.de_down,
            top_pathways: topPathways(result.comparison.response.enriched),
          },
          contrast: {
            higher_under_first: result.comparison.contrast.higher_under_first,
            higher_under_second: result.comparison.contrast.higher_under_second,
            top_pathways: topPathways(result.comparison.contrast.enriched),
          },
        }
      : null,
    final_score: result.final_score,
    termination_reason: result.termination_reason,
    error_message: result.error_message,
    data: { dataset_kind: 'synthetic', note: SYNTHETIC_NOTE },
    literature: { source: 'unavailable', score: 5 },
  });
}

const nonEmpty = (key: string, values: string[]): Record<string, string[]> =>
  values.length > 0 ? { [key]: values } : {};

/** The best iteration's predicted counts for the query cells, annotated. */
export function predictionsAnnData(runId: string, request: HaystackRequest, result: HaystackResult): AnnData {
  const query = result.query_cells;
  const prediction = result.prediction;
  const best = result.best;
  if (!query || !prediction || !best)
    throw new Error('No iteration finished: there are no predictions to write.');
  const n = query.obs.index.length;
  const fill = (value: string): Column => ({
    kind: 'string',
    values: Array.from({ length: n }, () => value),
  });
  const sq = result.structured_query;
  const byGene = new Map(result.de.map((d) => [d.gene, d]));
  const targets = new Set(sq.expected_targets.map((t) => t.gene));
  const genes = query.var.index;
  const its = result.iterations;
  const str = (values: string[]): Column => ({ kind: 'string', values });
  const int = (values: number[]): Column => ({ kind: 'int', values });
  // The list of iterations, a row each (anndata reads a table in uns as a DataFrame).
  const iterations = new UnsTable({
    index: its.map((it) => String(it.iteration)),
    columns: [
      ['iteration', int(its.map((it) => it.iteration))],
      ['strategy', str(its.map((it) => it.prompt.strategy))],
      ['dataset', str(its.map((it) => it.prompt.dataset))],
      ['condition', str(its.map((it) => it.prompt.condition))],
      ['cell_type', str(its.map((it) => it.prompt.cell_type))],
      ['prompt_cells', int(its.map((it) => it.prompt_cells))],
      ['control_cells', int(its.map((it) => it.control_cells))],
      ['control_strategy_effective', str(its.map((it) => it.control_strategy_effective))],
      ['P', int(its.map((it) => it.grounding.P))],
      ['T', int(its.map((it) => it.grounding.T))],
      ['L', int(its.map((it) => it.grounding.L))],
      ['N', int(its.map((it) => it.grounding.N))],
      ['composite', int(its.map((it) => it.grounding.composite))],
      ['de_up', int(its.map((it) => it.grounding.de_up.length))],
      ['de_down', int(its.map((it) => it.grounding.de_down.length))],
      ['warnings', str(its.map((it) => it.warnings.join(' ')))],
    ],
  });
  // Every Hallmark set the best iteration tested, not only the significant ones.
  const tested = result.enrichment;
  const enrichmentResults = new UnsTable({
    index: tested.map((e) => e.set),
    columns: [
      ['set', str(tested.map((e) => e.set))],
      ['set_size', int(tested.map((e) => e.set_size))],
      ['overlap_size', int(tested.map((e) => e.overlap.length))],
      ['overlap_genes', str(tested.map((e) => e.overlap.join(';')))],
      ['pval', { kind: 'float', values: tested.map((e) => e.pval) }],
      ['padj', { kind: 'float', values: tested.map((e) => e.padj) }],
    ],
  });
  // The query cells' own donor and tissue, and their dataset's disease state.
  const datasets = stringColumn(query.obs, 'dataset');
  const compared = result.comparison?.error === null ? result.comparison : null;
  const contrast = compared ? new Map(compared.contrast.de.map((d) => [d.gene, d])) : null;
  return {
    obs: {
      index: query.obs.index,
      columns: [
        ['cell_id', { kind: 'string', values: query.obs.index }],
        ['task_type', fill(sq.task_type)],
        ['cell_type_query', fill(sq.target_cell_type)],
        ['perturbation_query', fill(sq.perturbation ?? '')],
        ['prompt_strategy', fill(best.prompt.strategy)],
        ['iteration', { kind: 'int', values: Array.from({ length: n }, () => best.iteration) }],
        [
          'grounding_score',
          { kind: 'int', values: Array.from({ length: n }, () => best.grounding.composite) },
        ],
        ['target_donor_id', str(stringColumn(query.obs, 'donor_id'))],
        ['target_tissue', str(stringColumn(query.obs, 'tissue'))],
        [
          'target_disease_state',
          str(datasets.map((d) => DATASET_DEFINITIONS[d as DatasetName]?.disease_state ?? 'unknown')),
        ],
      ],
    },
    var: {
      index: genes,
      columns: [
        ['gene_symbol', { kind: 'string', values: genes }],
        ['predicted_lfc', { kind: 'float', values: genes.map((g) => byGene.get(g)?.log2fc ?? 0) }],
        ['predicted_pval', { kind: 'float', values: genes.map((g) => byGene.get(g)?.pval ?? 1) }],
        ['predicted_padj', { kind: 'float', values: genes.map((g) => byGene.get(g)?.padj ?? 1) }],
        ['is_de', { kind: 'bool', values: genes.map((g) => byGene.get(g)?.is_de ?? false) }],
        ['target_gene', { kind: 'bool', values: genes.map((g) => targets.has(g)) }],
        // A comparison: the first condition's prediction against the second's (log2FC > 0: higher under the first).
        ...(contrast
          ? ([
              ['contrast_lfc', { kind: 'float', values: genes.map((g) => contrast.get(g)?.log2fc ?? 0) }],
              ['contrast_padj', { kind: 'float', values: genes.map((g) => contrast.get(g)?.padj ?? 1) }],
              ['contrast_is_de', { kind: 'bool', values: genes.map((g) => contrast.get(g)?.is_de ?? false) }],
            ] as [string, Column][])
          : []),
      ],
    },
    X: prediction.X,
    uns: {
      run_id: runId,
      query: request.query,
      model: result.model,
      synthetic: 'true',
      dataset_kind: 'synthetic',
      note: SYNTHETIC_NOTE,
      config: {
        control_strategy: request.control_strategy,
        control_strategy_effective: result.control_strategy_effective,
        max_iterations: request.max_iterations,
        score_threshold: request.score_threshold,
        seed: request.seed,
      },
      final_score: result.final_score ?? 0,
      termination_reason: result.termination_reason,
      iterations,
      enrichment_results: enrichmentResults,
      de_method: { ...RANK_SUM_METHOD },
      // Lists are written only when they hold something (an empty string array has no dtype to infer).
      ...nonEmpty(
        'not_used',
        sq.not_used.map((n) => `${n.term}: ${n.reason}`),
      ),
      ...(compared
        ? {
            comparison: {
              first: compared.perturbation,
              first_prompt_condition: compared.best_prompt_condition,
              second: compared.comparison,
              second_prompt_cells: compared.prompt_cells,
              ...nonEmpty('higher_under_first', compared.contrast.higher_under_first),
              ...nonEmpty('higher_under_second', compared.contrast.higher_under_second),
              ...nonEmpty(
                'contrast_pathways',
                compared.contrast.enriched.slice(0, 10).map((e) => e.set),
              ),
            },
          }
        : {}),
    },
  };
}

/** Scores per iteration as an inline SVG line chart (no script, no external asset). */
function scoreChart(log: HaystackLog): string {
  const width = 560;
  const height = 220;
  const pad = 36;
  const n = Math.max(log.iterations.length, 1);
  const x = (i: number) => pad + (n === 1 ? (width - 2 * pad) / 2 : ((width - 2 * pad) * i) / (n - 1));
  const y = (score: number) => height - pad - ((height - 2 * pad) * (score - 1)) / 9;
  const series = (key: 'composite' | 'P' | 'T' | 'N', color: string) => {
    const points = log.iterations
      .map((it, i) => `${x(i).toFixed(1)},${y(it.scores[key]).toFixed(1)}`)
      .join(' ');
    // Each score is a dot too: a single iteration is a point, which a line alone does not draw.
    const dots = log.iterations
      .map(
        (it, i) =>
          `<circle cx="${x(i).toFixed(1)}" cy="${y(it.scores[key]).toFixed(1)}" r="${key === 'composite' ? 4 : 2.5}" fill="${color}"><title>${key} ${it.scores[key]} (iteration ${it.iteration})</title></circle>`,
      )
      .join('');
    return `<polyline fill="none" stroke="${color}" stroke-width="${key === 'composite' ? 3 : 1.5}" points="${points}"><title>${key}</title></polyline>${dots}`;
  };
  const grid = [1, 4, 7, 10]
    .map(
      (s) =>
        `<line x1="${pad}" x2="${width - pad}" y1="${y(s)}" y2="${y(s)}" stroke="#ddd"/><text x="8" y="${y(s) + 4}" font-size="11">${s}</text>`,
    )
    .join('');
  const labels = log.iterations
    .map((it, i) => `<text x="${x(i) - 4}" y="${height - 12}" font-size="11">${it.iteration}</text>`)
    .join('');
  const threshold = `<line x1="${pad}" x2="${width - pad}" y1="${y(log.config.score_threshold)}" y2="${y(log.config.score_threshold)}" stroke="#c0392b" stroke-dasharray="4 3"><title>threshold</title></line>`;
  return `<svg role="img" aria-label="Grounding scores per iteration" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${grid}${threshold}${series('P', '#7fb8d6')}${series('T', '#e0a526')}${series('N', '#8e6fbf')}${series('composite', '#2f5fc4')}${labels}</svg>`;
}

/** A comparison of two conditions in the report: both responses and their contrast. */
function comparisonSection(log: HaystackLog): string {
  const c = log.comparison;
  if (!c) return '';
  const genes = (list: string[]) => (list.length ? escapeHtml(list.slice(0, 25).join(', ')) : 'none');
  const first =
    c.best_prompt_condition === c.perturbation
      ? escapeHtml(c.perturbation)
      : `${escapeHtml(c.perturbation)} (its best prompt: ${escapeHtml(c.best_prompt_condition)})`;
  if (c.error)
    return `<h2 id="comparison">${escapeHtml(c.perturbation)} compared with ${escapeHtml(c.comparison)}</h2><p class="label">${escapeHtml(c.error)}</p>`;
  return `<h2 id="comparison">${escapeHtml(c.perturbation)} compared with ${escapeHtml(c.comparison)}</h2>
<p>Two predictions for the same query cells: ${first}, and ${escapeHtml(c.comparison)} prompted with ${c.prompt_cells} ${escapeHtml(c.prompt.cell_type)} cells from ${escapeHtml(c.prompt.dataset)}. The contrast is a Wilcoxon rank-sum test of the first prediction against the second (the same thresholds as above); it is not scored for grounding.</p>
<table><tbody>${[
    [`Higher under ${c.perturbation}`, genes(c.contrast.higher_under_first)],
    [`Higher under ${c.comparison}`, genes(c.contrast.higher_under_second)],
    [
      'Hallmark sets enriched in the contrast (padj ≤ 0.05)',
      escapeHtml(
        c.contrast.top_pathways.map((p) => `${p.set} (${p.padj.toExponential(1)})`).join(', ') || 'none',
      ),
    ],
    [`${c.comparison}: up against the reference`, genes(c.response.de_up)],
    [`${c.comparison}: down against the reference`, genes(c.response.de_down)],
  ]
    .map(([k, v]) => `<tr><th>${escapeHtml(k!)}</th><td>${v}</td></tr>`)
    .join('')}</tbody></table>`;
}

export function reportHtml(log: HaystackLog, result: HaystackResult): string {
  const best = result.best;
  const de = result.de
    .filter((d) => d.is_de)
    .sort((a, b) => a.padj - b.padj)
    .slice(0, 40);
  const rows = (cells: string[][]) =>
    cells.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HAYSTACK report ${escapeHtml(log.run_id)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
table{border-collapse:collapse;margin:.5rem 0}td,th{border-bottom:1px solid #dde1e8;padding:.25rem .6rem;text-align:left}
.label{background:#fff8e1;border:1px solid #f0d98a;padding:.5rem .8rem;border-radius:6px}.mono{font-family:ui-monospace,monospace}</style></head>
<body>
<h1>HAYSTACK report</h1>
<p class="label"><strong>Synthetic data, stand-in model.</strong> ${escapeHtml(log.data.note)} Literature support scores a neutral 5: literature databases are not reachable (source: ${escapeHtml(log.literature.source)}).</p>
<p><strong>Question:</strong> ${escapeHtml(log.query)}</p>
<p><strong>Understood as</strong> (${escapeHtml(log.interpreter === 'rules' ? 'rule-based interpreter, no language model' : 'Claude')}): ${escapeHtml(describeQuery(result.structured_query))}. ${escapeHtml(String(log.structured_query.rationale ?? ''))}</p>
${
  log.not_used.length
    ? `<p class="label" id="not-used"><strong>Not used from the question:</strong> ${log.not_used
        .map((n) => `${escapeHtml(n.term)} (${escapeHtml(n.reason)})`)
        .join('; ')}</p>`
    : ''
}
<table><tbody>${rows([
    ['Run', log.run_id],
    ['Model', log.model],
    ['Control strategy', `${log.control_strategy} requested, ${log.control_strategy_effective} used`],
    ['Final score', log.final_score === null ? '—' : `${log.final_score} / 10`],
    ['Ended because', log.termination_reason.replace(/_/g, ' ')],
    ['Seed', String(log.config.seed)],
  ])}</tbody></table>
${log.error_message ? `<p class="label">Error: ${escapeHtml(log.error_message)}</p>` : ''}
<h2>Grounding scores per iteration</h2>
${scoreChart(log)}
<p class="mono">composite (blue) · P pathway coherence · T target activation · N network coherence · dashed: threshold ${log.config.score_threshold}</p>
<h2>Prompts tried</h2>
<table><thead><tr><th>#</th><th>Strategy</th><th>Condition</th><th>Prompt cells</th><th>Controls</th><th>P</th><th>T</th><th>L</th><th>N</th><th>Score</th></tr></thead><tbody>${rows(
    log.iterations.map((it) => [
      String(it.iteration),
      it.strategy,
      `${it.condition} on ${it.cell_type} (${it.dataset})`,
      String(it.prompt_cells),
      `${it.control_cells} (${it.control_strategy_effective.replace(/_/g, ' ')})`,
      String(it.scores.P),
      String(it.scores.T),
      String(it.scores.L),
      String(it.scores.N),
      String(it.scores.composite),
    ]),
  )}</tbody></table>
${warningsSection(log)}
<h2>Differentially expressed genes${best ? ` (iteration ${best.iteration})` : ''}</h2>
<p>Wilcoxon rank-sum on log1p-CP10k with the tie correction (scipy's; scanpy's wilcoxon only with tie_correct=True, not its default), Benjamini–Hochberg; |log2FC| ≥ 0.5, padj ≤ 0.05.</p>
<table><thead><tr><th>Gene</th><th>log2FC</th><th>padj</th></tr></thead><tbody>${rows(
    de.map((d) => [d.gene, d.log2fc.toFixed(2), d.padj.toExponential(2)]),
  )}</tbody></table>
<h2>Enriched pathways</h2>
<p>MSigDB Hallmark v7.0 (CC BY 4.0; Liberzon et al., Cell Systems 2015), hypergeometric over-representation.</p>
<table><thead><tr><th>Set</th><th>Overlap</th><th>padj</th></tr></thead><tbody>${rows(
    (best?.grounding.enriched ?? [])
      .slice(0, 10)
      .map((e) => [e.set, String(e.overlap.length), e.padj.toExponential(2)]),
  )}</tbody></table>
${comparisonSection(log)}
<h2>Suggestions</h2><ul>${(best?.grounding.suggestions ?? []).map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul>
</body></html>
`;
}

/** What the model's output made untrustworthy, by iteration (empty when nothing did). */
function warningsSection(log: HaystackLog): string {
  const warned = log.iterations.filter((it) => it.warnings.length > 0);
  if (warned.length === 0) return '';
  return `<h2>Warnings</h2><ul>${warned
    .flatMap((it) => it.warnings.map((w) => `<li>Iteration ${it.iteration}: ${escapeHtml(w)}</li>`))
    .join('')}</ul>`;
}

/** Where writeOutputs puts a run's files, and what it needs. */
export interface OutputDeps {
  objects: ObjectStore;
  files: Pick<AnnDataFiles, 'encode'>;
  /** True once the run was cancelled: nothing more is written, and what was is removed. */
  cancelled(): Promise<boolean>;
}

/**
 * The run's three outputs under `haystack/{run}/results/` (the predictions only when an
 * iteration made one). A cancel noticed between files stops the writing and removes what was
 * written: a cancelled run has no results. Answers the names written, or null when cancelled.
 */
export async function writeOutputs(
  deps: OutputDeps,
  runId: string,
  request: HaystackRequest,
  result: HaystackResult,
): Promise<string[] | null> {
  const paths = haystackPaths(runId);
  const log = haystackLog(runId, request, result);
  const outputs: [string, () => Promise<string | Uint8Array>, string][] = [
    [paths.log, async () => `${JSON.stringify(log, null, 2)}\n`, 'application/json'],
    [paths.report, async () => reportHtml(log, result), 'text/html; charset=utf-8'],
  ];
  if (result.prediction)
    outputs.push([
      paths.predictions,
      () => deps.files.encode(predictionsAnnData(runId, request, result)),
      'application/x-hdf5',
    ]);
  const written: string[] = [];
  for (const [name, content, type] of outputs) {
    if (await deps.cancelled()) {
      await removeOutputs(deps.objects, written);
      return null;
    }
    await deps.objects.write(name, await content(), type);
    written.push(name);
  }
  return written;
}

/** Deletes outputs a run must not keep (it was cancelled while they were written). */
export async function removeOutputs(
  objects: Pick<ObjectStore, 'delete'>,
  names: readonly string[],
): Promise<void> {
  await Promise.all(names.map((name) => objects.delete(name)));
}
