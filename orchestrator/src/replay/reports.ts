/**
 * The replay executor's reports: Nextflow's execution report (`-with-report`) and timeline
 * (`-with-timeline`) made from the tasks the replay played, and, where the pipeline publishes
 * a tool's own report or data file, a page that says the tool did not run here. Every page is
 * self-contained (no script, nothing fetched) and says it comes from a replay: durations and
 * resources are the recording's, times are when the replay played each task.
 */
import { escapeHtml } from '../../../functions/core/shared/format';
import { formatDuration, formatMemory, formatTimestamp } from './format';

export interface TaskRecord {
  taskId: number;
  hash: string;
  /** What went into the hash besides the task's key (replay/main.ts TaskPlan.inputs). */
  inputs?: string;
  process: string;
  tag: string | null;
  name: string;
  status: 'COMPLETED' | 'FAILED' | 'CACHED' | 'ABORTED';
  exit: number | null;
  cpus: number;
  memory: number;
  attempt: number;
  submit: number;
  start: number | null;
  complete: number | null;
  realtime: number | null;
  cpuPercent: number | null;
  peakRss: number | null;
  peakVmem: number | null;
  rchar: number | null;
  wchar: number | null;
  workdir: string;
  errorAction: string | null;
}

export interface ReplayedRun {
  name: string;
  session: string;
  pipeline: string;
  revision: string;
  nextflowVersion: string;
  commandLine: string;
  workDir: string;
  started: number;
  ended: number;
  exitCode: number;
  speed: number;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
table{border-collapse:collapse;margin:.5rem 0}td,th{border-bottom:1px solid #dde1e8;padding:.2rem .55rem;text-align:left;vertical-align:top}
th{font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}.mono{font-family:ui-monospace,monospace;overflow-wrap:anywhere}.nowrap{white-space:nowrap}
.label{background:#fff8e1;border:1px solid #f0d98a;padding:.5rem .8rem;border-radius:6px}
.ok{color:#1e7e34}.bad{color:#b00020}.wrap{overflow-x:auto}`;

const page = (title: string, body: string) =>
  `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>\n<body>\n${body}\n</body></html>\n`;

const REPLAY_NOTE =
  'Made by the replay executor, which replays a recorded nf-core/scrnaseq execution instead of running its tools: each task’s duration, CPU, memory and I/O are the recording’s; times of day are when the replay played the task, faster than recorded.';

/** Sorted numbers' quantile (linear between neighbours). */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

/** min · median · max of a metric over a process's tasks, formatted, or "-" when none has it. */
function spread(values: (number | null)[], format: (n: number) => string): string {
  const present = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (present.length === 0) return '-';
  if (present.length === 1) return format(present[0]!);
  return `${format(present[0]!)} · ${format(quantile(present, 0.5))} · ${format(present.at(-1)!)}`;
}

/** Nextflow's execution report for the replayed run: summary, resources per process, every task. */
export function executionReportHtml(run: ReplayedRun, records: TaskRecord[]): string {
  const count = (status: TaskRecord['status']) => records.filter((r) => r.status === status).length;
  const ran = records.filter((r) => r.status === 'COMPLETED' || r.status === 'FAILED');
  const cpuHours = ran.reduce((sum, r) => sum + ((r.realtime ?? 0) / 3_600_000) * r.cpus, 0);
  const processes = [...new Set(records.map((r) => r.process))];
  const short = (process: string) => process.split(':').at(-1)!;
  const perProcess = processes
    .map((process) => {
      const tasks = ran.filter((r) => r.process === process);
      const all = records.filter((r) => r.process === process);
      return `<tr><td class="mono">${escapeHtml(short(process))}</td><td class="n">${all.length}</td><td class="n">${tasks.length}</td><td class="n">${all.length - tasks.length}</td><td>${spread(
        tasks.map((r) => r.realtime),
        formatDuration,
      )}</td><td>${spread(
        tasks.map((r) => r.cpuPercent),
        (n) => `${n.toFixed(0)}%`,
      )}</td><td>${spread(
        tasks.map((r) => r.peakRss),
        formatMemory,
      )}</td><td>${spread(
        tasks.map((r) => r.memory),
        formatMemory,
      )}</td><td>${spread(
        tasks.map((r) => r.rchar),
        formatMemory,
      )}</td><td>${spread(
        tasks.map((r) => r.wchar),
        formatMemory,
      )}</td></tr>`;
    })
    .join('\n');
  const taskRows = records
    .map(
      (r) =>
        `<tr><td class="n">${r.taskId}</td><td class="mono nowrap">${escapeHtml(r.hash.slice(0, 2))}/${escapeHtml(r.hash.slice(2, 8))}</td><td class="mono">${escapeHtml(r.name)}</td><td class="${r.status === 'FAILED' ? 'bad' : r.status === 'ABORTED' ? '' : 'ok'}">${r.status}</td><td class="n">${r.exit ?? '-'}</td><td class="n">${r.attempt}</td><td>${r.realtime === null ? '-' : formatDuration(r.realtime)}</td><td class="n">${r.cpus}</td><td>${r.cpuPercent === null ? '-' : `${r.cpuPercent.toFixed(1)}%`}</td><td>${formatMemory(r.memory)}</td><td>${r.peakRss === null ? '-' : formatMemory(r.peakRss)}</td></tr>`,
    )
    .join('\n');
  const ok = run.exitCode === 0;
  return page(
    `[${run.name}] Nextflow Workflow Report (replay)`,
    `<h1>Nextflow workflow report</h1>
<p class="mono">[${escapeHtml(run.name)}] · ${escapeHtml(run.pipeline)} ${escapeHtml(run.revision)} · Nextflow ${escapeHtml(run.nextflowVersion)} (replay executor)</p>
<p class="label">${REPLAY_NOTE}</p>
<h2 class="${ok ? 'ok' : 'bad'}">Workflow execution completed ${ok ? 'successfully' : 'unsuccessfully'}!</h2>
<p>The exit status of the task that caused the workflow execution to fail was: ${ok ? '-' : escapeHtml(String(records.find((r) => r.status === 'FAILED' && r.errorAction === 'TERMINATE')?.exit ?? run.exitCode))}.</p>
<table><tbody>
<tr><th>Run times</th><td>${formatTimestamp(run.started)} – ${formatTimestamp(run.ended)} (played in ${formatDuration(run.ended - run.started)}, ${run.speed}× faster than recorded)</td></tr>
<tr><th>Tasks</th><td>${count('COMPLETED')} succeeded, ${count('CACHED')} cached, ${count('FAILED')} failed, ${count('ABORTED')} aborted</td></tr>
<tr><th>CPU-Hours</th><td>${cpuHours.toFixed(1)} (recorded realtime × CPUs of the tasks that ran; cached tasks are not counted)</td></tr>
<tr><th>Session id</th><td class="mono">${escapeHtml(run.session)}</td></tr>
<tr><th>Work directory</th><td class="mono">${escapeHtml(run.workDir)}</td></tr>
<tr><th>Command line</th><td class="mono">${escapeHtml(run.commandLine)}</td></tr>
</tbody></table>
<h2>Resource usage</h2>
<p>Per process, over the tasks that ran (min · median · max): run time, CPU usage (100% is one CPU busy), peak memory used, memory requested, bytes read and written.</p>
<div class="wrap"><table><thead><tr><th>Process</th><th>Tasks</th><th>Ran</th><th>Cached or aborted</th><th>Realtime</th><th>%CPU</th><th>Peak RSS</th><th>Memory requested</th><th>Read</th><th>Written</th></tr></thead><tbody>
${perProcess}
</tbody></table></div>
<h2>Tasks</h2>
<div class="wrap"><table><thead><tr><th>Task</th><th>Hash</th><th>Name</th><th>Status</th><th>Exit</th><th>Attempt</th><th>Realtime</th><th>CPUs</th><th>%CPU</th><th>Memory</th><th>Peak RSS</th></tr></thead><tbody>
${taskRows}
</tbody></table></div>`,
  );
}

const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#9c755f',
  '#bab0ac',
];

/** Nextflow's timeline for the replayed run: each task's wait and run as bars on the played clock. */
export function timelineHtml(run: ReplayedRun, records: TaskRecord[]): string {
  const tasks = records.filter((r) => r.status !== 'CACHED').sort((a, b) => a.submit - b.submit);
  const cached = records.length - tasks.length;
  const begin = Math.min(run.started, ...tasks.map((t) => t.submit));
  const end = Math.max(run.ended, ...tasks.map((t) => t.complete ?? t.start ?? t.submit));
  const span = Math.max(1, end - begin);
  const labelWidth = 420;
  const width = 1000;
  const row = 16;
  const x = (ms: number) => labelWidth + ((width - labelWidth - 10) * (ms - begin)) / span;
  const processes = [...new Set(tasks.map((t) => t.process))];
  const color = (process: string) => PALETTE[processes.indexOf(process) % PALETTE.length]!;
  const bars = tasks
    .map((t, i) => {
      const y = 24 + i * row;
      const started = t.start ?? t.submit;
      const stopped = t.complete ?? end;
      const title = `${t.name} · ${t.status}${t.exit !== null ? ` (exit ${t.exit})` : ''} · realtime ${t.realtime === null ? '-' : formatDuration(t.realtime)} (recorded)`;
      return `<text x="4" y="${y + 11}" font-size="11" font-family="ui-monospace,monospace">${escapeHtml(t.name.split(':').at(-1)!.slice(0, 60))}</text><rect x="${x(t.submit).toFixed(1)}" y="${y + 3}" width="${Math.max(1, x(started) - x(t.submit)).toFixed(1)}" height="${row - 6}" fill="#dde1e8"><title>${escapeHtml(`${t.name} waiting`)}</title></rect><rect x="${x(started).toFixed(1)}" y="${y + 1}" width="${Math.max(1.5, x(stopped) - x(started)).toFixed(1)}" height="${row - 2}" fill="${t.status === 'FAILED' ? '#b00020' : t.status === 'ABORTED' ? '#999' : color(t.process)}"><title>${escapeHtml(title)}</title></rect>`;
    })
    .join('\n');
  const height = 24 + tasks.length * row + 24;
  const ticks = Array.from({ length: 6 }, (_, i) => begin + (span * i) / 5)
    .map(
      (ms) =>
        `<line x1="${x(ms).toFixed(1)}" x2="${x(ms).toFixed(1)}" y1="16" y2="${height - 20}" stroke="#eef0f4"/><text x="${(x(ms) - 12).toFixed(1)}" y="12" font-size="10">${ms === begin ? '0s' : formatDuration(ms - begin)}</text>`,
    )
    .join('');
  return page(
    `[${run.name}] Nextflow Timeline (replay)`,
    `<h1>Nextflow timeline</h1>
<p class="mono">[${escapeHtml(run.name)}] · ${escapeHtml(run.pipeline)} ${escapeHtml(run.revision)} · ${formatTimestamp(run.started)} – ${formatTimestamp(run.ended)}</p>
<p class="label">${REPLAY_NOTE} The axis is the played clock; hover a bar for the task's recorded run time.</p>
<p>${tasks.length} tasks ran${cached ? `; ${cached} cached ${cached === 1 ? 'task' : 'tasks'} did not run and ${cached === 1 ? 'is' : 'are'} not drawn` : ''}. Grey: waiting to start; coloured by process: running; red: failed.</p>
<div class="wrap"><svg role="img" aria-label="Tasks over time" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${ticks}
${bars}
</svg></div>`,
  );
}

/**
 * What is published where a pipeline's tool writes its own report or data file: the tool did
 * not run here, so the page (or, for a data file, a text) says so, with the task that stands for it.
 */
export function publishedPlaceholder(
  file: string,
  process: string,
  sample: string | null,
  record: TaskRecord,
): { content: string; contentType: string } {
  const tool = process.split(':').at(-1)!;
  const what = `${tool} did not run here: the replay executor replays a recorded nf-core/scrnaseq execution's tasks, not their tools, so there is no ${file.split('/').pop()} from it. A run with Nextflow installed, or on Google Batch, writes ${tool}'s own output at this path.`;
  if (!file.endsWith('.html'))
    return {
      content: `Placeholder written by the replay executor; this is not a ${file.split('.').pop()} file.\n${what}\nTask ${record.name}: ${record.status}, recorded realtime ${record.realtime === null ? '-' : formatDuration(record.realtime)}.\n`,
      contentType: 'text/plain; charset=utf-8',
    };
  return {
    content: page(
      `${tool} report placeholder${sample ? `: ${sample}` : ''} (replay)`,
      `<h1>${escapeHtml(tool)}${sample ? ` · ${escapeHtml(sample)}` : ''}</h1>
<p class="label"><strong>Placeholder, not ${escapeHtml(tool)}'s report.</strong> ${escapeHtml(what)}</p>
<table><tbody>
<tr><th>Task</th><td class="mono">${escapeHtml(record.name)}</td></tr>
<tr><th>Status</th><td>${record.status}</td></tr>
<tr><th>Recorded run time</th><td>${record.realtime === null ? '-' : formatDuration(record.realtime)}</td></tr>
<tr><th>Recorded peak memory</th><td>${record.peakRss === null ? '-' : formatMemory(record.peakRss)}</td></tr>
<tr><th>Work directory</th><td class="mono">${escapeHtml(record.workdir)}</td></tr>
</tbody></table>`,
    ),
    contentType: 'text/html; charset=utf-8',
  };
}
