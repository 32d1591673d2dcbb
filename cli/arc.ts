/**
 * `arc`: Arc Reactor from a terminal or a CI job, through the HTTP API only.
 *
 *   arc runs launch --pipeline nf-core/scrnaseq --samplesheet sheet.csv --params-file params.yaml --wait
 *
 * Exit codes: 0 completed (or done), 1 the run failed, 2 usage, 3 the run was cancelled,
 * 4 the platform could not be reached or refused the request; 130 when Ctrl-C stops the wait
 * (the run goes on).
 */

import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stripVTControlCharacters } from 'node:util';
import { MultiBar, Presets } from 'cli-progress';
import { Command, CommanderError, Option } from 'commander';
import YAML from 'yaml';
import type { BuiltSamplesheet } from '../functions/core/benchling/samplesheet-builder';
import type { HaystackRun } from '../functions/core/haystack/run-model';
import { exitCodeHint } from '../functions/core/nextflow/exit-codes';
import { earlierAttemptsSummary, preemptionSummary } from '../functions/core/nextflow/metrics';
import type { PipelineDetail, PipelineSummary } from '../functions/core/nextflow/pipeline-views';
import { shortProcessName } from '../functions/core/nextflow/process-names';
import { describeEstimate } from '../functions/core/runs/estimate-words';
import type { ResumePreview } from '../functions/core/runs/resume-preview';
import type { Recommendations } from '../functions/core/runs/right-sizing';
import type { RunComparison } from '../functions/core/runs/run-compare';
import type { RunView } from '../functions/core/runs/run-model';
import type { RunPreview } from '../functions/core/runs/run-preview';
import type { RunSamplesView } from '../functions/core/runs/run-samples';
import type { LogEntry } from '../functions/core/runs/views';
import type { FreeWorkDirResult, WorkDirView } from '../functions/core/runs/work-dir';
import {
  formatBytes,
  formatDuration,
  formatTime,
  formatUsd,
  plural,
  runDuration,
} from '../functions/core/shared/format';
import { isTerminal } from '../functions/core/shared/run-status';
import { VERSION } from '../functions/core/shared/version';
import { ArcClient, CliError, EXIT } from './client';

interface Globals {
  url: string;
  json: boolean;
  /** bars (default on a terminal) or lines (default otherwise). */
  progress?: 'bars' | 'lines';
  user?: string;
  audience?: string;
}

/** A run as the page's header and failure card show it, in lines a terminal prints. */
/** `arc runs compare`: what differs, the first run's value first. */
export function describeComparison(c: RunComparison): string {
  const value = (v: unknown) => (v === null || v === undefined ? '—' : printable(JSON.stringify(v)));
  const figure = (v: number | null, unit: string, digits = 2) =>
    v === null ? '—' : `${v.toFixed(digits)} ${unit}`;
  const line = (s: RunComparison['a']) =>
    `${s.run_id}  ${s.status}  ${s.pipeline} ${s.pipeline_version}  Nextflow ${s.nextflow_version ?? '?'}  ${figure(s.cpu_hours, 'CPU-h')}  ${s.cost_usd === null ? '—' : formatUsd(s.cost_usd)}${s.tasks ? `  ${s.tasks.completed} run, ${s.tasks.cached} cached, ${s.tasks.failed} failed` : ''}${s.error_task ? `  failed in ${printable(s.error_task)}` : ''}`;
  const p = c.params;
  const sheet = c.samplesheet;
  return [
    `a: ${line(c.a)}`,
    `b: ${line(c.b)}`,
    ...(c.same_pipeline ? [] : ['pipelines differ']),
    `params: ${p.changed.length} changed, ${p.only_a.length} only in a, ${p.only_b.length} only in b, ${p.same} the same`,
    ...p.changed.map((x) => `  ${x.name}: ${value(x.a)} → ${value(x.b)}`),
    ...p.only_a.map((x) => `  - ${x.name}: ${value(x.a)}`),
    ...p.only_b.map((x) => `  + ${x.name}: ${value(x.b)}`),
    c.config.same ? 'config: the same' : 'config: differs',
    ...c.config.only_a.map((l) => `  - ${printable(l)}`),
    ...c.config.only_b.map((l) => `  + ${printable(l)}`),
    `samples: ${sheet.added.length} added, ${sheet.removed.length} removed, ${sheet.changed.length} changed, ${sheet.same} the same`,
    ...sheet.added.map((id) => `  + ${printable(id)}`),
    ...sheet.removed.map((id) => `  - ${printable(id)}`),
    ...sheet.changed.map((id) => `  ~ ${printable(id)}`),
    'process\ta run/cached/failed\tb run/cached/failed\tCPU-h a → b',
    ...c.processes.map(
      (row) =>
        `${shortProcessName(row.process)}\t${row.a ? `${row.a.completed}/${row.a.cached}/${row.a.failed}` : '—'}\t${row.b ? `${row.b.completed}/${row.b.cached}/${row.b.failed}` : '—'}\t${(row.a?.cpu_hours ?? 0).toFixed(2)} → ${(row.b?.cpu_hours ?? 0).toFixed(2)} (${row.cpu_hours_delta >= 0 ? '+' : ''}${row.cpu_hours_delta.toFixed(2)})`,
    ),
    `result files: ${c.results.both} in both, ${c.results.only_a.length} only in a, ${c.results.only_b.length} only in b${c.results.truncated ? ' (of the first 5,000 each)' : ''}`,
    ...c.results.only_a.map((f) => `  - ${printable(f)}`),
    ...c.results.only_b.map((f) => `  + ${printable(f)}`),
  ].join('\n');
}

