/**
 * `arc`: Arc Reactor from a terminal or a CI job, through the HTTP API only.
 *
 *   arc runs launch --pipeline nf-core/scrnaseq --samplesheet sheet.csv --params-file params.yaml --wait
 *
 * Exit codes: 0 completed (or done), 1 the run failed, 2 usage, 3 the run was cancelled,
 * 4 the platform could not be reached or refused the request; 130 when Ctrl-C stops the wait
 * (the run goes on).
 */
import { readFile } from 'node:fs/promises';
import { MultiBar, Presets } from 'cli-progress';
import { Command, CommanderError, Option } from 'commander';
import YAML from 'yaml';
import { shortProcessName } from '../functions/core/nextflow/process-names';
import { ArcClient, CliError, EXIT } from './client';

interface Globals {
  url: string;
  json: boolean;
  /** bars (default on a terminal) or lines (default otherwise). */
  progress?: 'bars' | 'lines';
  user?: string;
  audience?: string;
}

interface ProcessCounts {
  completed: number;
  cached: number;
  failed: number;
  running: number;
  submitted: number;
}

interface RunView {
  run_id: string;
  status: string;
  pipeline: string;
  pipeline_version: string;
  created_at: string;
  error_message: string | null;
  error_task: string | null;
  exit_code: number | null;
  progress: ProcessCounts & { total_known: number; processes: Record<string, ProcessCounts> };
}

interface HaystackView {
  run_id: string;
  status: string;
  query: string;
  current_phase: string | null;
  current_iteration: number;
  max_iterations: number;
  grounding_scores: {
    iteration: number;
    composite: number;
    strategy: string;
    condition: string;
    cell_type: string;
  }[];
  final_score: number | null;
  termination_reason: string | null;
  error_message: string | null;
}

const TERMINAL = ['completed', 'failed', 'cancelled'];
const exitFor = (status: string) =>
  status === 'completed' ? EXIT.completed : status === 'cancelled' ? EXIT.cancelled : EXIT.failed;

