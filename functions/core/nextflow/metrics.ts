import { z } from 'zod';
import { SPOT_PREEMPTION_EXIT_CODE } from './exit-codes';
import { processOfName, type TraceTask } from './trace';

export interface SpotPrices {
  /** USD per vCPU-hour. */
  vcpu_hour: number;
  /** USD per GiB-hour of memory. */
  gb_hour: number;
}

export const ProcessMetrics = z.object({
  process: z.string(),
  count: z.number().int(),
  completed: z.number().int(),
  cached: z.number().int(),
  failed: z.number().int(),
  aborted: z.number().int(),
  mean_realtime_ms: z.number().nullable(),
  max_realtime_ms: z.number().nullable(),
  max_peak_rss_bytes: z.number().nullable(),
  cpu_hours: z.number(),
  // What right-sizing reads (core/runs/right-sizing.ts); absent on metrics computed before it.
  requested_memory_bytes: z
    .number()
    .nullable()
    .optional()
    .describe('the most memory a task of the process that ran was given (the trace’s memory)'),
  requested_cpus: z
    .number()
    .nullable()
    .optional()
    .describe('the most cpus a task of the process that ran was given'),
  max_cpu_percent: z
    .number()
    .nullable()
    .optional()
    .describe('the highest %cpu of a task of the process (100 = one core busy throughout)'),
  memory_kills: z
    .number()
    .int()
    .optional()
    .describe('tasks that failed with exit 137 or 140: killed for using more memory than they were given'),
  realtime_hours: z.number().optional().describe('Σ run time of the tasks that ran, hours'),
});

export const RunMetrics = z.object({
  tasks: z.object({
    total: z.number().int(),
    completed: z.number().int(),
    cached: z.number().int().describe('taken from an earlier attempt: not run, not costed'),
    failed: z.number().int(),
    aborted: z.number().int(),
    other: z.number().int(),
  }),
  wall_ms: z.number().nullable().describe('first submit to last completion of the tasks this attempt ran'),
  cpu_hours: z
    .number()
    .describe('Σ realtime × cpus (× %cpu/100 when cpus is unknown), tasks run in this attempt'),
  memory_gib_hours: z.number().describe('Σ realtime × requested memory (peak RSS when unknown)'),
  peak_rss_bytes: z.number().nullable(),
  read_bytes: z.number(),
  write_bytes: z.number(),
  processes: z.array(ProcessMetrics),
  /**
   * Tasks Spot took back mid-run (exit 50001, Batch's preemption code), which Nextflow then ran
   * again: how many, and the CPU-hours and cost of the work lost (already in the totals).
   */
  preempted: z
    .object({ tasks: z.number().int(), cpu_hours: z.number(), cost_estimate: z.number() })
    .default({ tasks: 0, cpu_hours: 0, cost_estimate: 0 }),
  /**
   * Work earlier orchestrator attempts of this run executed (Batch retried the orchestrator,
   * after a Spot preemption most often): tasks the last attempt then took as CACHED, or that
   * never reached its trace. Costed once, here and in the totals; not in the task counts.
   */
  earlier_attempts: z
    .object({ tasks: z.number().int(), cpu_hours: z.number(), cost_estimate: z.number() })
    .default({ tasks: 0, cpu_hours: 0, cost_estimate: 0 }),
  cost: z.object({
    currency: z.literal('USD'),
    estimate: z.number(),
    prices: z.object({ vcpu_hour: z.number(), gb_hour: z.number() }),
    formula: z.string().describe('how the estimate was computed, with the figures filled in'),
  }),
  trace_generation: z.string(),
});
export type RunMetrics = z.infer<typeof RunMetrics>;

const HOUR_MS = 3_600_000;
/** Exit codes of a task killed for memory: 137 (SIGKILL, the OOM killer), 140 (SIGUSR2 on some schedulers). */
export const MEMORY_KILL_EXIT_CODES: readonly number[] = [137, 140];
const GIB = 1024 ** 3;

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/**
 * A trace row's CPU-hours (run time × cpus, or × %cpu/100 when cpus is unknown) and GiB-hours
 * (run time × requested memory, or peak RSS when unknown), as the metrics count them; null
 * without a run time.
 */
export function taskUsage(task: TraceTask): { cpuHours: number; gibHours: number } | null {
  if (task.realtime === null) return null;
  const hours = task.realtime / HOUR_MS;
  const cpus = task.cpus ?? (task.cpu_percent !== null ? task.cpu_percent / 100 : 0);
  const memory = task.memory ?? task.peak_rss;
  return { cpuHours: hours * cpus, gibHours: memory !== null ? (hours * memory) / GIB : 0 };
}

/**
 * What trace rows cost as they land (a live chunk's): every row that executed (not CACHED), at
 * the same prices and formula as the final metrics.
 */
