/**
 * Right-sizing from past runs (issue 33 item 3, ARCHITECTURE §3b′): per process, what its tasks
 * were given (the trace's memory and cpus) against what they used (peak RSS, %cpu) over the
 * deployment's finished runs of a pipeline, and where the request is far above the use — or
 * tasks were killed for memory — a `nextflow.config` setting with its evidence and what it saves
 * a run. Free of any library but zod: the page shows the same rules' output.
 */
import { z } from 'zod';
import type { SpotPrices } from '../nextflow/metrics';
import { getPipelineVersion } from '../nextflow/pipelines/registry';
import { shortProcessName } from '../nextflow/process-names';
import { formatBytes, plural } from '../shared/format';
import type { RunStore } from './ports';
import type { Run } from './run-model';

const GIB = 1024 ** 3;
/** Runs in which a process ran before anything is said about it. */
export const MIN_RUNS = 2;
/** What a recommendation leaves above the highest use seen: 25%. */
export const HEADROOM = 1.25;
/** A request is "far above" use when the recommendation is at most this share of it. */
export const FAR_ABOVE = 0.5;
/** Finished runs read, newest first, of each status. */
export const RIGHT_SIZING_RUNS = 200;

export const Recommendation = z.object({
  process: z.string().describe('the fully qualified process name'),
  selector: z.string().describe("the name in the config's withName selector (its simple name)"),
  kind: z.enum(['memory', 'cpus', 'memory_kills']),
  current: z.string().describe('what its tasks were given: `36 GB`, `6 cpus`'),
  recommended: z.string().describe('the setting, as the config writes it: `1.GB`, `4`'),
  runs: z.number().int().describe('runs in which the process ran'),
  tasks: z.number().int().describe('tasks of it that ran, over those runs'),
  evidence: z.string().describe('what was measured, in words'),
  saving_usd_per_run: z
    .number()
    .describe(
      'USD a run saves on average at the metrics’ prices (negative: it costs more, to stop the kills)',
    ),
});
export type Recommendation = z.infer<typeof Recommendation>;

export const Recommendations = z.object({
  pipeline: z.string(),
  version: z.string().nullable().describe('the version the runs read are of; null: every version'),
  runs_read: z.number().int(),
  recommendations: z.array(Recommendation),
  config: z
    .string()
    .describe('a nextflow.config snippet with every recommendation; empty when there is none'),
  basis: z.string().describe('the rules and the runs they read, in words'),
});
export type Recommendations = z.infer<typeof Recommendations>;

interface Seen {
  process: string;
  runs: number;
  tasks: number;
  requestedMemory: number | null;
  peakRss: number | null;
  requestedCpus: number | null;
  maxCpuPercent: number | null;
  memoryKills: number;
  /** The most memory given in a run where tasks were killed for memory. */
  killedWith: number | null;
  /** The memory given in each run where its tasks ran with no kill. */
  workedWith: number[];
  realtimeHours: number;
}

/** Each process's figures over the runs, from their metrics (runs whose metrics predate them add nothing). */
function gather(runs: Run[]): Map<string, Seen> {
  const seen = new Map<string, Seen>();
  for (const run of runs) {
    for (const p of run.metrics?.processes ?? []) {
      if (p.requested_memory_bytes === undefined) continue;
      const ran = p.completed + p.failed + p.aborted;
      if (ran === 0) continue;
      const s = seen.get(p.process) ?? {
        process: p.process,
        runs: 0,
        tasks: 0,
        requestedMemory: null,
        peakRss: null,
        requestedCpus: null,
        maxCpuPercent: null,
        memoryKills: 0,
        killedWith: null,
        workedWith: [],
        realtimeHours: 0,
      };
      s.runs++;
      s.tasks += ran;
      s.requestedMemory = maxOf(s.requestedMemory, p.requested_memory_bytes ?? null);
      s.peakRss = maxOf(s.peakRss, p.max_peak_rss_bytes);
      s.requestedCpus = maxOf(s.requestedCpus, p.requested_cpus ?? null);
      s.maxCpuPercent = maxOf(s.maxCpuPercent, p.max_cpu_percent ?? null);
      s.memoryKills += p.memory_kills ?? 0;
      const given = p.requested_memory_bytes ?? null;
      if ((p.memory_kills ?? 0) > 0) s.killedWith = maxOf(s.killedWith, given);
      else if (p.completed > 0 && given !== null) s.workedWith.push(given);
      s.realtimeHours += p.realtime_hours ?? 0;
      seen.set(p.process, s);
    }
  }
  return seen;
}

