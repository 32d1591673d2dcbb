/**
 * Before a recovery (POST /api/runs/{id}/recover?dry_run=true): for each task of the run being
 * recovered, what Nextflow's -resume is expected to do with it, and what running the rest
 * costs. Nextflow decides by the task's hash (its inputs, script and the params its script
 * uses) and whether its work dir is still there; we know the second for certain and the first
 * only in part, so a task whose hash may change says "may run again" and why.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import type { SpotPrices } from '../nextflow/metrics';
import { shortProcessName } from '../nextflow/process-names';
import { sampleMatcher, taskTag } from '../nextflow/sample-attribution';
import type { TraceTask } from '../nextflow/trace';
import type { Caller } from '../shared/caller';
import type { ObjectStore } from '../shared/ports';
import { planRecovery, type RecoveryDeps, refuseWhileChainActive } from './recovery';
import type { TaskCatalog } from './run-tasks';

export const ResumeOutcome = ['reused', 'runs_again', 'may_run_again', 'left_out'] as const;
export type ResumeOutcome = (typeof ResumeOutcome)[number];

export const PreviewTask = z.object({
  name: z.string(),
  process: z.string(),
  task_id: z.number().int().nullable(),
  hash: z.string().nullable(),
  status: z.string().nullable().describe('how it ended in the run being recovered'),
  outcome: z
    .enum(ResumeOutcome)
    .describe(
      'reused: comes back CACHED; runs_again: certain to run; may_run_again: Nextflow decides by its hash; left_out: its sample is not in the recovery',
    ),
  reason: z.string(),
});
export type PreviewTask = z.infer<typeof PreviewTask>;

export const ResumePreview = z.object({
  dry_run: z.literal(true),
  run_id: z.string().describe('the run that would be recovered'),
  reuse_work_dir: z.boolean(),
  samples: z.array(z.string()).nullable().describe('the samples kept, or null: every sample'),
  changes: z.object({
    params: z.array(z.string()).describe('params whose value the recovery changes'),
    config: z.enum(['none', 'processes', 'whole']).describe('what of the extra config changes'),
    config_processes: z.array(z.string()).describe('the withName selectors whose blocks change'),
  }),
  totals: z.object({
    reused: z.number().int(),
    runs_again: z.number().int(),
    may_run_again: z.number().int(),
    left_out: z.number().int(),
  }),
  estimate: z.object({
    cpu_hours: z.number().describe('of the tasks that run again'),
    cost_usd: z.number(),
    cpu_hours_if_all_may_run: z.number().describe('adding the tasks that may run again'),
    cost_usd_if_all_may_run: z.number(),
    basis: z.string(),
  }),
  tasks: z.array(PreviewTask),
  truncated: z.boolean().describe('more tasks than are listed (the totals count them all)'),
  caveat: z.string(),
});
export type ResumePreview = z.infer<typeof ResumePreview>;

export interface ResumePreviewDeps extends RecoveryDeps {
  tasks: TaskCatalog;
  prices: SpotPrices;
}

/** Work dirs looked at for one preview; past this, a finished task is taken as reused unchecked. */
const MAX_WORK_DIR_CHECKS = 2_000;
const MAX_LISTED = 2_000;
const HOUR_MS = 3_600_000;
const GIB = 1024 ** 3;

export const RESUME_CAVEAT =
  'Nextflow decides what -resume reuses: a task comes back cached when its hash (its inputs, its script and the params its script uses) is unchanged and its work dir is still there. The work dirs were checked; which params a process uses is not known here, so a task whose hash a change may touch says "may run again". Tasks the run never reached are not listed: they will run.';