export function accruedCost(tasks: TraceTask[], prices: SpotPrices): number {
  let cost = 0;
  for (const task of tasks) {
    if (task.status === 'CACHED') continue;
    const usage = taskUsage(task);
    if (usage) cost += usage.cpuHours * prices.vcpu_hour + usage.gibHours * prices.gb_hour;
  }
  return cost;
}

/**
 * Metrics of a finished run from its final trace (cached tasks are counted, not costed), and
 * the tasks earlier orchestrator attempts of the same run executed (`earlier`, from their live
 * trace chunks): those are costed, and counted in `earlier_attempts`, never twice.
 */
export function computeMetrics(
  tasks: TraceTask[],
  prices: SpotPrices,
  traceGeneration: string,
  earlier: TraceTask[] = [],
  options: {
    /**
     * Every CACHED row is this run's own earlier work (the first run of a chain, retried): a
     * CACHED row no earlier chunk accounts for (killed before its trace line was uploaded) is
     * costed from the row itself, which carries the original task's figures, as Nextflow's does.
     */
    ownCache?: boolean;
  } = {},
): RunMetrics {
  const counts = { total: tasks.length, completed: 0, cached: 0, failed: 0, aborted: 0, other: 0 };
  let firstSubmit: number | null = null;
  let lastComplete: number | null = null;
  let cpuHours = 0;
  let gibHours = 0;
  let peakRss: number | null = null;
  let readBytes = 0;
  let writeBytes = 0;
  const preempted = { tasks: 0, cpuHours: 0, gibHours: 0 };
  const before = { tasks: 0, cpuHours: 0, gibHours: 0 };
  type Entry = {
    count: number;
    completed: number;
    cached: number;
    failed: number;
    aborted: number;
    realtimes: number[];
    maxRss: number | null;
    cpuHours: number;
    requestedMemory: number | null;
    requestedCpus: number | null;
    maxCpuPercent: number | null;
    memoryKills: number;
  };
  const perProcess = new Map<string, Entry>();

  const fromEarlier = new Set(earlier);
  const earlierHashes = new Set(earlier.map((t) => t.hash).filter((h) => h !== null));
  for (const task of [...tasks, ...earlier.filter((t) => t.status !== 'CACHED')]) {
    const earlierAttempt = fromEarlier.has(task);
    // A CACHED row of the run's own earlier attempt that no live chunk recorded.
    const unrecorded =
      options.ownCache === true &&
      !earlierAttempt &&
      task.status === 'CACHED' &&
      task.hash !== null &&
      !earlierHashes.has(task.hash);
    if (earlierAttempt || unrecorded) before.tasks++;
    if (!earlierAttempt)
      switch (task.status) {
        case 'COMPLETED':
          counts.completed++;
          break;
        case 'CACHED':
          counts.cached++;
          break;
        case 'FAILED':
          counts.failed++;
          break;
        case 'ABORTED':
          counts.aborted++;
          break;
        default:
          counts.other++;
      }
    const process = task.process ?? (task.name ? processOfName(task.name) : 'unknown');
    const entry = perProcess.get(process) ?? {
      count: 0,
      completed: 0,
      cached: 0,
      failed: 0,
      aborted: 0,
      realtimes: [],
      maxRss: null,
      cpuHours: 0,
      requestedMemory: null,
      requestedCpus: null,
      maxCpuPercent: null,
      memoryKills: 0,
    };
    if (!earlierAttempt) {
      entry.count++;
      if (task.status === 'COMPLETED') entry.completed++;
      else if (task.status === 'CACHED') entry.cached++;
      else if (task.status === 'FAILED') entry.failed++;
      else if (task.status === 'ABORTED') entry.aborted++;
      if (task.status === 'FAILED' && task.exit !== null && MEMORY_KILL_EXIT_CODES.includes(task.exit))
        entry.memoryKills++;
    }
    perProcess.set(process, entry);
    if (task.status === 'CACHED' && !unrecorded) continue;

    // A trace without `submit` (custom trace fields) still has `start`: the wall time counts from it.
    const began = task.submit ?? task.start;
    if (began) firstSubmit = Math.min(firstSubmit ?? Number.POSITIVE_INFINITY, Date.parse(began));
    // Nextflow's default trace fields have no `complete`: the end is then submit (or start) + duration.
    const end = task.complete
      ? Date.parse(task.complete)
      : began && task.duration !== null
        ? Date.parse(began) + task.duration
        : null;
    if (end !== null) lastComplete = Math.max(lastComplete ?? 0, end);
    if (task.peak_rss !== null) {
      peakRss = Math.max(peakRss ?? 0, task.peak_rss);
      entry.maxRss = Math.max(entry.maxRss ?? 0, task.peak_rss);
    }
    if (task.memory !== null) entry.requestedMemory = Math.max(entry.requestedMemory ?? 0, task.memory);
    if (task.cpus !== null) entry.requestedCpus = Math.max(entry.requestedCpus ?? 0, task.cpus);
    if (task.cpu_percent !== null) entry.maxCpuPercent = Math.max(entry.maxCpuPercent ?? 0, task.cpu_percent);
    readBytes += task.read_bytes ?? task.rchar ?? 0;
    writeBytes += task.write_bytes ?? task.wchar ?? 0;
    const usage = taskUsage(task);
    if (!usage || task.realtime === null) continue;
    entry.realtimes.push(task.realtime);
    cpuHours += usage.cpuHours;
    entry.cpuHours += usage.cpuHours;
    gibHours += usage.gibHours;
    if (task.exit === SPOT_PREEMPTION_EXIT_CODE) {
      preempted.cpuHours += usage.cpuHours;
      preempted.gibHours += usage.gibHours;
    }
    if (earlierAttempt || unrecorded) {
      before.cpuHours += usage.cpuHours;
      before.gibHours += usage.gibHours;
    }
  }
  for (const task of tasks) if (task.exit === SPOT_PREEMPTION_EXIT_CODE) preempted.tasks++;

  const estimate = cpuHours * prices.vcpu_hour + gibHours * prices.gb_hour;
  return {
    tasks: counts,
    preempted: {
      tasks: preempted.tasks,
      cpu_hours: round(preempted.cpuHours, 4),
      cost_estimate: round(preempted.cpuHours * prices.vcpu_hour + preempted.gibHours * prices.gb_hour, 4),
    },
    earlier_attempts: {
      tasks: before.tasks,
      cpu_hours: round(before.cpuHours, 4),
      cost_estimate: round(before.cpuHours * prices.vcpu_hour + before.gibHours * prices.gb_hour, 4),
    },
    wall_ms: firstSubmit !== null && lastComplete !== null ? Math.max(0, lastComplete - firstSubmit) : null,
    cpu_hours: round(cpuHours, 4),
    memory_gib_hours: round(gibHours, 4),
    peak_rss_bytes: peakRss,
    read_bytes: readBytes,
    write_bytes: writeBytes,
    processes: [...perProcess.entries()]
      .map(([process, e]) => ({
        process,
        count: e.count,
        completed: e.completed,
        cached: e.cached,
        failed: e.failed,
        aborted: e.aborted,
        mean_realtime_ms: e.realtimes.length
          ? Math.round(e.realtimes.reduce((a, b) => a + b, 0) / e.realtimes.length)
          : null,
        max_realtime_ms: e.realtimes.length ? Math.max(...e.realtimes) : null,
        max_peak_rss_bytes: e.maxRss,
        cpu_hours: round(e.cpuHours, 4),
        requested_memory_bytes: e.requestedMemory,
        requested_cpus: e.requestedCpus,
        max_cpu_percent: e.maxCpuPercent,
        memory_kills: e.memoryKills,
        realtime_hours: round(e.realtimes.reduce((a, b) => a + b, 0) / HOUR_MS, 4),
      }))
      .sort((a, b) => b.cpu_hours - a.cpu_hours || a.process.localeCompare(b.process)),
    cost: {
      currency: 'USD',
      estimate: round(estimate, 4),
      prices,
      formula:
        `${round(cpuHours, 2)} vCPU-hours × $${prices.vcpu_hour}/vCPU-hour + ${round(gibHours, 2)} GiB-hours × $${prices.gb_hour}/GiB-hour` +
        ` = $${round(estimate, 2)} (Spot task VMs; the orchestrator VM, storage and egress are not included)`,
    },
    trace_generation: traceGeneration,
  };
}

