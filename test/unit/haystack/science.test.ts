/**
 * The science end to end in memory: the synthetic atlas, the catalog, the stand-in predictor,
 * DE and enrichment, the grounding scores and the loop, on atlases generated from one seed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AnnData,
  log1pCp10k,
  stringColumn,
  subsetCells,
} from '../../../functions/core/haystack/anndata';
import { generateDataset } from '../../../functions/core/haystack/atlas';
import { AtlasCatalog } from '../../../functions/core/haystack/catalog';
import { overRepresentation } from '../../../functions/core/haystack/enrichment';
import { hallmarkSets } from '../../../functions/core/haystack/gene-sets';
import {
  checkControls,
  type HaystackRequest,
  type IterationRecord,
  runHaystack,
  terminationAfter,
} from '../../../functions/core/haystack/loop';
import { haystackLog, predictionsAnnData, reportHtml } from '../../../functions/core/haystack/outputs';
import type { PredictionModel, RunProgress } from '../../../functions/core/haystack/ports';
import { iterationFields } from '../../../functions/core/haystack/progress';
import { describeQuery, RuleBasedInterpreter } from '../../../functions/core/haystack/query';
import { CreateHaystackRunRequest, newHaystackRun } from '../../../functions/core/haystack/run-model';
import { predictMeanShift } from '../../../functions/core/haystack/standin';
import { differentialExpression } from '../../../functions/core/haystack/stats';
import { DATASETS } from '../../../functions/core/haystack/vocabulary';
import { ValidationError } from '../../../functions/core/shared/errors';

const SEED = 11;
let atlases: Record<string, AnnData>;
let catalog: AtlasCatalog;

const model: PredictionModel = {
  name: 'stack-standin',
  predict: async ({ prompt, query, seed }) => ({ ...query, X: predictMeanShift(prompt.X, query.X, seed) }),
};

function recorder(cancelAfter = Infinity) {
  const records: IterationRecord[] = [];
  const progress: RunProgress = {
    understood: async () => {},
    phase: async () => {},
    iteration: async (r) => {
      records.push(r);
    },
    cancelled: async () => records.length >= cancelAfter,
  };
  return { records, progress };
}

const BASE: HaystackRequest = {
  query: '',
  control_strategy: 'synthetic_control',
  max_iterations: 5,
  score_threshold: 7,
  seed: 1,
};

const run = (
  request: Partial<HaystackRequest> & { query: string },
  on = catalog,
  progress = recorder().progress,
) =>
  runHaystack(
    { interpreter: new RuleBasedInterpreter(), catalog: on, model, progress },
    { control_strategy: 'synthetic_control', max_iterations: 5, score_threshold: 7, seed: 1, ...request },
  );

beforeAll(() => {
  atlases = Object.fromEntries(DATASETS.map((d) => [d, generateDataset(d, SEED)]));
  catalog = new AtlasCatalog(atlases);
});

describe('the synthetic atlas', () => {
  it('is the same for the same seed, different for another, and says it is synthetic', () => {
    const again = generateDataset('openproblems', SEED);
    expect(Buffer.from(again.X.data.buffer).equals(Buffer.from(atlases.openproblems!.X.data.buffer))).toBe(
      true,
    );
    expect(again.obs).toEqual(atlases.openproblems!.obs);
    const other = generateDataset('openproblems', SEED + 1);
    expect(Buffer.from(other.X.data.buffer).equals(Buffer.from(again.X.data.buffer))).toBe(false);
    for (const adata of Object.values(atlases))
      expect(adata.uns).toMatchObject({ synthetic: 'true', dataset_kind: 'synthetic' });
  });

  it('uses the datasets’ vocabulary: Parse’s 91 conditions, OpenProblems’ compounds, Cell Ontology ids', () => {
    expect(catalog.values('parse_pbmc', 'condition')).toHaveLength(91);
    expect(catalog.values('openproblems', 'condition')).toEqual(
      expect.arrayContaining(['Dimethyl Sulfoxide', 'Dabrafenib', 'Belinostat']),
    );
    expect(catalog.values('openproblems', 'cell_type_label')).toEqual([
      'B cells',
      'Myeloid cells',
      'NK cells',
      'T cells CD4+',
      'T cells CD8+',
      'T regulatory cells',
    ]);
    expect(catalog.values('tabula_sapiens', 'cell_type_ontology_term_id')).toContain('CL:0002553');
    expect(catalog.values('parse_pbmc', 'donor_id')).toHaveLength(12);
  });

  it('answers which cells exist and which matched controls: same cell type and donors, PBS', () => {
    const treated = catalog.cells('parse_pbmc', {
      cell_type: 'CD14-positive monocyte',
      condition: 'IFN-gamma',
    });
    expect(treated.length).toBeGreaterThan(0);
    const donors = catalog.donorsOf('parse_pbmc', treated);
    const controls = catalog.matchedControls('parse_pbmc', 'CD14-positive monocyte', donors);
    expect(controls.condition).toBe('PBS');
    expect(catalog.donorsOf('parse_pbmc', controls.indices)).toEqual(donors);
    const types = stringColumn(atlases.parse_pbmc!.obs, 'cell_type');
    expect(new Set(controls.indices.map((i) => types[i]))).toEqual(new Set(['CD14-positive monocyte']));
  });
});

describe('evaluation', () => {
  it('ranks HALLMARK_INTERFERON_GAMMA_RESPONSE first for an IFN-gamma prompt on monocytes', () => {
    const parse = atlases.parse_pbmc!;
    const treatedIdx = catalog.cells('parse_pbmc', {
      cell_type: 'CD14-positive monocyte',
      condition: 'IFN-gamma',
    });
    const controlIdx = catalog.matchedControls(
      'parse_pbmc',
      'CD14-positive monocyte',
      catalog.donorsOf('parse_pbmc', treatedIdx),
    ).indices;
    const query = subsetCells(
      atlases.tabula_sapiens!,
      catalog.cells('tabula_sapiens', { cell_type: 'CD14-positive monocyte' }),
    );
    const treated = predictMeanShift(subsetCells(parse, treatedIdx).X, query.X, 1);
    const control = predictMeanShift(subsetCells(parse, controlIdx).X, query.X, 2);
    const de = differentialExpression(log1pCp10k(treated), log1pCp10k(control), query.var.index);
    const enriched = overRepresentation(
      de.filter((d) => d.is_de).map((d) => d.gene),
      query.var.index,
      hallmarkSets(),
    );
    expect(enriched[0]!.set).toBe('HALLMARK_INTERFERON_GAMMA_RESPONSE');
    expect(enriched[0]!.padj).toBeLessThan(1e-6);
  });

  it('a synthetic control cancels the cell-identity artifact that query-as-control keeps: higher P and N', async () => {
    const query = 'How would lung fibroblasts respond to IFN-gamma?';
    const synthetic = await run({ query, max_iterations: 1, control_strategy: 'synthetic_control' });
    const asControl = await run({ query, max_iterations: 1, control_strategy: 'query_as_control' });
    const [s, q] = [synthetic.iterations[0]!.grounding, asControl.iterations[0]!.grounding];
    expect(synthetic.iterations[0]!.prompt.condition).toBe(asControl.iterations[0]!.prompt.condition);
    expect(s.P).toBeGreaterThan(q.P);
    expect(s.N).toBeGreaterThan(q.N);
    expect(q.penalty).toBe(1);
  });
});

describe('the loop', () => {
  it.each([
    ['threshold', [5, 7], 'threshold_reached'],
    ['max iterations', [3, 4, 5], 'max_iterations'],
    ['a plateau: no gain of 1 over the last 3', [6, 5, 6, 6], 'plateau'],
    ['going on while it climbs', [3, 4, 5, 6], null],
  ])('%s', (_name, scores, expected) => {
    expect(
      terminationAfter(scores, {
        score_threshold: 7,
        max_iterations: 3 + (expected === 'max_iterations' ? 0 : 5),
      }),
    ).toBe(expected);
  });

  it('ends at the threshold, after max_iterations, or on a plateau', async () => {
    const question = 'How would lung fibroblasts respond to IFN-gamma?';
    const reached = await run({ query: question, score_threshold: 7 });
    expect(reached.termination_reason).toBe('threshold_reached');
    expect(reached.iterations).toHaveLength(1);
    const capped = await run({ query: question, score_threshold: 10, max_iterations: 2 });
    expect(capped.termination_reason).toBe('max_iterations');
    expect(capped.iterations).toHaveLength(2);
    const flat = await run({ query: question, score_threshold: 10, max_iterations: 10 });
    expect(['plateau', 'prompts_exhausted']).toContain(flat.termination_reason);
    expect(flat.termination_reason).toBe('plateau');
    expect(new Set(flat.iterations.map((i) => `${i.prompt.condition}/${i.prompt.cell_type}`)).size).toBe(
      flat.iterations.length,
    );
  });

  it('falls back to query-as-control without matched controls, recording both strategies and the cells found', async () => {
    // An atlas whose PBMC screen lost its PBS wells.
    const parse = atlases.parse_pbmc!;
    const conditions = stringColumn(parse.obs, 'condition');
    const noControls = new AtlasCatalog({
      ...atlases,
      parse_pbmc: subsetCells(
        parse,
        conditions.flatMap((c, i) => (c === 'PBS' ? [] : [i])),
      ),
    });
    const structured = await new RuleBasedInterpreter().interpret(
      'How would lung fibroblasts respond to IFN-gamma?',
    );
    expect(checkControls(noControls, structured)).toMatchObject({
      control_cells_found: 0,
      recommendation: 'query_as_control',
    });
    expect(checkControls(noControls, structured).warning).toMatch(/^Only 0 matched control cells/);
    const result = await run(
      { query: 'How would lung fibroblasts respond to IFN-gamma?', max_iterations: 1 },
      noControls,
    );
    expect(result.control_strategy).toBe('synthetic_control');
    expect(result.control_strategy_effective).toBe('query_as_control');
    expect(result.iterations[0]).toMatchObject({
      control_cells: 0,
      control_strategy_effective: 'query_as_control',
    });
    expect(result.iterations[0]!.grounding.penalty).toBe(1);
  });

  it('stops between steps when cancelled', async () => {
    const { records, progress } = recorder(1);
    const result = await run(
      { query: 'How would lung fibroblasts respond to IFN-gamma?', score_threshold: 10 },
      catalog,
      progress,
    );
    expect(result.termination_reason).toBe('cancelled');
    expect(records).toHaveLength(1);
  });

  it('gives the same final score and prompts for the same seed', async () => {
    const question = 'How would CD14 monocytes respond to TNF-alpha?';
    const [a, b] = [
      await run({ query: question, score_threshold: 10, max_iterations: 3 }),
      await run({ query: question, score_threshold: 10, max_iterations: 3 }),
    ];
    expect(a.final_score).toBe(b.final_score);
    expect(a.iterations.map((i) => i.grounding)).toEqual(b.iterations.map((i) => i.grounding));
  });
});

describe('the rule-based interpreter', () => {
  const interpreter = new RuleBasedInterpreter();
  it.each([
    [
      'How would lung fibroblasts respond to interferon gamma?',
      'IFN-gamma',
      'CL:0002553',
      'perturbation_novel_cell_type',
    ],
    ['Predict CD14 monocytes under TNF', 'TNF-alpha', 'CL:0001054', 'perturbation_response'],
    ['What does TGF-β1 do to CL:0002553?', 'TGF-beta1', 'CL:0002553', 'perturbation_novel_cell_type'],
    ['NK cells treated with IL-15', 'IL-15', 'CL:0000623', 'perturbation_response'],
    ['T regulatory cells with Belinostat', 'Belinostat', 'CL:0000815', 'perturbation_response'],
  ])('%s', async (question, perturbation, cellTypeId, task) => {
    const structured = await interpreter.interpret(question);
    expect(structured).toMatchObject({
      perturbation,
      target_cell_type_id: cellTypeId,
      task_type: task,
      interpreter: 'rules',
    });
  });

  it('names the expected pathway and targets from the condition’s biology', async () => {
    const structured = await interpreter.interpret('lung fibroblasts and interferon gamma');
    expect(structured.expected_pathways).toEqual(['HALLMARK_INTERFERON_GAMMA_RESPONSE']);
    expect(structured.expected_targets.length).toBeGreaterThan(5);
  });

  it('says what it could not find, with examples', async () => {
    await expect(interpreter.interpret('What happens to the cells with IFN-gamma?')).rejects.toThrow(
      ValidationError,
    );
    await expect(interpreter.interpret('What happens with IFN-gamma?')).rejects.toThrow(/lung fibroblasts/);
  });
});

describe('what a question names and the reading does not use', () => {
  const interpreter = new RuleBasedInterpreter();

  it('reads "compared to" as a comparison of two conditions, each said', async () => {
    const structured = await interpreter.interpret(
      'How do CD14 monocytes respond to IFN-γ compared to IL-4?',
    );
    expect(structured).toMatchObject({
      perturbation: 'IFN-gamma',
      comparison_perturbation: 'IL-4',
      target_cell_type_id: 'CL:0001054',
      not_used: [],
    });
    expect(describeQuery(structured)).toBe(
      'CD14-positive monocyte (CL:0001054) under IFN-gamma, compared with IL-4, prompted from parse_pbmc',
    );
  });

  it('says what it leaves out and why: a third condition, a second cell type, a name not in the datasets', async () => {
    const structured = await interpreter.interpret(
      'Do NK cells and B cells respond to IL-1β, TNF-α or IL-6, and what about IL-37?',
    );
    expect(structured).toMatchObject({
      perturbation: 'IL-1-beta',
      comparison_perturbation: 'TNF-alpha',
      target_cell_type: 'natural killer cell',
    });
    expect(structured.not_used).toEqual([
      {
        term: 'IL-6',
        reason: expect.stringMatching(/^one comparison per question .*ask about IL-6 separately$/),
      },
      { term: 'B cell', reason: expect.stringMatching(/^one cell type per question/) },
      { term: 'IL-37', reason: expect.stringMatching(/^not a condition of the datasets/) },
    ]);
  });

  it('does not compare across datasets, nor count a control or a word that is also a condition', async () => {
    const across = await interpreter.interpret('NK cells under IFN-gamma versus Dabrafenib');
    expect(across.comparison_perturbation).toBeNull();
    expect(across.not_used).toEqual([
      { term: 'Dabrafenib', reason: expect.stringContaining('a comparison needs both in one dataset') },
    ]);
    const control = await interpreter.interpret(
      'How do B cells respond to IL-4 compared to PBS, in light of April data?',
    );
    expect(control).toMatchObject({ perturbation: 'IL-4', comparison_perturbation: null, not_used: [] });
    // "cd4" inside the condition CD40L is not a CD4 T cell.
    const ligand = await interpreter.interpret('B cells treated with CD40L');
    expect(ligand).toMatchObject({ perturbation: 'CD40L', target_cell_type: 'B cell', not_used: [] });
  });
});

describe('a question comparing two conditions', () => {
  it('answers the first, predicts the second on the same query cells, and contrasts the two', async () => {
    const phases: string[] = [];
    const { progress } = recorder();
    const result = await run(
      {
        query: 'How do CD14 monocytes respond to IFN-gamma compared to IL-6?',
        max_iterations: 2,
        score_threshold: 10,
      },
      catalog,
      { ...progress, phase: async (phase) => void phases.push(phase) },
    );
    expect(result.termination_reason).toBe('max_iterations');
    expect(phases.at(-1)).toBe('comparison');
    const comparison = result.comparison!;
    expect(comparison).toMatchObject({ perturbation: 'IFN-gamma', comparison: 'IL-6', error: null });
    expect(comparison.prompt).toMatchObject({ condition: 'IL-6', cell_type: result.best!.prompt.cell_type });
    expect(comparison.prompt_cells).toBeGreaterThan(0);
    // Each condition's own program shows on its side of the contrast.
    const sets = hallmarkSets();
    const inSet = (name: string) => new Set(sets.find((s) => s.name === name)!.genes);
    const ifng = inSet('HALLMARK_INTERFERON_GAMMA_RESPONSE');
    const il6 = inSet('HALLMARK_IL6_JAK_STAT3_SIGNALING');
    const first = comparison.contrast.higher_under_first.slice(0, 10);
    const second = comparison.contrast.higher_under_second.slice(0, 10);
    expect(first.filter((g) => ifng.has(g)).length).toBeGreaterThan(
      first.filter((g) => il6.has(g) && !ifng.has(g)).length,
    );
    expect(second.filter((g) => il6.has(g)).length).toBeGreaterThan(0);
    expect(comparison.contrast.enriched[0]?.set).toBe('HALLMARK_INTERFERON_GAMMA_RESPONSE');

    // The outputs carry it: the report's section and the h5ad's contrast columns.
    const log = haystackLog('hs-aaaaaaaaaaaa', { ...BASE, query: 'q' }, result);
    expect(log.comparison).toMatchObject({ perturbation: 'IFN-gamma', comparison: 'IL-6' });
    const html = reportHtml(log, result);
    expect(html).toContain('<h2 id="comparison">IFN-gamma compared with IL-6</h2>');
    const adata = predictionsAnnData('hs-aaaaaaaaaaaa', { ...BASE, query: 'q' }, result);
    expect(adata.var.columns.map(([name]) => name)).toEqual(
      expect.arrayContaining(['contrast_lfc', 'contrast_padj', 'contrast_is_de']),
    );
  });

  it('runs no second prediction for a one-condition question, and says what was not used in its report', async () => {
    const result = await run({
      query: 'How would lung fibroblasts respond to TGF-beta1 and IL-99?',
      max_iterations: 1,
    });
    expect(result.comparison).toBeNull();
    const log = haystackLog('hs-aaaaaaaaaaaa', { ...BASE, query: 'q' }, result);
    expect(log.not_used).toEqual([{ term: 'IL-99', reason: expect.any(String) }]);
    expect(reportHtml(log, result)).toMatch(
      /<p class="label" id="not-used"><strong>Not used from the question:<\/strong> IL-99 \(/,
    );
  });

  it('draws a single iteration in the report’s chart as a point', async () => {
    const result = await run({
      query: 'How would lung fibroblasts respond to IFN-gamma?',
      max_iterations: 1,
    });
    const html = reportHtml(haystackLog('hs-aaaaaaaaaaaa', { ...BASE, query: 'q' }, result), result);
    expect(html.match(/<circle [^>]*><title>composite \d+ \(iteration 1\)<\/title><\/circle>/g)).toHaveLength(
      1,
    );
  });
});

describe('a model output with non-finite values', () => {
  it('warns on the iteration, the run document, the log and the report, naming the gene, and still scores', async () => {
    // The stand-in, except that gene 0 comes back NaN in every third predicted cell.
    const broken: PredictionModel = {
      name: 'stack-standin',
      predict: async (input) => {
        const out = await model.predict(input);
        const X = { ...out.X, data: Float32Array.from(out.X.data) };
        for (let r = 0; r < X.rows; r += 3) X.data[r * X.cols] = Number.NaN;
        return { ...out, X };
      },
    };
    const { records, progress } = recorder();
    const request = { ...BASE, query: 'How do CD14 monocytes respond to IFN-gamma?', max_iterations: 1 };
    const result = await runHaystack(
      { interpreter: new RuleBasedInterpreter(), catalog, model: broken, progress },
      request,
    );
    const gene = result.query_cells!.var.index[0]!;
    expect(records[0]!.warnings).toHaveLength(1);
    expect(records[0]!.warnings[0]).toMatch(
      new RegExp(
        `^The model's treated or control prediction had non-finite values \\(NaN or infinity\\) for 1 gene: ${gene} \\(\\d+ cells\\)`,
      ),
    );
    expect(result.final_score).toBeGreaterThanOrEqual(1);
    // Every other gene was tested on all its cells: one NaN does not spoil a cell's other genes.
    expect(result.de.filter((d) => d.nonfinite > 0).map((d) => d.gene)).toEqual([gene]);
    expect(result.de.every((d) => d.gene === gene || Number.isFinite(d.pval))).toBe(true);
    const stored = newHaystackRun({
      run_id: 'hs-aaaaaaaaaaaa',
      user_email: 'a@example.com',
      request: CreateHaystackRunRequest.parse({ query: request.query }),
      created_at: '2026-12-07T00:00:00.000Z',
      bucket: 'runs',
      batch_request_id: '00000000-0000-4000-8000-000000000000',
      model: 'stack-standin',
    });
    const fields = iterationFields(stored, records[0]!);
    expect(fields.grounding_scores![0]!.warnings).toEqual(records[0]!.warnings);
    const log = haystackLog('hs-aaaaaaaaaaaa', request, result);
    expect(log.iterations[0]!.warnings).toEqual(records[0]!.warnings);
    expect(reportHtml(log, result)).toContain('<h2>Warnings</h2><ul><li>Iteration 1: The model');
  });
});