/** `arc runs recover --dry-run`: the totals, the estimate, then each task that runs or may run again. */
/** `--budget 12.50` as a number of USD; anything else is bad usage (exit 2), said before anything is sent. */
function budgetOf(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0)
    throw new CliError(
      `--budget takes a number of US dollars over 0, e.g. --budget 25; got "${text}".`,
      EXIT.usage,
    );
  return value;
}

export function describeResumePreview(preview: ResumePreview): string {
  const t = preview.totals;
  const e = preview.estimate;
  return [
    `Recovering ${preview.run_id}${preview.reuse_work_dir ? ' with -resume' : ' afresh'}${preview.samples ? ` (only ${preview.samples.join(', ')})` : ''}: ${t.reused} reused, ${t.runs_again} run again, ${t.may_run_again} may run again${t.left_out ? `, ${t.left_out} left out` : ''}.`,
    `Runs again: about ${e.cpu_hours.toFixed(2)} CPU-h, ${formatUsd(e.cost_usd)}${t.may_run_again ? ` (up to ${e.cpu_hours_if_all_may_run.toFixed(2)} CPU-h, ${formatUsd(e.cost_usd_if_all_may_run)} if every "may" does)` : ''}.`,
    ...preview.tasks
      .filter((task) => task.outcome !== 'reused')
      .map((task) => `${task.outcome}\t${printable(task.name)}\t${printable(task.reason)}`),
    ...(preview.truncated ? ['(more tasks than listed)'] : []),
    preview.caveat,
    'Nothing was launched (--dry-run).',
  ].join('\n');
}

/** `arc runs samples`: one line a sample, the failed ones with their task and its last lines. */
export function describeSamples(view: RunSamplesView): string {
  const cost = (usd: number | null) => (usd === null ? '' : ` · ${formatUsd(usd)}`);
  const lines = view.samples.map((s) => {
    const t = s.tasks;
    const head = `${printable(s.sample)}\t${s.status}\t${t.completed + t.cached} done (${t.cached} cached)${t.failed ? `, ${t.failed} failed${t.retried ? ` (${t.retried} retried)` : ''}` : ''}\t${s.cpu_hours.toFixed(2)} CPU-h${cost(s.cost_share_usd)}`;
    if (!s.failed_task) return head;
    const failed = s.failed_task;
    return [
      head,
      `  failed: ${printable(failed.name)} (task ${failed.task_id ?? '-'}, exit ${failed.exit ?? '-'})`,
      ...(failed.log_tail
        ? failed.log_tail.map((line) => `  | ${printable(line)}`)
        : [
            `  (its log cannot be read yet: arc runs tasks ${view.run_id} --status FAILED shows where it is)`,
          ]),
    ].join('\n');
  });
  const w = view.whole_run;
  return [
    ...lines,
    `whole run\t\t${w.tasks.completed + w.tasks.cached} done${w.tasks.failed ? `, ${w.tasks.failed} failed` : ''}\t${w.cpu_hours.toFixed(2)} CPU-h${cost(w.cost_share_usd)}`,
    `${view.samples.length} samples, ${view.samples.filter((s) => s.status === 'failed').length} failed${view.unlisted_samples ? `; ${view.unlisted_samples} more not listed (their tasks count as whole-run)` : ''}.`,
    view.samples.some((s) => s.cost_share_usd !== null)
      ? "Cost: the run's estimate split by each sample's share of its CPU-hours."
      : 'Cost shares appear once the run has ended and its trace is read.',
  ].join('\n');
}

export function describeRun(run: RunView, now: number): string {
  const lines = [
    `${run.run_id}  ${run.status}${run.name ? `  ${printable(run.name)}` : ''}`,
    [
      `${run.pipeline} ${run.pipeline_version}`,
      `${plural(run.sample_count, 'sample')}${run.source_ngs_runs.length > 0 ? ` from ${run.source_ngs_runs.join(', ')}` : ''}`,
      run.user_name,
      `started ${formatTime(run.created_at)}`,
      formatDuration(runDuration(run, now)),
      ...(run.executor === 'replay' ? ['replayed recording (not real Nextflow)'] : []),
    ].join(' · '),
  ];
  const labels = Object.entries(run.labels).map(([k, v]) => `${k}=${v}`);
  if (labels.length > 0) lines.push(`labels: ${labels.join(', ')}`);
  if (run.is_recovery && run.parent_run_id)
    lines.push(
      `recovery of ${run.parent_run_id} (${run.reused_work_dir ? 'resumed with -resume' : 'started afresh'})`,
    );
  if (run.status === 'pending' && run.queue)
    lines.push(`queued since ${formatTime(run.queue.since)}: ${run.queue.reason}`);
  const p = run.progress;
  lines.push(
    `progress: ${p.completed + p.cached} done of ${p.total_known} known (${p.cached} cached, ${p.failed} failed, ${p.running} running)`,
  );
  if (run.status === 'failed') {
    if (run.error_task) lines.push(`failed task: ${printable(run.error_task)}`);
    const code = run.failed_task_exit_code;
    if (code !== null)
      lines.push(`task exit code: ${code}${exitCodeHint(code) ? ` — ${exitCodeHint(code)}` : ''}`);
    if (run.exit_code !== null)
      lines.push(`${code !== null ? 'Nextflow exited with' : 'exit code'}: ${run.exit_code}`);
  }
  if (run.error_message) lines.push(printable(run.error_message));
  if (run.budget_usd !== null)
    lines.push(
      `budget: $${run.accrued_usd.toFixed(2)} of $${run.budget_usd.toFixed(2)} so far (Spot CPU and memory of finished tasks)${run.budget_from ? `; ${printable(run.budget_from)}` : ''}`,
    );
  if (run.cost_estimate) lines.push(describeEstimate(run.cost_estimate));
  for (const line of [earlierAttemptsSummary(run.metrics), preemptionSummary(run.metrics)])
    if (line) lines.push(line);
  return lines.join('\n');
}

