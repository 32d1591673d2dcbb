/**
 * The HAYSTACK agent from the command line: generates the synthetic atlas (or reads it from
 * --atlas-dir), interprets the question, and runs the loop, calling the model as its own
 * program (the stand-in's job contract, one process per prediction) — then writes the three
 * outputs to --out: {run}_predictions.h5ad, {run}_report.html, {run}_log.json.
 *
 *   haystack-agent --query "How would lung fibroblasts respond to IFN-gamma?" --out results/
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { AnthropicClient } from '../../functions/adapters/anthropic-chat-model';
import { AnthropicQueryInterpreter } from '../../functions/adapters/anthropic-query-interpreter';
import { H5wasmAnnDataFiles } from '../../functions/adapters/h5wasm-h5ad';
import type { AnnData } from '../../functions/core/haystack/anndata';
import { generateDataset } from '../../functions/core/haystack/atlas';
import { AtlasCatalog } from '../../functions/core/haystack/catalog';
import {
  CONTROL_STRATEGIES,
  type ControlStrategy,
  type HaystackRequest,
  runHaystack,
} from '../../functions/core/haystack/loop';
import { haystackLog, predictionsAnnData, reportHtml } from '../../functions/core/haystack/outputs';
import type { PredictionModel, RunProgress } from '../../functions/core/haystack/ports';
import { type QueryInterpreter, RuleBasedInterpreter } from '../../functions/core/haystack/query';
import { DATASETS, type DatasetName } from '../../functions/core/haystack/vocabulary';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

/** The stand-in as a separate program, as a Batch job would run it. */
export class ProgramModel implements PredictionModel {
  readonly name = 'stack-standin';
  constructor(
    private readonly files: H5wasmAnnDataFiles,
    private readonly workDir: string,
    private readonly command: string[] = [
      process.execPath,
      ...process.execArgv,
      join(here, `stack-standin${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`),
    ],
  ) {}

  async predict({
    prompt,
    query,
    seed,
    label,
  }: {
    prompt: AnnData;
    query: AnnData;
    seed: number;
    label: string;
  }): Promise<AnnData> {
    const prefix = join(this.workDir, label);
    await Promise.all([
      this.files.write(`${prefix}-prompt.h5ad`, prompt),
      this.files.write(`${prefix}-query.h5ad`, query),
    ]);
    const [program, ...args] = this.command;
    await run(program!, [
      ...args,
      '--prompt',
      `${prefix}-prompt.h5ad`,
      '--query',
      `${prefix}-query.h5ad`,
      '--output',
      `${prefix}-pred.h5ad`,
      '--seed',
      String(seed),
    ]);
    return this.files.read(`${prefix}-pred.h5ad`);
  }
}

/** Claude when ANTHROPIC_API_KEY is set (falling back to the rules, saying so), else the rules. */
function interpreterFrom(env: NodeJS.ProcessEnv, log: (line: string) => void): QueryInterpreter {
  const key = env.ANTHROPIC_API_KEY;
  if (!key) {
    log('Interpreter: rule-based (no ANTHROPIC_API_KEY).');
    return new RuleBasedInterpreter();
  }
  const client = new AnthropicClient({
    apiKey: async () => key,
    baseUrl: env.ANTHROPIC_BASE_URL,
    maxRetries: 3,
    timeoutMs: 60_000,
  });
  log('Interpreter: Claude.');
  return new AnthropicQueryInterpreter(
    client,
    env.ANTHROPIC_MODEL ?? 'claude-sonnet-4-5-20250929',
    (reason) =>
      log(`Claude's reading was not used (${reason}); the rule-based interpreter read the question.`),
  );
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
        interpreter: interpreterFrom(process.env, log),
        catalog,
        model: new ProgramModel(files, work),
        progress,
      },
      request,
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