function print(globals: Globals, value: unknown, text: () => string): void {
  process.stdout.write(globals.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ctrl-C while waiting stops the waiting, not the run. */
function onInterrupt(runId: string, reattach: string, cleanup: () => void): () => void {
  const handler = () => {
    cleanup();
    process.stderr.write(`\nStopped waiting; run ${runId} keeps going. Reattach with: ${reattach}\n`);
    process.exit(130);
  };
  process.once('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

/** Waits for a pipeline run: bars per process on a terminal, a line per change otherwise. */
async function waitForRun(
  client: ArcClient,
  globals: Globals,
  runId: string,
  intervalMs: number,
): Promise<number> {
  const useBars =
    !globals.json && (globals.progress ? globals.progress === 'bars' : Boolean(process.stderr.isTTY));
  const bars = useBars
    ? new MultiBar(
        {
          format:
            ' {process} |{bar}| {value}/{total} done · {cached} cached · {failed} failed · {running} running',
          hideCursor: true,
        },
        Presets.shades_classic,
      )
    : null;
  const perProcess = new Map<string, ReturnType<MultiBar['create']>>();
  const stop = onInterrupt(runId, `arc runs wait ${runId}`, () => bars?.stop());
  let last = '';
  let failedSince: number | undefined;
  try {
    for (;;) {
      const run = await client.request<RunView>('GET', `/api/runs/${encodeURIComponent(runId)}`);
      const p = run.progress;
      if (bars) {
        for (const [name, c] of Object.entries(p.processes ?? {})) {
          const total = Math.max(c.submitted + c.cached, c.completed + c.cached + c.failed, 1);
          const payload = {
            process: shortProcessName(name).padEnd(24).slice(0, 24),
            cached: c.cached,
            failed: c.failed,
            running: c.running ?? 0,
          };
          const bar = perProcess.get(name) ?? bars.create(total, 0, payload);
          perProcess.set(name, bar);
          bar.setTotal(total);
          bar.update(c.completed + c.cached, payload);
        }
      } else if (!globals.json) {
        const line = `${run.status} · ${p.completed + p.cached} of ${p.total_known} tasks done (${p.cached} cached), ${p.failed} failed, ${p.running} running`;
        if (line !== last)
          process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${runId} ${line}\n`);
        last = line;
      }
      // A failed run's reason (the task, its exit code, Nextflow's error) arrives with its last
      // logs, a moment after the status: wait up to ten seconds for it.
      if (run.status === 'failed') failedSince ??= Date.now();
      if (run.status === 'failed' && !run.error_task && Date.now() < failedSince! + 10_000) {
        await sleep(intervalMs);
        continue;
      }
      if (TERMINAL.includes(run.status)) {
        bars?.stop();
        print(globals, run, () =>
          run.status === 'failed'
            ? `Run ${run.run_id} failed${run.error_task ? ` in ${run.error_task}` : ''}${run.exit_code !== null ? ` (exit code ${run.exit_code})` : ''}: ${run.error_message ?? 'no reason recorded'}`
            : `Run ${run.run_id} ${run.status}: ${p.completed + p.cached} tasks (${p.cached} cached).`,
        );
        return exitFor(run.status);
      }
      await sleep(intervalMs);
    }
  } finally {
    stop();
  }
}

/** Waits for a HAYSTACK run: its phase and each iteration's score as they come. */
async function waitForQuestion(
  client: ArcClient,
  globals: Globals,
  runId: string,
  intervalMs: number,
): Promise<number> {
  const stop = onInterrupt(runId, `arc cells wait ${runId}`, () => {});
  let seen = 0;
  let phase = '';
  try {
    for (;;) {
      const run = await client.request<HaystackView>('GET', `/api/v1/runs/${encodeURIComponent(runId)}`);
      if (!globals.json) {
        const now = `${run.status}${run.current_phase ? ` · ${run.current_phase.replace(/_/g, ' ')} (iteration ${run.current_iteration}/${run.max_iterations})` : ''}`;
        if (now !== phase) process.stderr.write(`${now}\n`);
        phase = now;
        for (const g of run.grounding_scores.slice(seen)) {
          process.stderr.write(
            `  iteration ${g.iteration}: ${g.strategy} ${g.condition} on ${g.cell_type} → score ${g.composite}\n`,
          );
        }
      }
      seen = run.grounding_scores.length;
      if (TERMINAL.includes(run.status)) {
        print(
          globals,
          run,
          () =>
            `Question ${run.run_id} ${run.status}: ${run.termination_reason?.replace(/_/g, ' ') ?? 'ended'}${run.final_score !== null ? `, final score ${run.final_score}/10` : ''}${run.error_message ? ` — ${run.error_message}` : ''}. Synthetic data, stand-in model.`,
        );
        return exitFor(run.status);
      }
      await sleep(intervalMs);
    }
  } finally {
    stop();
  }
}

async function readParams(path: string | undefined): Promise<Record<string, unknown>> {
  if (!path) return {};
  const text = await readFile(path, 'utf8');
  const value = /\.json$/i.test(path) ? JSON.parse(text) : YAML.parse(text);
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new CliError(`${path} must hold a map of params (YAML or JSON).`, EXIT.usage);
  return value as Record<string, unknown>;
}

export function program(): Command {
  const arc = new Command('arc')
    .description(
      'Arc Reactor from the command line: pipelines, runs, and HAYSTACK questions, through the HTTP API.',
    )
    .addOption(new Option('--url <url>', 'the platform').env('ARC_URL').default('http://127.0.0.1:8080'))
    .addOption(
      new Option('--audience <audience>', 'the IAP audience: sign requests with an OIDC ID token for it').env(
        'ARC_IAP_AUDIENCE',
      ),
    )
    .addOption(
      new Option('--user <email>', 'locally: act as this user (the development identity)').env('ARC_USER'),
    )
    .option('--json', 'print JSON, for scripts', false)
    .addOption(
      new Option('--progress <style>', 'while waiting: bars per process, or lines').choices([
        'bars',
        'lines',
      ]),
    )
    .exitOverride()
    .showHelpAfterError();
  const globals = (): Globals => arc.opts<Globals>();
  const client = () => new ArcClient(globals());
  const interval = (value: string) => Math.max(200, Number(value) * 1000);

  const pipelines = arc.command('pipelines').description('the pipelines you can run');
  pipelines.command('list').action(async () => {
    const list = await client().request<{
      pipelines: { name: string; title: string; default_version: string }[];
    }>('GET', '/api/pipelines');
    print(globals(), list, () =>
      list.pipelines.map((p) => `${p.name}\t${p.default_version}\t${p.title}`).join('\n'),
    );
  });
  pipelines.command('show <name>').action(async (name: string) => {
    const pipeline = await client().request<Record<string, unknown>>('GET', `/api/pipelines/${name}`);
    print(globals(), pipeline, () => JSON.stringify(pipeline, null, 2));
  });

  const runs = arc.command('runs').description('pipeline runs');
  runs
    .command('list')
    .option('--status <status>')
    .action(async (opts: { status?: string }) => {
      const page = await client().request<{ runs: RunView[] }>(
        'GET',
        `/api/runs${opts.status ? `?status=${encodeURIComponent(opts.status)}` : ''}`,
      );
      print(
        globals(),
        page,
        () =>
          page.runs
            .map((r) => `${r.run_id}\t${r.status}\t${r.pipeline} ${r.pipeline_version}\t${r.created_at}`)
            .join('\n') || 'No runs.',
      );
    });
  runs.command('get <id>').action(async (id: string) => {
    const run = await client().request<RunView>('GET', `/api/runs/${encodeURIComponent(id)}`);
    print(
      globals(),
      run,
      () =>
        `${run.run_id}\t${run.status}\t${run.pipeline} ${run.pipeline_version}${run.error_message ? `\n${run.error_message}` : ''}`,
    );
  });
  runs
    .command('wait <id>')
    .description('wait for a run to end: exit 0 completed, 1 failed, 3 cancelled')
    .option('--interval <seconds>', 'how often to look', '2')
    .action(async (id: string, opts: { interval: string }) => {
      process.exitCode = await waitForRun(client(), globals(), id, interval(opts.interval));
    });
  runs.command('cancel <id>').action(async (id: string) => {
    const run = await client().request<RunView>('DELETE', `/api/runs/${encodeURIComponent(id)}`);
    print(globals(), run, () => `Run ${run.run_id} is ${run.status}.`);
  });
  runs
    .command('recover <id>')
    .option('--fresh', 'start afresh instead of resuming the work directory')
    .option('--params-file <file>', 'param overrides (YAML or JSON)')
    .option('--config <file>', 'a Nextflow config to use instead of the run’s')
    .option('--wait', 'wait for the recovery to end')
    .option('--interval <seconds>', 'how often to look while waiting', '2')
    .action(
      async (
        id: string,
        opts: { fresh?: boolean; paramsFile?: string; config?: string; wait?: boolean; interval: string },
      ) => {
        const overrides = await readParams(opts.paramsFile);
        const body = {
          reuse_work_dir: !opts.fresh,
          ...(Object.keys(overrides).length ? { override_params: overrides } : {}),
          ...(opts.config ? { override_config: await readFile(opts.config, 'utf8') } : {}),
        };
        const run = await client().request<RunView>(
          'POST',
          `/api/runs/${encodeURIComponent(id)}/recover`,
          body,
        );
        if (!opts.wait)
          return print(globals(), run, () => `Recovery ${run.run_id} of ${id} is ${run.status}.`);
        process.stderr.write(`Recovery ${run.run_id} of ${id} launched.\n`);
        process.exitCode = await waitForRun(client(), globals(), run.run_id, interval(opts.interval));
      },
    );
  runs
    .command('launch')
    .requiredOption('--pipeline <name>', 'e.g. nf-core/scrnaseq')
    .option('--version <version>', 'the pipeline version (default: its default)')
    .requiredOption('--samplesheet <file>', 'CSV, TSV, YAML or JSON')
    .option('--params-file <file>', 'params (YAML or JSON)')
    .option('--config <file>', 'extra Nextflow config')
    .option('--wait', 'wait for the run to end: exit 0 completed, 1 failed, 3 cancelled')
    .option('--interval <seconds>', 'how often to look while waiting', '2')
    .action(
      async (opts: {
        pipeline: string;
        version?: string;
        samplesheet: string;
        paramsFile?: string;
        config?: string;
        wait?: boolean;
        interval: string;
      }) => {
        const body = {
          pipeline: opts.pipeline,
          ...(opts.version ? { pipeline_version: opts.version } : {}),
          samplesheet_csv: await readFile(opts.samplesheet, 'utf8'),
          params: await readParams(opts.paramsFile),
          ...(opts.config ? { config_content: await readFile(opts.config, 'utf8') } : {}),
        };
        const run = await client().request<RunView>('POST', '/api/runs', body);
        if (!opts.wait) return print(globals(), run, () => `Run ${run.run_id} launched (${run.status}).`);
        process.stderr.write(`Run ${run.run_id} launched.\n`);
        process.exitCode = await waitForRun(client(), globals(), run.run_id, interval(opts.interval));
      },
    );

  const cells = arc
    .command('cells')
    .description('HAYSTACK: ask a single-cell model a question (synthetic data, stand-in model)');
  cells
    .command('ask <question...>')
    .option('--dataset <name>', 'parse_pbmc or openproblems')
    .option('--control-strategy <strategy>', 'synthetic_control or query_as_control')
    .option('--max-iterations <n>')
    .option('--threshold <score>')
    .option('--wait', 'wait for the answer: exit 0 completed, 1 failed, 3 cancelled')
    .option('--interval <seconds>', 'how often to look while waiting', '2')
    .action(
      async (
        words: string[],
        opts: {
          dataset?: string;
          controlStrategy?: string;
          maxIterations?: string;
          threshold?: string;
          wait?: boolean;
          interval: string;
        },
      ) => {
        const body = {
          query: words.join(' '),
          ...(opts.dataset ? { dataset: opts.dataset } : {}),
          ...(opts.controlStrategy ? { control_strategy: opts.controlStrategy } : {}),
          ...(opts.maxIterations ? { max_iterations: Number(opts.maxIterations) } : {}),
          ...(opts.threshold ? { score_threshold: Number(opts.threshold) } : {}),
        };
        const run = await client().request<HaystackView>('POST', '/api/v1/runs', body);
        if (!opts.wait) return print(globals(), run, () => `Question ${run.run_id} asked (${run.status}).`);
        process.stderr.write(`Question ${run.run_id} asked.\n`);
        process.exitCode = await waitForQuestion(client(), globals(), run.run_id, interval(opts.interval));
      },
    );
  cells
    .command('wait <id>')
    .option('--interval <seconds>', 'how often to look', '2')
    .action(async (id: string, opts: { interval: string }) => {
      process.exitCode = await waitForQuestion(client(), globals(), id, interval(opts.interval));
    });
  return arc;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT.usage;
    if (error instanceof CliError) {
      process.stderr.write(`arc: ${error.message}\n${error.problems.map((p) => `  ${p}\n`).join('')}`);
      return error.exitCode;
    }
    process.stderr.write(`arc: ${(error as Error).message}\n`);
    return EXIT.unreachable;
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