/** `withName: 'X' { … }` blocks of a Nextflow config, and the text outside them. */
export function withNameBlocks(config: string): { blocks: Map<string, string>; rest: string } {
  const blocks = new Map<string, string>();
  let rest = '';
  let i = 0;
  const opening = /withName\s*:\s*(['"])(.*?)\1\s*\{/g;
  for (let match = opening.exec(config); match; match = opening.exec(config)) {
    let depth = 1;
    let j = opening.lastIndex;
    while (j < config.length && depth > 0) {
      if (config[j] === '{') depth++;
      else if (config[j] === '}') depth--;
      j++;
    }
    rest += config.slice(i, match.index);
    blocks.set(match[2]!, `${blocks.get(match[2]!) ?? ''}${config.slice(opening.lastIndex, j - 1)}`);
    i = j;
    opening.lastIndex = j;
  }
  return { blocks, rest: rest + config.slice(i) };
}

/** A config's text without comments, spacing, and scopes left empty once their withName blocks are out. */
const squeeze = (text: string) => {
  let squeezed = text
    .replace(/\/\/.*$/gm, '')
    .replace(/\s+/g, ' ')
    .trim();
  for (let before = ''; before !== squeezed; ) {
    before = squeezed;
    squeezed = squeezed
      .replace(/\b[A-Za-z_][\w.]*\s*\{\s*\}/g, '')
      .replace(/\s+/g, ' ')
      .trim();
  }
  return squeezed;
};

/** What of the config changed: nothing, some processes' withName blocks, or the rest (every task). */
export function configChange(
  before: string,
  after: string,
): { kind: 'none' | 'processes' | 'whole'; selectors: string[] } {
  if (squeeze(before) === squeeze(after)) return { kind: 'none', selectors: [] };
  const a = withNameBlocks(before);
  const b = withNameBlocks(after);
  if (squeeze(a.rest) !== squeeze(b.rest)) return { kind: 'whole', selectors: [] };
  const selectors = [...new Set([...a.blocks.keys(), ...b.blocks.keys()])].filter(
    (selector) => squeeze(a.blocks.get(selector) ?? '') !== squeeze(b.blocks.get(selector) ?? ''),
  );
  return selectors.length > 0 ? { kind: 'processes', selectors } : { kind: 'none', selectors: [] };
}

/** Whether a withName selector (a regular expression, as Nextflow reads it) names the process. */
function selects(selector: string, process: string): boolean {
  try {
    const pattern = new RegExp(`^(?:${selector})$`);
    return pattern.test(process) || pattern.test(shortProcessName(process));
  } catch {
    return true;
  }
}

const changedParams = (before: Record<string, unknown>, after: Record<string, unknown>) =>
  [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((name) => name !== 'input' && name !== 'outdir')
    .filter((name) => JSON.stringify(before[name]) !== JSON.stringify(after[name]))
    .sort();

/** The last row of each task (a retried task has a row per attempt), in trace order. */
function lastAttempts(tasks: TraceTask[]): TraceTask[] {
  const byName = new Map<string, TraceTask>();
  for (const task of tasks) if (task.name) byName.set(task.name, task);
  return [...byName.values()];
}

const cpuMs = (task: TraceTask) => (task.cpus ?? 1) * (task.realtime ?? 0);
const gibMs = (task: TraceTask) => ((task.memory ?? task.peak_rss ?? 0) / GIB) * (task.realtime ?? 0);

/** POST /api/runs/{id}/recover?dry_run=true: the same checks and 409s as the recovery, nothing written. */
export async function previewRecovery(
  deps: ResumePreviewDeps,
  caller: Caller,
  parentId: string,
  body: unknown,
): Promise<ResumePreview> {
  const plan = await planRecovery(deps, caller, parentId, body);
  const { parent, request, inputs, subset } = plan;
  const reuse = request.reuse_work_dir;
  await refuseWhileChainActive(deps, parent, reuse);

  const { tasks: rows } = await deps.tasks.tasks(parent.run_id);
  const tasks = lastAttempts(rows);
  const params = changedParams(parent.params, inputs.params);
  const config = configChange(parent.config_content, inputs.config);
  const kept = subset ? new Set(subset.samples) : null;
  const matcher = sampleMatcher(parent.samples);
  const present = await workDirsPresent(deps.objects, reuse ? tasks : []);

  const classified = tasks.map((task): PreviewTask => {
    const process = task.process ?? task.name ?? 'unknown';
    const outcome = (value: ResumeOutcome, reason: string): PreviewTask => ({
      name: task.name ?? process,
      process,
      task_id: task.task_id,
      hash: task.hash,
      status: task.status,
      outcome: value,
      reason,
    });
    const samples = matcher(taskTag(task));
    if (kept && samples.length > 0 && !samples.some((s) => kept.has(s)))
      return outcome(
        'left_out',
        `its ${samples.length === 1 ? 'sample is' : 'samples are'} not in this recovery`,
      );
    if (!reuse)
      return outcome('runs_again', 'the recovery starts afresh in a new work dir: nothing is reused');
    if (task.status === 'FAILED')
      return outcome('runs_again', `it failed${task.exit === null ? '' : ` (exit ${task.exit})`}`);
    if (task.status !== 'COMPLETED' && task.status !== 'CACHED')
      return outcome(
        'runs_again',
        `it ${task.status === 'ABORTED' ? 'was stopped when the run ended' : `ended ${task.status ?? 'unknown'}`}`,
      );
    const dir = present.get(task);
    if (dir === false) return outcome('runs_again', 'its work dir is gone (deleted, or never written)');
    if (params.length > 0)
      return outcome(
        'may_run_again',
        `params ${params.join(', ')} change; Nextflow re-runs it if its script uses one of them`,
      );
    if (config.kind === 'whole')
      return outcome(
        'may_run_again',
        'the config outside any withName block changes, which may reach every task',
      );
    const selector = config.selectors.find((s) => selects(s, process));
    if (selector !== undefined)
      return outcome(
        'may_run_again',
        `its withName: '${selector}' config changes; Nextflow re-runs it if that reaches its script (ext.args does, memory or cpus do not)`,
      );
    if (kept && samples.length === 0)
      return outcome('may_run_again', 'a whole-run step: with fewer samples its inputs may differ');
    return outcome(
      'reused',
      dir === undefined
        ? 'it finished; its work dir was not checked (the trace names none, or more than 2,000 tasks)'
        : 'it finished and its work dir is there',
    );
  });

  // What running again costs: each task's own run time when it finished before, else the
  // median of its process's finished tasks, else what it ran before it failed (a floor).
  const byProcess = new Map<string, TraceTask[]>();
  for (const task of tasks)
    if (task.status === 'COMPLETED')
      byProcess.set(task.process ?? '', [...(byProcess.get(task.process ?? '') ?? []), task]);
  const middle = (values: number[]) => values.sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;
  const medians = new Map(
    [...byProcess].map(([process, finished]) => [
      process,
      { cpu: middle(finished.map(cpuMs)), gib: middle(finished.map(gibMs)) },
    ]),
  );
  const effort = (task: TraceTask) =>
    task.status === 'COMPLETED' || task.status === 'CACHED'
      ? { cpu: cpuMs(task), gib: gibMs(task) }
      : (medians.get(task.process ?? '') ?? { cpu: cpuMs(task), gib: gibMs(task) });
  const sum = (outcomes: ResumeOutcome[]) =>
    tasks.reduce(
      (total, task, i) => {
        if (!outcomes.includes(classified[i]!.outcome)) return total;
        const e = effort(task);
        return { cpu: total.cpu + e.cpu, gib: total.gib + e.gib };
      },
      { cpu: 0, gib: 0 },
    );
  const certain = sum(['runs_again']);
  const all = sum(['runs_again', 'may_run_again']);
  const hours = (ms: number) => Math.round((ms / HOUR_MS) * 1000) / 1000;
  const usd = (e: { cpu: number; gib: number }) =>
    Math.round(
      ((e.cpu / HOUR_MS) * deps.prices.vcpu_hour + (e.gib / HOUR_MS) * deps.prices.gb_hour) * 10_000,
    ) / 10_000;
  const count = (value: ResumeOutcome) => classified.filter((t) => t.outcome === value).length;

  return {
    dry_run: true,
    run_id: parent.run_id,
    reuse_work_dir: reuse,
    samples: subset?.samples ?? null,
    changes: { params, config: config.kind, config_processes: config.selectors },
    totals: {
      reused: count('reused'),
      runs_again: count('runs_again'),
      may_run_again: count('may_run_again'),
      left_out: count('left_out'),
    },
    estimate: {
      cpu_hours: hours(certain.cpu),
      cost_usd: usd(certain),
      cpu_hours_if_all_may_run: hours(all.cpu),
      cost_usd_if_all_may_run: usd(all),
      basis: `CPUs × run time of each task from run ${parent.run_id} (a failed task: the median of its process's finished tasks, else what it ran before failing); memory requested × run time; at $${deps.prices.vcpu_hour}/vCPU-hour and $${deps.prices.gb_hour}/GB-hour (Spot). Tasks the run never reached are not counted.`,
    },
    tasks: classified.slice(0, MAX_LISTED),
    truncated: classified.length > MAX_LISTED,
    caveat: RESUME_CAVEAT,
  };
}

/**
 * Whether each finished task's work dir still has objects (Nextflow needs it to reuse the
 * task): true or false for the first MAX_WORK_DIR_CHECKS, absent for the rest.
 */
async function workDirsPresent(objects: ObjectStore, tasks: TraceTask[]): Promise<Map<TraceTask, boolean>> {
  const prefix = `gs://${objects.bucket}/`;
  const finished = tasks
    .filter((t) => (t.status === 'COMPLETED' || t.status === 'CACHED') && t.workdir?.startsWith(prefix))
    .slice(0, MAX_WORK_DIR_CHECKS);
  const limit = pLimit(16);
  const present = new Map<TraceTask, boolean>();
  await Promise.all(
    finished.map((task) =>
      limit(async () => {
        const dir = `${task.workdir!.slice(prefix.length).replace(/\/$/, '')}/`;
        present.set(task, (await objects.list(dir, 1)).objects.length > 0);
      }),
    ),
  );
  return present;
}