function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.max(a, b);
}

const round4 = (usd: number) => Math.round(usd * 10_000) / 10_000;

/** The recommendations for one process, by the documented rules. */
function adviseOn(s: Seen, prices: SpotPrices): Recommendation[] {
  const out: Recommendation[] = [];
  const base = { process: s.process, selector: shortProcessName(s.process), runs: s.runs, tasks: s.tasks };
  const hoursPerRun = s.realtimeHours / s.runs;
  if (s.memoryKills > 0 && s.killedWith !== null) {
    const given = Math.ceil(s.killedWith / GIB);
    // A run that gave it more and had no kill shows what is enough; else twice what was killed.
    const killedWith = s.killedWith;
    const above = s.workedWith.filter((w) => w > killedWith);
    const worked = above.length > 0 ? Math.ceil(Math.min(...above) / GIB) : null;
    const more = worked ?? given * 2;
    out.push({
      ...base,
      kind: 'memory_kills',
      current: `${given} GB`,
      recommended: `${more}.GB`,
      evidence: `${plural(s.memoryKills, 'task')} of it ${s.memoryKills === 1 ? 'was' : 'were'} killed for memory (exit 137 or 140) with ${given} GB, over ${plural(s.runs, 'run')}; ${worked ? `a run that gave it ${worked} GB had no kill` : 'twice that is the usual next step'}`,
      saving_usd_per_run: round4(-(more - given) * hoursPerRun * prices.gb_hour),
    });
  } else if (s.requestedMemory !== null && s.peakRss !== null && s.peakRss > 0) {
    const needed = Math.max(1, Math.ceil((s.peakRss * HEADROOM) / GIB));
    const given = s.requestedMemory / GIB;
    if (needed <= given * FAR_ABOVE)
      out.push({
        ...base,
        kind: 'memory',
        current: `${Math.round(given)} GB`,
        recommended: `${needed}.GB`,
        evidence: `its tasks were given ${Math.round(given)} GB and used at most ${formatBytes(s.peakRss)} (peak RSS) over ${plural(s.tasks, 'task')} in ${plural(s.runs, 'run')}; ${needed} GB leaves 25% above that`,
        saving_usd_per_run: round4((given - needed) * hoursPerRun * prices.gb_hour),
      });
  }
  if (s.requestedCpus !== null && s.requestedCpus >= 2 && s.maxCpuPercent !== null && s.maxCpuPercent > 0) {
    const needed = Math.max(1, Math.ceil((s.maxCpuPercent / 100) * HEADROOM));
    if (needed <= s.requestedCpus * FAR_ABOVE)
      out.push({
        ...base,
        kind: 'cpus',
        current: `${s.requestedCpus} cpus`,
        recommended: String(needed),
        evidence: `its tasks were given ${s.requestedCpus} cpus and kept at most ${(s.maxCpuPercent / 100).toFixed(1)} busy (%cpu ${Math.round(s.maxCpuPercent)}) over ${plural(s.tasks, 'task')} in ${plural(s.runs, 'run')}; ${needed} leaves 25% above that`,
        saving_usd_per_run: round4((s.requestedCpus - needed) * hoursPerRun * prices.vcpu_hour),
      });
  }
  return out;
}