/** What Spot cost a run in retries, in words (the page and arc say the same); null when nothing was preempted. */
export function preemptionSummary(metrics: Pick<RunMetrics, 'preempted'> | null | undefined): string | null {
  const preempted = metrics?.preempted;
  if (!preempted || preempted.tasks === 0) return null;
  const tasks = `${preempted.tasks} task${preempted.tasks === 1 ? ' was' : 's were'}`;
  return `${tasks} preempted by Spot (exit 50001) and run again: ${preempted.cpu_hours.toFixed(2)} CPU-hours, about $${preempted.cost_estimate.toFixed(2)} of the estimate, went to the lost attempts.`;
}

/** What the run's earlier orchestrator attempts ran, in words (the page and arc); null when there were none. */
export function earlierAttemptsSummary(
  metrics: Pick<RunMetrics, 'earlier_attempts'> | null | undefined,
): string | null {
  const earlier = metrics?.earlier_attempts;
  if (!earlier || earlier.tasks === 0) return null;
  return `Earlier orchestrator attempts of this run executed ${earlier.tasks} task${earlier.tasks === 1 ? '' : 's'} (${earlier.cpu_hours.toFixed(2)} CPU-hours, about $${earlier.cost_estimate.toFixed(2)}): counted once in the totals, though the last attempt shows that work as cached.`;
}