const exitFor = (status: string) =>
  status === 'completed' ? EXIT.completed : status === 'cancelled' ? EXIT.cancelled : EXIT.failed;

/** A chain's work dir in a few lines: the summary, its figures, their basis. */
function describeWorkDirView(view: WorkDirView): string {
  const lines = [
    `Work dir of ${view.root_run_id} (${view.work_dir}, ${view.cache_dir}): ${printable(view.summary)}`,
  ];
  if (view.state && !view.state.freed_at && view.state.objects > 0) {
    lines.push(
      `  ${formatBytes(view.state.work_bytes)} of task work, ${formatBytes(view.state.cache_bytes)} of session cache, measured ${formatTime(view.state.measured_at)}`,
      `  ${formatUsd(view.monthly_usd ?? 0)} a month: ${view.basis}`,
      `  resumable in full until ${view.resumable_until?.slice(0, 10) ?? '-'}; all of it deleted by ${view.gone_by?.slice(0, 10) ?? '-'}`,
    );
  }
  if (view.active_run_id)
    lines.push(`  In use by ${view.active_run_id}: it can be freed once that run ends.`);
  return lines.join('\n');
}

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

/** Columns of a bar line besides the bar: the name (20), its frame, the largest counts. */
const BAR_TEXT_COLUMNS = 1 + 20 + 3 + ' 9999/9999 · 999 failed · 999 running'.length;

/** The failed task's own exit code and what it means, or Nextflow's when no task's is known. */
function failureCode(run: RunView): string {
  const code = run.failed_task_exit_code;
  if (code === null) return run.exit_code !== null ? ` (exit code ${run.exit_code})` : '';
  const hint = exitCodeHint(code);
  return ` (task exit code ${code}${hint ? `: ${hint.split(':')[0]}` : ''})`;
}

