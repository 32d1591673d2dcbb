/**
 * The HAYSTACK agent from the command line: generates the synthetic atlas (or reads it from
 * --atlas-dir), interprets the question, and runs the loop, calling the model as its own
 * program (the stand-in's job contract, one process per prediction) — then writes the three
 * outputs to --out: {run}_predictions.h5ad, {run}_report.html, {run}_log.json.
 *
 *   haystack-agent --query "How would lung fibroblasts respond to IFN-gamma?" --out results/
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { H5wasmAnnDataFiles } from '../../functions/adapters/h5wasm-h5ad';
import { ProgramPredictionModel } from '../../functions/adapters/program-prediction-model';
import { loadAgentConfig } from '../../functions/config';
import { generateDataset } from '../../functions/core/haystack/atlas';
import { AtlasCatalog } from '../../functions/core/haystack/catalog';
import {
  CONTROL_STRATEGIES,
  type ControlStrategy,
  type HaystackRequest,
  runHaystack,
} from '../../functions/core/haystack/loop';
import { haystackLog, predictionsAnnData, reportHtml } from '../../functions/core/haystack/outputs';
import type { RunProgress } from '../../functions/core/haystack/ports';
import { describeQuery } from '../../functions/core/haystack/query';
import { DATASETS, type DatasetName } from '../../functions/core/haystack/vocabulary';
import { createQueryInterpreter } from '../../functions/deps/haystack-agent';

const here = dirname(fileURLToPath(import.meta.url));

/** The stand-in as a separate program, one process per prediction, as a Batch job would run it. */
const STANDIN_COMMAND = [
  process.execPath,
  ...process.execArgv,
  join(here, `stack-standin${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`),
];

/** The interpreter's choice, in the words of a person at a terminal. */
function interpreterLine(message: string, fields: Record<string, unknown>): string {
  if (message === 'haystack_interpreter')
    return fields.interpreter === 'claude'
      ? `Interpreter: Claude (${String(fields.model)}).`
      : 'Interpreter: rule-based (no ANTHROPIC_API_KEY).';
  return `Claude's reading was not used (${String(fields.reason)}); the rule-based interpreter read the question.`;
}

export async function runAgent(
  argv: string[],
  log: (line: string) => void = console.log,
): Promise<{ runId: string; outputs: string[]; finalScore: number | null }> {
  const { values } = parseArgs({
    args: argv,
    options: {
      query: { type: 'string' },
      out: { type: 'string' },
      'run-id': { type: 'string' },
      'control-strategy': { type: 'string', default: 'synthetic_control' },
      'max-iterations': { type: 'string', default: '5' },
      'score-threshold': { type: 'string', default: '7' },
      dataset: { type: 'string' },
      seed: { type: 'string', default: '0' },
    },
    strict: true,
  });
  if (!values.query || values.query.trim().length < 10)
    throw new Error('--query: ask a question of at least 10 characters.');
  if (!values.out) throw new Error('--out: the directory the outputs go to.');
  const strategy = values['control-strategy'] as ControlStrategy;
  if (!CONTROL_STRATEGIES.includes(strategy))
    throw new Error(`--control-strategy: one of ${CONTROL_STRATEGIES.join(', ')}.`);
  const maxIterations = Number(values['max-iterations']);
  const threshold = Number(values['score-threshold']);
  const seed = Number(values.seed);
  if (!Number.isInteger(maxIterations) || maxIterations < 1 || maxIterations > 10)
    throw new Error('--max-iterations: 1 to 10.');
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > 10)
    throw new Error('--score-threshold: 1 to 10.');
  if (!Number.isInteger(seed)) throw new Error('--seed: an integer.');
  if (values.dataset && !DATASETS.includes(values.dataset as DatasetName))
    throw new Error(`--dataset: one of ${DATASETS.join(', ')}.`);
  const runId = values['run-id'] ?? `hs-local-${seed}`;
  const request: HaystackRequest = {
    query: values.query,
    control_strategy: strategy,
    max_iterations: maxIterations,
    score_threshold: threshold,
    dataset: values.dataset as DatasetName | undefined,
    seed,
  };
  log(`Generating the synthetic atlas (seed ${seed})…`);
  const catalog = new AtlasCatalog(Object.fromEntries(DATASETS.map((d) => [d, generateDataset(d, seed)])));
  const files = new H5wasmAnnDataFiles();
  const work = await mkdtemp(join(tmpdir(), 'haystack-'));
  const progress: RunProgress = {
    understood: async (q) =>
      log(
        `Understood as: ${describeQuery(q)}${q.not_used.length ? `; not used: ${q.not_used.map((n) => `${n.term} (${n.reason})`).join('; ')}` : ''}`,
      ),
    phase: async (phase, iteration) =>
      log(`${iteration ? `[${iteration}] ` : ''}${phase.replace(/_/g, ' ')}`),
    iteration: async (r) =>
      log(
        `[${r.iteration}] ${r.prompt.strategy}: ${r.prompt.condition} on ${r.prompt.cell_type} → score ${r.grounding.composite} (P ${r.grounding.P}, T ${r.grounding.T}, L ${r.grounding.L}, N ${r.grounding.N}; ${r.control_strategy_effective})`,
      ),
    cancelled: async () => false,
  };
  try {
    const result = await runHaystack(
      {
        // The same choice as the agent job's: Claude with ANTHROPIC_API_KEY (ANTHROPIC_MODEL, or the
        // assistant's default model), else the rules; each says which in the log.
        interpreter: createQueryInterpreter(
          loadAgentConfig(process.env),
          process.env.ANTHROPIC_API_KEY || null,
          null,
          (message, fields) => log(interpreterLine(message, fields ?? {})),
        ),
        catalog,
        model: new ProgramPredictionModel(files, work, STANDIN_COMMAND),
        progress,
      },
      request,
    );
    const c = result.comparison;
    if (c)
      log(
        c.error
          ? `${c.perturbation} compared with ${c.comparison}: ${c.error}`
          : `${c.perturbation} compared with ${c.comparison} (${c.prompt_cells} prompt cells): higher under ${c.perturbation}: ${c.contrast.higher_under_first.slice(0, 8).join(', ') || 'none'}; higher under ${c.comparison}: ${c.contrast.higher_under_second.slice(0, 8).join(', ') || 'none'}`,
      );
    await mkdir(values.out, { recursive: true });
    log('output generation');
    const logJson = haystackLog(runId, request, result);
    const outputs = [join(values.out, `${runId}_log.json`), join(values.out, `${runId}_report.html`)];
    await writeFile(outputs[0]!, `${JSON.stringify(logJson, null, 2)}\n`);
    await writeFile(outputs[1]!, reportHtml(logJson, result));
    if (result.prediction) {
      const predictions = join(values.out, `${runId}_predictions.h5ad`);
      await files.write(predictions, predictionsAnnData(runId, request, result));
      outputs.push(predictions);
    }
    log(
      `Done: ${result.termination_reason.replace(/_/g, ' ')}, final score ${result.final_score ?? '—'}. Outputs in ${values.out}.`,
    );
    return { runId, outputs, finalScore: result.final_score };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  runAgent(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`haystack-agent: ${(error as Error).message}`);
    process.exit(2);
  });
}
