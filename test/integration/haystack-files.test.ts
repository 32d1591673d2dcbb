/**
 * HAYSTACK's files as other tools see them: every kind of h5ad we write opened by anndata
 * itself, an anndata-written file read by ours, seeds reproduced byte for byte, and the two
 * programs (the stand-in and the agent) run from the command line.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H5wasmAnnDataFiles } from '../../functions/adapters/h5wasm-h5ad';
import { type AnnData, subsetCells } from '../../functions/core/haystack/anndata';
import { generateDataset } from '../../functions/core/haystack/atlas';
import { AtlasCatalog } from '../../functions/core/haystack/catalog';
import { HaystackLog } from '../../functions/core/haystack/outputs';
import { anndataInspect } from '../helpers/anndata';
import { tempDir } from '../helpers/env';

const files = new H5wasmAnnDataFiles();
let dir: Awaited<ReturnType<typeof tempDir>>;
let openproblems: AnnData;

beforeAll(async () => {
  dir = await tempDir('arc-haystack-');
  openproblems = generateDataset('openproblems', 5);
});
afterAll(async () => {
  await dir?.remove();
});

// Without a key the agent reads questions with its rules, whatever the developer's shell holds.
const { ANTHROPIC_API_KEY: _key, ...env } = process.env;
const tsx = (script: string, args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env,
  });

describe('h5ad we write', () => {
  it('is an atlas anndata opens: shape, obs and var columns, the synthetic label, the same counts', async () => {
    const path = join(dir.path, 'openproblems.h5ad');
    await files.write(path, openproblems);
    const seen = anndataInspect(path);
    expect(seen).toMatchObject({ n_obs: openproblems.X.rows, n_vars: openproblems.X.cols });
    expect(seen.obs).toEqual(openproblems.obs.columns.map(([name]) => name));
    expect(seen.var).toEqual(['gene_symbol']);
    expect(seen.uns).toEqual(expect.arrayContaining(['synthetic', 'dataset_kind', 'seed']));
    expect(seen.obs_dtypes.is_control).toBe('int8');
    expect(seen.x_sum).toBe(openproblems.X.data.reduce((a, b) => a + b, 0));
  });

  it('is the same bytes for the same seed', async () => {
    const [a, b] = [join(dir.path, 'a.h5ad'), join(dir.path, 'b.h5ad')];
    await files.write(a, generateDataset('tabula_sapiens', 9));
    await files.write(b, generateDataset('tabula_sapiens', 9));
    expect((await readFile(a)).equals(await readFile(b))).toBe(true);
  });

  it('reads back what it wrote', async () => {
    const path = join(dir.path, 'round.h5ad');
    const small = subsetCells(openproblems, [0, 5, 9]);
    await files.write(path, small);
    const back = await files.read(path);
    expect(back.obs.index).toEqual(small.obs.index);
    expect(Array.from(back.X.data)).toEqual(Array.from(small.X.data));
    expect(back.uns).toEqual(small.uns);
  });
});

describe('h5ad anndata writes', () => {
  it('is read by ours: CSR X, categorical and bool columns (test/fixtures/haystack/make-anndata-fixture.py)', async () => {
    const adata = await files.read('test/fixtures/haystack/anndata-written.h5ad');
    expect(adata.obs.index).toEqual(['c1', 'c2', 'c3']);
    expect(adata.obs.columns).toEqual([
      ['cell_type', { kind: 'string', values: ['B cell', 'natural killer cell', 'B cell'] }],
      ['is_control', { kind: 'bool', values: [true, false, true] }],
      ['n_counts', { kind: 'float', values: [4, 2, 6] }],
    ]);
    expect(adata.var.index).toEqual(['CD19', 'NKG7', 'MS4A1', 'ACTB']);
    expect(Array.from(adata.X.data)).toEqual([0, 1, 0, 3, 2, 0, 0, 0, 0, 0, 5, 1]);
  });
});

describe('the programs', () => {
  it('stack-standin predicts the query cells under the prompt, as anndata reads it, with model "stack-standin"', async () => {
    const catalog = new AtlasCatalog({ openproblems });
    const prompt = subsetCells(
      openproblems,
      catalog.cells('openproblems', { cell_type: 'natural killer cell', condition: 'Belinostat' }),
    );
    const query = subsetCells(
      openproblems,
      catalog.cells('openproblems', { cell_type: 'B cell', condition: 'Dimethyl Sulfoxide' }),
    );
    await files.write(join(dir.path, 'prompt.h5ad'), prompt);
    await files.write(join(dir.path, 'query.h5ad'), query);
    const out = join(dir.path, 'pred.h5ad');
    const args = [
      '--prompt',
      join(dir.path, 'prompt.h5ad'),
      '--query',
      join(dir.path, 'query.h5ad'),
      '--output',
      out,
      '--seed',
      '4',
    ];
    const result = tsx('orchestrator/haystack/stack-standin.ts', args);
    expect(result.status, result.stderr).toBe(0);
    const seen = anndataInspect(out);
    expect(seen).toMatchObject({ n_obs: query.X.rows, n_vars: query.X.cols });
    expect(seen.obs).toEqual(query.obs.columns.map(([name]) => name));
    const prediction = await files.read(out);
    expect(prediction.uns.model).toBe('stack-standin');
    expect(prediction.obs.index).toEqual(query.obs.index);
    // Seeded: the same run gives the same file.
    const again = join(dir.path, 'pred-again.h5ad');
    expect(
      tsx('orchestrator/haystack/stack-standin.ts', [...args.slice(0, 5), again, '--seed', '4']).status,
    ).toBe(0);
    expect((await readFile(out)).equals(await readFile(again))).toBe(true);
    const bad = tsx('orchestrator/haystack/stack-standin.ts', ['--prompt', 'x.h5ad']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('usage: stack-standin');
  });

  it('the agent answers a question comparing two conditions end to end and writes the predictions, the report and the log', async () => {
    const out = join(dir.path, 'results');
    const result = tsx('orchestrator/haystack/agent.ts', [
      '--query',
      'How would lung fibroblasts respond to interferon gamma compared with IL-6, or to IL-37?',
      '--out',
      out,
      '--run-id',
      'hs-test',
      '--seed',
      '2',
      '--score-threshold',
      '10',
      '--max-iterations',
      '2',
    ]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('Interpreter: rule-based (no ANTHROPIC_API_KEY).');
    expect(result.stdout).toMatch(/\[1\] direct: IFN-gamma on CD14-positive monocyte → score \d+/);
    expect(result.stdout).toContain(
      'Understood as: fibroblast of lung (CL:0002553) under IFN-gamma, compared with IL-6, prompted from parse_pbmc; not used: IL-37 (not a condition of the datasets',
    );
    expect(result.stdout).toMatch(
      /IFN-gamma compared with IL-6 \(\d+ prompt cells\): higher under IFN-gamma: \w+/,
    );
    expect(result.stdout).toMatch(/Done: max iterations, final score \d+/);
    const log = HaystackLog.parse(JSON.parse(await readFile(join(out, 'hs-test_log.json'), 'utf8')));
    expect(log).toMatchObject({
      interpreter: 'rules',
      model: 'stack-standin',
      termination_reason: 'max_iterations',
    });
    expect(log.iterations).toHaveLength(2);
    expect(log.data.dataset_kind).toBe('synthetic');
    const predictions = anndataInspect(join(out, 'hs-test_predictions.h5ad'));
    expect(predictions.obs).toEqual([
      'cell_id',
      'task_type',
      'cell_type_query',
      'perturbation_query',
      'prompt_strategy',
      'iteration',
      'grounding_score',
      'target_donor_id',
      'target_tissue',
      'target_disease_state',
    ]);
    expect(predictions.var).toEqual([
      'gene_symbol',
      'predicted_lfc',
      'predicted_pval',
      'predicted_padj',
      'is_de',
      'target_gene',
      'contrast_lfc',
      'contrast_padj',
      'contrast_is_de',
    ]);
    expect(predictions.uns).toEqual(
      expect.arrayContaining([
        'run_id',
        'query',
        'config',
        'iterations',
        'enrichment_results',
        'de_method',
        'model',
        'comparison',
        'not_used',
      ]),
    );
    // The spec's lists: one row an iteration, one row every Hallmark set tested (not only the top ones).
    expect(predictions.uns_frames.iterations).toMatchObject({ rows: 2 });
    expect(predictions.uns_frames.iterations!.columns).toEqual(
      expect.arrayContaining([
        'iteration',
        'strategy',
        'condition',
        'composite',
        'P',
        'T',
        'L',
        'N',
        'warnings',
      ]),
    );
    expect(predictions.uns_frames.enrichment_results!.columns).toEqual([
      'set',
      'set_size',
      'overlap_size',
      'overlap_genes',
      'pval',
      'padj',
    ]);
    expect(predictions.uns_frames.enrichment_results!.rows).toBeGreaterThan(20);
    expect(predictions.uns_dicts.de_method).toMatchObject({
      tie_correct: 'true',
      continuity_correction: 'false',
    });
    expect(log.comparison).toMatchObject({ perturbation: 'IFN-gamma', comparison: 'IL-6', error: null });
    expect(log.not_used).toEqual([{ term: 'IL-37', reason: expect.any(String) }]);
    const report = await readFile(join(out, 'hs-test_report.html'), 'utf8');
    expect(report).toContain('Synthetic data, stand-in model.');
    expect(report).toContain('<svg role="img" aria-label="Grounding scores per iteration"');
    expect(report).not.toMatch(/<script|https?:\/\/(?!nf-co)/);
  }, 120_000);
});