/** A pipeline as a person reads it: what it is, its versions, and what each version takes. */
function describePipeline(pipeline: PipelineDetail): string {
  const lines = [
    `${pipeline.name} — ${pipeline.title}`,
    pipeline.description,
    pipeline.repository,
    '',
    `versions: ${pipeline.versions.map((v) => (v === pipeline.default_version ? `${v} (default)` : v)).join(', ')}`,
  ];
  for (const release of pipeline.releases) {
    const params = release.parameter_groups.reduce((n, g) => n + g.parameters.length, 0);
    lines.push(
      '',
      `${release.version}: ${params} parameters in ${release.parameter_groups.length} groups (arc pipelines show --json for them all)`,
      `  samplesheet columns: ${release.samplesheet.columns.map((c) => (release.samplesheet.required.includes(c) ? `${c}*` : c)).join(', ')}  (* required)`,
    );
  }
  return lines.join('\n');
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
  // Each line fits the terminal (80 columns at least): a name of 20, the bar, then the counts.
  const columns = Math.max(80, process.stderr.columns ?? 80);
  const bars = useBars
    ? new MultiBar(
        {
          format: ' {process} |{bar}| {value}/{total} · {failed} failed · {running} running',
          barsize: Math.min(40, columns - BAR_TEXT_COLUMNS),
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
            process: shortProcessName(name).padEnd(20).slice(0, 20),
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
      if (isTerminal(run.status)) {
        bars?.stop();
        print(globals, run, () =>
          run.status === 'failed'
            ? `Run ${run.run_id} failed${run.error_task ? ` in ${printable(run.error_task)}` : ''}${failureCode(run)}: ${printable(run.error_message ?? 'no reason recorded')}`
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

/**
 * Writes what a signed URL serves to `target` (bytes written), or null when there is no such
 * object (404); any other failure is an error naming `what`.
 */
async function downloadTo(url: string, target: string, what: string): Promise<number | null> {
  const response = await fetch(url).catch((error: Error) => {
    throw new CliError(`Could not download ${what} (${error.message}).`, EXIT.unreachable);
  });
  if (response.status === 404) return null;
  if (!response.ok || !response.body)
    throw new CliError(`Downloading ${what} answered ${response.status}.`, EXIT.unreachable);
  const out = createWriteStream(target);
  await pipeline(Readable.fromWeb(response.body as never), out);
  return out.bytesWritten;
}

/** How a question was read, and what it names that the run does not use. */
function understandingLines(run: HaystackRun): string[] {
  const u = run.understanding;
  if (!u) return [];
  return [
    `Understood as: ${u.understood_as}${u.comparison ? ' (two predictions and their contrast)' : ''}.`,
    ...u.not_used.map((n) => `Not used: ${n.term} (${n.reason}).`),
  ];
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
  let understood = false;
  try {
    for (;;) {
      const run = await client.request<HaystackRun>('GET', `/api/v1/runs/${encodeURIComponent(runId)}`);
      if (!globals.json && !understood && run.understanding) {
        understood = true;
        process.stderr.write(
          understandingLines(run)
            .map((l) => `${printable(l)}\n`)
            .join(''),
        );
      }
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
      if (isTerminal(run.status)) {
        const c = run.comparison;
        if (!globals.json && c) {
          const top = (genes: string[]) => genes.slice(0, 8).join(', ') || 'none';
          const line = c.error
            ? `${c.perturbation} compared with ${c.comparison}: ${c.error}`
            : `${c.perturbation} compared with ${c.comparison} (${c.comparison} prompted with ${c.prompt_cells} cells): higher under ${c.perturbation}: ${top(c.contrast.higher_under_first)}; higher under ${c.comparison}: ${top(c.contrast.higher_under_second)}.`;
          process.stderr.write(`${printable(line)}\n`);
        }
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

/** Log and task text is the pipeline's: terminal control sequences in it are dropped, not obeyed. */
const printable = (text: string) =>
  Array.from(stripVTControlCharacters(text))
    .filter((c) => c >= ' ' || c === '\n' || c === '\t')
    .join('');

const logLine = (e: LogEntry) =>
  printable(`${e.timestamp} [${e.thread}] ${e.level} ${e.logger} - ${e.message}`);

/** Streams nextflow.log from `offset` until the run has ended and the log is read to its end. */
async function followLogs(client: ArcClient, globals: Globals, runId: string, offset: number): Promise<void> {
  await client.stream(`/api/runs/${encodeURIComponent(runId)}/logs/stream?offset=${offset}`, (event) => {
    if (event.event === 'entries') {
      for (const entry of JSON.parse(event.data) as LogEntry[])
        process.stdout.write(globals.json ? `${JSON.stringify(entry)}\n` : `${logLine(entry)}\n`);
    }
    return event.event !== 'done';
  });
}

/** `key=value` pairs as --label gives them; the API checks them (Google Cloud label rules). */
function labelsOf(pairs: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0)
      throw new CliError(`--label ${pair}: write it as key=value, e.g. --label team=genomics`, EXIT.usage);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** The port a local stack serves on: PORT, as `npm start` reads it (8080 when unset). */
function localPort(): string {
  const port = process.env.PORT;
  return port && /^\d{1,5}$/.test(port) ? port : '8080';
}

/** A file the user named: a missing or unreadable one is a usage error naming its path. */
async function readLocal(path: string, option: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES'
            ? 'cannot be read (permission denied)'
            : `cannot be read (${(error as Error).message})`;
    throw new CliError(`${option} ${resolve(path)} ${why}.`, EXIT.usage);
  }
}

async function readParams(path: string | undefined): Promise<Record<string, unknown>> {
  if (!path) return {};
  const text = await readLocal(path, '--params-file');
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
    .addOption(
      new Option(
        '--url <url>',
        'the platform (a local stack: http://127.0.0.1:$PORT, as npm start serves it)',
      )
        .env('ARC_URL')
        .default(`http://127.0.0.1:${localPort()}`),
    )
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
    const list = await client().request<{ pipelines: PipelineSummary[] }>('GET', '/api/pipelines');
    print(globals(), list, () =>
      list.pipelines.map((p) => `${p.name}\t${p.default_version}\t${p.title}`).join('\n'),
    );
  });
  pipelines.command('show <name>').action(async (name: string) => {
    const pipeline = await client().request<PipelineDetail>('GET', `/api/pipelines/${name}`);
    print(globals(), pipeline, () => describePipeline(pipeline));
  });
  pipelines
    .command('recommend <name>')
    .description(
      'right-sizing from past runs: per process, memory and cpus where the request is far above use or tasks were killed for memory, with the evidence and a nextflow.config snippet',
    )
    .option('--version <version>', 'the pipeline version (default: its default version)')
    .option('-o, --output <file>', 'also write the snippet to this file, for --config')
    .action(async (name: string, opts: { version?: string; output?: string }) => {
      const query = opts.version ? `?version=${encodeURIComponent(opts.version)}` : '';
      const advice = await client().request<Recommendations>(
        'GET',
        `/api/pipelines/${encodeURIComponent(name)}/recommendations${query}`,
      );
      if (opts.output && advice.config) await writeFile(opts.output, advice.config);
      print(globals(), advice, () =>
        [
          ...advice.recommendations.map(
            (r) =>
              `${r.selector}\t${r.kind === 'cpus' ? 'cpus' : 'memory'} ${r.current} -> ${r.recommended}\t${r.saving_usd_per_run >= 0 ? `saves ${formatUsd(r.saving_usd_per_run)}` : `costs ${formatUsd(-r.saving_usd_per_run)} more`} a run\t${r.evidence}`,
          ),
          advice.recommendations.length === 0
            ? `No recommendation from ${plural(advice.runs_read, 'finished run')}.`
            : `\n${advice.config}${opts.output ? `(written to ${opts.output}: launch with --config ${opts.output})` : ''}`,
          advice.basis,
        ].join('\n'),
      );
    });

  arc
    .command('work-dirs')
    .description('your recovery chains’ work dirs, the largest first, with what each costs a month to keep')
    .option('--all', "everyone's (administrators)")
    .option('--limit <n>', 'how many (at most 200)', '50')
    .action(async (opts: { all?: boolean; limit: string }) => {
      const query = new URLSearchParams({ limit: opts.limit, ...(opts.all ? { scope: 'all' } : {}) });
      const list = await client().request<{
        work_dirs: WorkDirView[];
        total_bytes: number;
        monthly_usd: number;
      }>('GET', `/api/work-dirs?${query}`);
      print(globals(), list, () =>
        [
          ...list.work_dirs.map(
            (w) =>
              `${w.root_run_id}\t${formatBytes(w.state?.bytes ?? 0)}\t${formatUsd(w.monthly_usd ?? 0)}/month\tuntil ${w.resumable_until?.slice(0, 10) ?? '-'}\t${printable(w.pipeline)}${w.active_run_id ? `\t(in use by ${w.active_run_id})` : ''}`,
          ),
          `${plural(list.work_dirs.length, 'work dir')}: ${formatBytes(list.total_bytes)}, ${formatUsd(list.monthly_usd)} a month to keep`,
        ].join('\n'),
      );
    });
  const runs = arc.command('runs').description('pipeline runs');
  runs
    .command('list')
    .option('--status <status>')
    .option('--pipeline <name>')
    .option('--label <key=value>', 'only runs with this label')
    .option('--page-size <n>', 'how many (at most 100)', '20')
    .action(async (opts: { status?: string; pipeline?: string; label?: string; pageSize: string }) => {
      const query = new URLSearchParams({ page_size: opts.pageSize });
      if (opts.status) query.set('status', opts.status);
      if (opts.pipeline) query.set('pipeline', opts.pipeline);
      if (opts.label) query.set('label', opts.label);
      const page = await client().request<{ runs: RunView[] }>('GET', `/api/runs?${query}`);
      print(
        globals(),
        page,
        () =>
          page.runs
            .map((r) => {
              const labels = Object.entries(r.labels ?? {}).map(([k, v]) => `${k}=${v}`);
              return `${r.run_id}\t${r.status}\t${r.pipeline} ${r.pipeline_version}\t${r.created_at}${labels.length ? `\t${labels.join(',')}` : ''}`;
            })
            .join('\n') || 'No runs.',
      );
    });
  runs
    .command('label <id> <changes...>')
    .description('set labels (key=value) or remove them (key-)')
    .action(async (id: string, changes: string[]) => {
      const patch: Record<string, string | null> = {};
      for (const change of changes) {
        if (/^[^=]+-$/.test(change)) patch[change.slice(0, -1)] = null;
        else Object.assign(patch, labelsOf([change]));
      }
      const run = await client().request<RunView>('PATCH', `/api/runs/${encodeURIComponent(id)}`, {
        labels: patch,
      });
      print(
        globals(),
        run,
        () =>
          Object.entries(run.labels ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join('\n') || `Run ${run.run_id} has no labels.`,
      );
    });
  runs
    .command('tasks <id>')
    .description("the run's tasks (failed ones with --status FAILED)")
    .option('--status <statuses>', 'e.g. FAILED or FAILED,ABORTED')
    .option('--process <name>')
    .option('--page-size <n>', 'how many (at most 500)', '100')
    .action(async (id: string, opts: { status?: string; process?: string; pageSize: string }) => {
      const query = new URLSearchParams({ page_size: opts.pageSize });
      if (opts.status) query.set('status', opts.status);
      if (opts.process) query.set('process', opts.process);
      const page = await client().request<{
        total: number;
        tasks: {
          task_id: number | null;
          name: string | null;
          status: string | null;
          exit: number | null;
          realtime: number | null;
        }[];
      }>('GET', `/api/runs/${encodeURIComponent(id)}/tasks?${query}`);
      print(globals(), page, () =>
        [
          ...page.tasks.map((t) =>
            printable(
              `${t.task_id ?? '-'}\t${t.status ?? '-'}\t${t.exit ?? '-'}\t${t.realtime !== null ? `${Math.round(t.realtime / 1000)} s` : '-'}\t${t.name ?? ''}`,
            ),
          ),
          `${page.tasks.length} of ${page.total} tasks`,
        ].join('\n'),
      );
    });
  runs
    .command('samples <id>')
    .description('the run sample by sample: status, tasks, CPU-hours, cost share, the failed task')
    .action(async (id: string) => {
      const view = await client().request<RunSamplesView>(
        'GET',
        `/api/runs/${encodeURIComponent(id)}/samples?include=log_tail`,
      );
      print(globals(), view, () => describeSamples(view));
    });
  runs
    .command('compare <a> <b>')
    .description('two runs side by side: params, config, samplesheet, per-process CPU-hours, results')
    .action(async (a: string, b: string) => {
      const query = new URLSearchParams({ a, b });
      const comparison = await client().request<RunComparison>('GET', `/api/runs/compare?${query}`);
      print(globals(), comparison, () => describeComparison(comparison));
    });
  runs.command('files <id>').action(async (id: string) => {
    const files = await client().request<
      Record<'inputs' | 'results' | 'logs', { path: string; size: number }[]> & { truncated: boolean }
    >('GET', `/api/runs/${encodeURIComponent(id)}/files`);
    print(globals(), files, () =>
      [
        ...(['results', 'logs', 'inputs'] as const).flatMap((group) =>
          files[group].map((f) => `${f.path}\t${f.size}`),
        ),
        ...(files.truncated ? ['(more files than listed)'] : []),
      ].join('\n'),
    );
  });
  runs
    .command('download <id> <path>')
    .description('download one file of the run (a path from `arc runs files`)')
    .option('-o, --output <file>', 'where to write it (default: its name, here)')
    .action(async (id: string, path: string, opts: { output?: string }) => {
      const link = await client().request<{ url: string }>(
        'GET',
        `/api/runs/${encodeURIComponent(id)}/download?format=json&path=${encodeURIComponent(path)}`,
      );
      const target = opts.output ?? path.split('/').pop()!;
      const written = await downloadTo(link.url, target, path);
      if (written === null)
        throw new CliError(`Downloading ${path} answered 404: it is gone.`, EXIT.unreachable);
      if (!globals().json) process.stderr.write(`Wrote ${target}.\n`);
      else print(globals(), { path, output: target }, () => '');
    });
  runs
    .command('logs <id>')
    .description('nextflow.log: its end, or -f to follow it until the run ends')
    .option('-f, --follow', 'keep printing new entries until the run has ended')
    .option('--tail <n>', 'entries from the end', '100')
    .action(async (id: string, opts: { follow?: boolean; tail: string }) => {
      const page = await client().request<{ entries: LogEntry[]; next_offset: number }>(
        'GET',
        `/api/runs/${encodeURIComponent(id)}/logs?tail=${encodeURIComponent(opts.tail)}`,
      );
      for (const entry of page.entries)
        process.stdout.write(globals().json ? `${JSON.stringify(entry)}\n` : `${logLine(entry)}\n`);
      if (opts.follow) await followLogs(client(), globals(), id, page.next_offset);
    });
  runs.command('get <id>').action(async (id: string) => {
    const run = await client().request<RunView>('GET', `/api/runs/${encodeURIComponent(id)}`);
    print(globals(), run, () => describeRun(run, Date.now()));
  });
  runs
    .command('wait <id>')
    .description('wait for a run to end: exit 0 completed, 1 failed, 3 cancelled')
    .option('--interval <seconds>', 'how often to look', '2')
    .action(async (id: string, opts: { interval: string }) => {
      process.exitCode = await waitForRun(client(), globals(), id, interval(opts.interval));
    });
  runs
    .command('work-dir <id>')
    .description(
      "the work dir of the run's recovery chain: its size, what keeping it costs a month, until when -resume can use it",
    )
    .option(
      '--free',
      'delete it now (with --yes): no run of the chain can be recovered with -resume afterwards',
    )
    .option('--yes', 'confirm --free')
    .action(async (id: string, opts: { free?: boolean; yes?: boolean }) => {
      const path = `/api/runs/${encodeURIComponent(id)}/work-dir`;
      if (!opts.free) {
        const view = await client().request<WorkDirView>('GET', path);
        print(globals(), view, () => describeWorkDirView(view));
        return;
      }
      if (!opts.yes)
        throw new CliError(
          `--free deletes the work dir and cache of ${id}'s chain, and no run of it can be recovered with -resume afterwards; add --yes to go ahead.`,
          EXIT.usage,
        );
      let deleted = 0;
      for (;;) {
        const result = await client().request<FreeWorkDirResult>('POST', `${path}/free`, { confirm: true });
        deleted += result.deleted_objects;
        if (!globals().json) process.stderr.write(`Deleted ${plural(deleted, 'object')}…\n`);
        if (result.done) {
          print(globals(), { ...result, deleted_objects: deleted }, () =>
            describeWorkDirView(result.work_dir),
          );
          return;
        }
      }
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
    .option(
      '--samples <ids>',
      'recover only these samples (comma-separated): the samplesheet keeps their rows',
    )
    .option('--failed-samples', 'recover only the samples that failed')
    .option('--dry-run', 'say what -resume would reuse and run again, and what that costs; launch nothing')
    .option(
      '--budget <usd>',
      "the recovery's budget in USD (default: the run's), e.g. a higher one after the budget stopped it",
    )
    .option('--wait', 'wait for the recovery to end')
    .option('--interval <seconds>', 'how often to look while waiting', '2')
    .action(
      async (
        id: string,
        opts: {
          fresh?: boolean;
          paramsFile?: string;
          config?: string;
          samples?: string;
          failedSamples?: boolean;
          dryRun?: boolean;
          budget?: string;
          wait?: boolean;
          interval: string;
        },
      ) => {
        if (opts.samples !== undefined && opts.failedSamples)
          throw new CliError('Give --samples or --failed-samples, not both.', EXIT.usage);
        const overrides = await readParams(opts.paramsFile);
        const samples = opts.samples
          ?.split(',')
          .map((sample) => sample.trim())
          .filter((sample) => sample !== '');
        if (samples && samples.length === 0)
          throw new CliError(
            '--samples names no sample: give ids separated by commas, e.g. PBMC_3,PBMC_7.',
            EXIT.usage,
          );
        const body = {
          reuse_work_dir: !opts.fresh,
          ...(samples ? { samples } : {}),
          ...(opts.failedSamples ? { failed_samples: true } : {}),
          ...(Object.keys(overrides).length ? { override_params: overrides } : {}),
          ...(opts.config ? { override_config: await readLocal(opts.config, '--config') } : {}),
          ...(opts.budget !== undefined ? { budget_usd: budgetOf(opts.budget) } : {}),
        };
        if (opts.dryRun) {
          const preview = await client().request<ResumePreview>(
            'POST',
            `/api/runs/${encodeURIComponent(id)}/recover?dry_run=true`,
            body,
          );
          return print(globals(), preview, () => describeResumePreview(preview));
        }
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
    .option('--label <key=value>', 'a label (repeat for more), e.g. --label team=genomics', collect, [])
    .option('--ngs-run <name>', 'the Benchling NGS run the samples come from (repeat for more)', collect, [])
    .option('--project <name>', 'the Benchling project the samples belong to')
    .option('--wait', 'wait for the run to end: exit 0 completed, 1 failed, 3 cancelled')
    .option('--follow', 'print nextflow.log as it is written (implies --wait)')
    .option('--interval <seconds>', 'how often to look while waiting', '2')
    .option('--budget <usd>', 'cancel the run once its cost, counted as tasks finish, reaches this many USD')
    .option(
      '--estimate',
      'check the request and print what the run would cost, from the lab’s completed runs; launch nothing (exit 4 if the launch would be refused)',
    )
    .action(
      async (opts: {
        estimate?: boolean;
        budget?: string;
        pipeline: string;
        version?: string;
        samplesheet: string;
        paramsFile?: string;
        config?: string;
        label: string[];
        ngsRun: string[];
        project?: string;
        wait?: boolean;
        follow?: boolean;
        interval: string;
      }) => {
        const labels = labelsOf(opts.label);
        const body = {
          pipeline: opts.pipeline,
          ...(opts.version ? { pipeline_version: opts.version } : {}),
          samplesheet_csv: await readLocal(opts.samplesheet, '--samplesheet'),
          params: await readParams(opts.paramsFile),
          ...(opts.config ? { config_content: await readLocal(opts.config, '--config') } : {}),
          ...(opts.label.length ? { labels } : {}),
          ...(opts.ngsRun.length ? { source_ngs_runs: opts.ngsRun } : {}),
          ...(opts.project ? { source_project: opts.project } : {}),
          ...(opts.budget !== undefined ? { budget_usd: budgetOf(opts.budget) } : {}),
        };
        if (opts.estimate) {
          const preview = await client().request<RunPreview>('POST', '/api/runs/preview', body);
          if (!preview.valid) {
            // Refused as the launch itself would be: the same words, the same exit code (4).
            process.exitCode = 4;
            process.stderr.write(
              `arc: ${preview.message}\n${preview.problems
                .slice(0, 20)
                .map((p) => `  ${p.message}\n`)
                .join('')}Nothing was launched (--estimate).\n`,
            );
            return;
          }
          return print(globals(), preview.estimate, () =>
            [
              `${preview.pipeline} ${preview.pipeline_version}, ${preview.sample_count} sample(s).`,
              describeEstimate(preview.estimate),
              'Nothing was launched (--estimate).',
            ].join('\n'),
          );
        }
        const run = await client().request<RunView>('POST', '/api/runs', body);
        if (!opts.wait && !opts.follow)
          return print(globals(), run, () => `Run ${run.run_id} launched (${run.status}).`);
        process.stderr.write(`Run ${run.run_id} launched.\n`);
        if (opts.follow) {
          // The log on stdout, the status on stderr; the exit code is the run's.
          await followLogs(client(), { ...globals(), progress: 'lines' }, run.run_id, 0);
        }
        process.exitCode = await waitForRun(
          client(),
          opts.follow ? { ...globals(), progress: 'lines' } : globals(),
          run.run_id,
          interval(opts.interval),
        );
      },
    );

  const benchling = arc.command('benchling').description('sequencing runs and samples in Benchling');
  benchling
    .command('runs')
    .option('--search <text>', "text in the run's, project's, instrument's or a sample's name")
    .option('--project <name>')
    .option('--from <day>', 'sequenced on or after (YYYY-MM-DD)')
    .option('--to <day>', 'sequenced on or before (YYYY-MM-DD)')
    .action(async (opts: { search?: string; project?: string; from?: string; to?: string }) => {
      const query = new URLSearchParams();
      if (opts.search) query.set('q', opts.search);
      if (opts.project) query.set('project', opts.project);
      if (opts.from) query.set('from', opts.from);
      if (opts.to) query.set('to', opts.to);
      const page = await client().request<{
        runs: { name: string; project: { name: string } | null; instrument: { name: string } | null }[];
        has_more: boolean;
        warning?: string;
      }>('GET', `/api/benchling/runs?${query}`);
      print(
        globals(),
        page,
        () =>
          [
            ...page.runs.map((r) => `${r.name}\t${r.project?.name ?? '-'}\t${r.instrument?.name ?? '-'}`),
            ...(page.has_more ? ['(more: narrow the search)'] : []),
            ...(page.warning ? [page.warning] : []),
          ].join('\n') || 'No NGS runs.',
      );
    });
  benchling.command('samples <ngs-run>').action(async (name: string) => {
    const found = await client().request<{
      samples: {
        name: string;
        fastq_1: string | null;
        fastq_2: string | null;
        expected_cells: number | null;
      }[];
    }>('GET', `/api/benchling/runs/${encodeURIComponent(name)}/samples`);
    print(globals(), found, () =>
      found.samples
        .map((s) => `${s.name}\t${s.fastq_1 ?? '-'}\t${s.fastq_2 ?? '-'}\t${s.expected_cells ?? '-'}`)
        .join('\n'),
    );
  });

  arc
    .command('samplesheet')
    .description('samplesheets from Benchling')
    .command('build')
    .description('build the samplesheet for every sample of NGS runs (checked as a launch would)')
    .requiredOption('--ngs-run <name>', 'an NGS run (repeat for more)', collect, [])
    .option('--pipeline <name>', 'the pipeline', 'nf-core/scrnaseq')
    .option('--version <version>')
    .option('-o, --output <file>', 'write the CSV here (default: stdout)')
    .action(async (opts: { ngsRun: string[]; pipeline: string; version?: string; output?: string }) => {
      const built = await client().request<BuiltSamplesheet>('POST', '/api/samplesheets', {
        pipeline: opts.pipeline,
        ...(opts.version ? { pipeline_version: opts.version } : {}),
        ngs_runs: opts.ngsRun,
      });
      if (globals().json) print(globals(), built, () => '');
      else if (opts.output) await writeFile(opts.output, built.samplesheet_csv);
      else process.stdout.write(built.samplesheet_csv);
      for (const warning of built.warnings) process.stderr.write(`warning: ${warning}\n`);
      if (!built.validation.valid)
        throw new CliError(
          'The samplesheet would not pass a launch:',
          EXIT.failed,
          built.validation.errors.map((e) => e.message),
        );
      if (opts.output && !globals().json) {
        const source = [
          ...built.source_ngs_runs.map((r) => `--ngs-run ${r}`),
          ...(built.source_project ? [`--project ${JSON.stringify(built.source_project)}`] : []),
        ].join(' ');
        process.stderr.write(
          `Wrote ${opts.output}: ${built.validation.sample_count} samples.\nLaunch it with where it came from kept:\n  arc runs launch --pipeline ${built.pipeline} --samplesheet ${opts.output} --params-file params.yaml ${source}\n`,
        );
      }
    });

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
        const run = await client().request<HaystackRun>('POST', '/api/v1/runs', body);
        if (!opts.wait) return print(globals(), run, () => `Question ${run.run_id} asked (${run.status}).`);
        process.stderr.write(`Question ${run.run_id} asked.\n`);
        process.exitCode = await waitForQuestion(client(), globals(), run.run_id, interval(opts.interval));
      },
    );
  cells
    .command('result <id>')
    .description(
      "fetch a completed question's outputs: the HTML report, the predictions (h5ad) and the log (JSON)",
    )
    .option('-o, --output <folder>', 'where to write them (made if missing)', '.')
    .action(async (id: string, opts: { output: string }) => {
      const result = await client().request<{
        run_id: string;
        report_url: string;
        anndata_url: string;
        log_url: string;
        final_score: number | null;
        termination_reason: string | null;
      }>('GET', `/api/v1/runs/${encodeURIComponent(id)}/result`);
      await mkdir(opts.output, { recursive: true });
      const files: { name: string; path: string; bytes: number | null }[] = [];
      for (const [url, name] of [
        [result.report_url, `${result.run_id}_report.html`],
        [result.anndata_url, `${result.run_id}_predictions.h5ad`],
        [result.log_url, `${result.run_id}_log.json`],
      ] as const) {
        const path = join(opts.output, name);
        const bytes = await downloadTo(url, path, name);
        files.push({ name, path, bytes });
        if (!globals().json)
          process.stderr.write(
            bytes === null
              ? `No ${name}: the run wrote none (no iteration made a prediction).\n`
              : `Wrote ${path} (${formatBytes(bytes)}).\n`,
          );
      }
      print(
        globals(),
        { ...result, files },
        () =>
          `Question ${result.run_id}: ${result.termination_reason?.replace(/_/g, ' ') ?? 'ended'}${result.final_score !== null ? `, final score ${result.final_score}/10` : ''}. Synthetic data, stand-in model.`,
      );
    });
  cells
    .command('wait <id>')
    .option('--interval <seconds>', 'how often to look', '2')
    .action(async (id: string, opts: { interval: string }) => {
      process.exitCode = await waitForQuestion(client(), globals(), id, interval(opts.interval));
    });

  arc
    .command('doctor')
    .description(
      "check a deployment's wiring against this checkout's infra/ and workflows/ (npm run doctor; Google credentials, not the platform's API)",
    )
    .action(async () => {
      const root = checkoutOf(process.cwd());
      if (!root)
        throw new CliError(
          'arc doctor compares a deployment with infra/ and workflows/ of an Arc Reactor checkout: run it inside one.',
          EXIT.usage,
        );
      process.exitCode = await new Promise<number>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', join(root, 'scripts', 'doctor', 'main.ts')],
          {
            cwd: root,
            stdio: 'inherit',
          },
        );
        child.once('error', reject);
        child.once('exit', (code) => resolve(code ?? EXIT.failed));
      });
    });
  return arc;
}

/** The Arc Reactor checkout that holds `dir`, if any (it has infra/ and scripts/doctor/). */
function checkoutOf(dir: string): string | null {
  for (let at = resolve(dir); ; at = dirname(at)) {
    if (existsSync(join(at, 'infra', 'main.tf')) && existsSync(join(at, 'scripts', 'doctor', 'main.ts')))
      return at;
    if (dirname(at) === at) return null;
  }
}

export async function main(argv: string[]): Promise<number> {
  // `--version` alone, before any command: the subcommands' own --version is a pipeline's.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`arc ${VERSION}\n`);
    return 0;
  }
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