/** A nextflow.config snippet setting each recommendation, one withName block per process. */
export function recommendationConfig(recommendations: Recommendation[]): string {
  if (recommendations.length === 0) return '';
  const byProcess = new Map<string, string[]>();
  for (const r of recommendations) {
    const lines = byProcess.get(r.selector) ?? [];
    lines.push(r.kind === 'cpus' ? `cpus = ${r.recommended}` : `memory = ${r.recommended}`);
    byProcess.set(r.selector, lines);
  }
  const blocks = [...byProcess.entries()].map(
    ([selector, lines]) => `  withName: '${selector}' {\n${lines.map((l) => `    ${l}`).join('\n')}\n  }`,
  );
  return `// Right-sizing from past runs (Arc Reactor)\nprocess {\n${blocks.join('\n')}\n}\n`;
}

/**
 * The recommendations from the deployment's finished runs of `pipeline`: those of `version` when
 * a process ran in MIN_RUNS of them, else those of every version.
 */
export function recommend(
  runs: Run[],
  target: { pipeline: string; version: string | null },
  prices: SpotPrices,
): Recommendations {
  const ofPipeline = runs.filter((r) => r.pipeline === target.pipeline && r.metrics !== null);
  const sameVersion = target.version ? ofPipeline.filter((r) => r.pipeline_version === target.version) : [];
  const sameSeen = gather(sameVersion);
  const useVersion = [...sameSeen.values()].some((s) => s.runs >= MIN_RUNS);
  const read = useVersion ? sameVersion : ofPipeline;
  const seen = useVersion ? sameSeen : gather(ofPipeline);
  const recommendations = [...seen.values()]
    .filter((s) => s.runs >= MIN_RUNS)
    .flatMap((s) => adviseOn(s, prices))
    .sort(
      (a, b) =>
        Math.abs(b.saving_usd_per_run) - Math.abs(a.saving_usd_per_run) ||
        a.selector.localeCompare(b.selector),
    );
  const which = useVersion ? `${target.pipeline} ${target.version}` : `${target.pipeline} (every version)`;
  return {
    pipeline: target.pipeline,
    version: useVersion ? target.version : null,
    runs_read: read.length,
    recommendations,
    config: recommendationConfig(recommendations),
    basis:
      `From ${plural(read.length, 'finished run')} of ${which} in this deployment (completed and failed, newest ${RIGHT_SIZING_RUNS} of each), per process that ran in at least ${MIN_RUNS}: ` +
      `memory is recommended at the highest peak RSS + 25% (whole GB, at least 1) when that is at most half of what tasks were given; cpus at the highest %cpu ÷ 100 + 25% (at least 1) when at most half; ` +
      `a process with tasks killed for memory (exit 137 or 140) gets what a later run without kills gave it, else twice what the killed tasks had. Savings are per run on average: the change × the process's run time × $${prices.gb_hour}/GiB-hour or $${prices.vcpu_hour}/vCPU-hour (Spot). ` +
      `Nextflow's retries with more memory (errorStrategy) are not modelled; a peak seen on these inputs may not hold on larger ones.`,
  };
}

/**
 * GET /api/pipelines/{name}/recommendations: the newest RIGHT_SIZING_RUNS completed and failed
 * runs of the pipeline in the deployment, whoever launched them (only their process figures are
 * read), and the recommendations for `version` (default: the pipeline's default version).
 */
export async function pipelineRecommendations(
  deps: { runs: Pick<RunStore, 'list'>; prices: SpotPrices },
  name: string,
  version: string | undefined,
): Promise<Recommendations> {
  const { pipeline, release } = getPipelineVersion(name, version);
  const pages = await Promise.all(
    (['completed', 'failed'] as const).map((status) =>
      deps.runs.list({ status, pipeline: pipeline.name }, { page: 1, page_size: RIGHT_SIZING_RUNS }),
    ),
  );
  return recommend(
    pages.flatMap((page) => page.runs),
    { pipeline: pipeline.name, version: release.version },
    deps.prices,
  );
}
