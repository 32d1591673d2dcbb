import type { RunMetrics } from '../nextflow/metrics';
import { LOG_LINE, processOfName } from '../nextflow/process-names';
import { type SampleMatcher, taskTag } from '../nextflow/sample-attribution';
import type { TraceTask } from '../nextflow/trace';
import { isTerminal } from '../shared/run-status';
import {
  COUNTERS,
  SAMPLE_COUNTERS,
  type SampleCounterName,
  type SampleProgress,
  zeroCounters,
  zeroSampleCounters,
} from './run-document';
import type { Counters, ProcessProgress, Progress, Run, SampleCounters, StoredProgress } from './run-model';

const COUNTER_KEYS = COUNTERS;
const TRACE_KEYS = ['completed', 'cached', 'failed', 'aborted'] as const satisfies (keyof Counters)[];

function emptyDelta(): StoredProgress {
  return { ...zeroCounters(), processes: {} };
}

function bump(delta: StoredProgress, process: string, key: keyof Counters): void {
  delta[key] += 1;
  delta.processes[process] ??= zeroCounters();
  delta.processes[process][key] += 1;
}

const STATUS_COUNTER: Record<string, keyof Counters> = {
  COMPLETED: 'completed',
  CACHED: 'cached',
  FAILED: 'failed',
  ABORTED: 'aborted',
};

/**
 * What trace rows add to the counters, by process and status (unknown statuses add nothing),
 * and by sample when `matcher` says which samples each task processed.
 */
export function countTraceTasks(
  tasks: TraceTask[],
  matcher?: SampleMatcher,
): StoredProgress & SampleProgress {
  const delta: StoredProgress & SampleProgress = {
    ...emptyDelta(),
    samples: {},
    whole_run: zeroSampleCounters(),
  };
  for (const task of tasks) {
    const key = task.status ? STATUS_COUNTER[task.status] : undefined;
    if (!key) continue;
    bump(delta, task.process ?? (task.name ? processOfName(task.name) : 'unknown'), key);
    if (matcher) countForSamples(delta, task, key, matcher(taskTag(task)));
  }
  return delta;
}

function countForSamples(
  delta: StoredProgress & SampleProgress,
  task: TraceTask,
  key: keyof Counters,
  samples: string[],
): void {
  const targets =
    samples.length === 0
      ? [delta.whole_run]
      : samples.map((sample) => {
          delta.samples[sample] ??= zeroSampleCounters();
          return delta.samples[sample];
        });
  const retried = key === 'failed' && task.error_action === 'RETRY';
  const cpuMs = key === 'cached' ? 0 : ((task.cpus ?? 1) * (task.realtime ?? 0)) / targets.length;
  for (const counters of targets) {
    counters[key as SampleCounterName] += 1;
    if (retried) counters.retried += 1;
    counters.cpu_ms += Math.round(cpuMs);
    if (key === 'failed' && !retried)
      counters.failed_task = {
        name: task.name ?? task.process ?? 'unknown',
        exit: task.exit,
        task_id: task.task_id,
        hash: task.hash,
      };
  }
}

const SUBMITTED = /\] Submitted process > (.+)$/;
const CACHED = /\] Cached process > (.+)$/;

/** What a nextflow.log chunk adds: its `Submitted process >` and `Cached process >` lines. */
export function countLogLines(text: string): StoredProgress {
  const delta = emptyDelta();
  for (const line of text.split('\n')) {
    const entry = LOG_LINE.exec(line.replace(/\r$/, ''));
    if (entry?.[3] !== 'INFO') continue;
    const message = ` ${entry[5]}`;
    const submitted = SUBMITTED.exec(message);
    if (submitted) {
      bump(delta, processOfName(submitted[1]!.trim()), 'submitted');
      continue;
    }
    const cached = CACHED.exec(message);
    if (cached) bump(delta, processOfName(cached[1]!.trim()), 'announced');
  }
  return delta;
}

export function isEmptyDelta(delta: StoredProgress): boolean {
  return COUNTER_KEYS.every((key) => delta[key] === 0);
}

function add(a: Counters, b: Counters): Counters {
  const sum = zeroCounters();
  for (const key of COUNTER_KEYS) sum[key] = a[key] + b[key];
  return sum;
}

function addSample(a: SampleCounters, b: SampleCounters): SampleCounters {
  const sum = zeroSampleCounters();
  for (const key of SAMPLE_COUNTERS) sum[key] = a[key] + b[key];
  const failed = b.failed_task ?? a.failed_task;
  return failed ? { ...sum, failed_task: failed } : sum;
}

/** Counters added up (what the store does with increments, for tests and replays). */
export function addProgress(a: StoredProgress, b: StoredProgress): StoredProgress {
  const processes: Record<string, Counters> = { ...a.processes };
  for (const [name, counters] of Object.entries(b.processes))
    processes[name] = add(processes[name] ?? zeroCounters(), counters);
  return { ...add(a, b), processes };
}

/** Sample counters added up (what the store does with increments, for tests and replays). */
export function addSampleProgress(a: SampleProgress, b: Partial<SampleProgress>): SampleProgress {
  const samples: Record<string, SampleCounters> = { ...a.samples };
  for (const [id, counters] of Object.entries(b.samples ?? {}))
    samples[id] = addSample(samples[id] ?? zeroSampleCounters(), counters);
  return { samples, whole_run: b.whole_run ? addSample(a.whole_run, b.whole_run) : a.whole_run };
}

function shown(counters: Counters, finished: boolean): ProcessProgress {
  const done = counters.completed + counters.failed + counters.aborted;
  return { ...counters, running: finished ? 0 : Math.max(0, counters.submitted - done) };
}

function withFinal(live: Counters, final: Pick<Counters, (typeof TRACE_KEYS)[number]> | undefined): Counters {
  return final
    ? {
        ...live,
        completed: final.completed,
        cached: final.cached,
        failed: final.failed,
        aborted: final.aborted,
      }
    : live;
}

type AttemptProgress = Pick<Run, 'progress'> &
  Partial<Pick<Run, 'orchestrator_attempt' | 'attempt_progress'>>;

/**
 * The counters the run shows: its current orchestrator attempt's. Attempt 1 counts in
 * `progress`; a retried orchestrator's attempts count apart (runs/orchestrator-attempts.ts).
 */
export function liveProgress(run: AttemptProgress): StoredProgress {
  const attempt = run.orchestrator_attempt ?? 1;
  if (attempt <= 1) return run.progress;
  return run.attempt_progress?.[String(attempt)] ?? emptyDelta();
}

const settled = (p: Counters) => p.completed + p.cached;

/** The orchestrator attempt whose counters are shown (`shownProgress`): its sample counters go with them. */
export function shownAttempt(run: AttemptProgress): number {
  const current = run.orchestrator_attempt ?? 1;
  let best = 1;
  let bestProgress = run.progress;
  for (let attempt = 2; attempt <= current; attempt++) {
    const next = run.attempt_progress?.[String(attempt)] ?? emptyDelta();
    if (settled(next) >= settled(bestProgress)) {
      best = attempt;
      bestProgress = next;
    }
  }
  return best;
}

/**
 * The counters to show, which never go backwards across an orchestrator retry: a new attempt
 * starts from nothing and re-reports what earlier ones finished as CACHED over its first
 * seconds, so until its finished tasks (completed + cached) reach the most an earlier attempt
 * had, that attempt's counters are shown.
 */
export function shownProgress(run: AttemptProgress): StoredProgress {
  const attempt = shownAttempt(run);
  return attempt === 1 ? run.progress : (run.attempt_progress?.[String(attempt)] ?? emptyDelta());
}

/**
 * Progress as shown: running and total_known derived from the counters; once the final
 * trace has been read, its task counts (in the metrics) replace the live ones. While a
 * retried orchestrator catches up, the counters are the earlier attempt's (`shownProgress`)
 * and `running` is what the current attempt runs.
 */
export function progressView(run: AttemptProgress & Pick<Run, 'status' | 'metrics'>): Progress {
  const finished = isTerminal(run.status);
  const metrics: RunMetrics | null = run.metrics;
  const current = liveProgress(run);
  const live = shownProgress(run);
  const runningOf = (counters: Counters | undefined) => (counters ? shown(counters, finished).running : 0);
  const catchingUp = live !== current;
  const finalByProcess = new Map(metrics?.processes.map((p) => [p.process, p]) ?? []);
  const names = new Set([
    ...Object.keys(live.processes),
    ...Object.keys(current.processes),
    ...finalByProcess.keys(),
  ]);
  const totals = withFinal(live, metrics?.tasks);
  const whole = shown(totals, finished);
  return {
    ...whole,
    running: catchingUp ? runningOf(current) : whole.running,
    total_known: totals.submitted + Math.max(totals.cached, totals.announced),
    processes: Object.fromEntries(
      [...names].map((name) => {
        const counters = shown(
          withFinal(
            live.processes[name] ?? zeroCounters(),
            metrics
              ? (finalByProcess.get(name) ?? { completed: 0, cached: 0, failed: 0, aborted: 0 })
              : undefined,
          ),
          finished,
        );
        return [name, catchingUp ? { ...counters, running: runningOf(current.processes[name]) } : counters];
      }),
    ),
    source: metrics ? 'final' : 'live',
  };
}

/** Where the live trace counts disagree with the final trace: process → counter → [live, final]. */
export function traceCountDifferences(
  live: StoredProgress,
  final: StoredProgress,
): Record<string, Record<string, [number, number]>> {
  const differences: Record<string, Record<string, [number, number]>> = {};
  for (const name of new Set([...Object.keys(live.processes), ...Object.keys(final.processes)])) {
    for (const key of TRACE_KEYS) {
      const a = live.processes[name]?.[key] ?? 0;
      const b = final.processes[name]?.[key] ?? 0;
      if (a === b) continue;
      differences[name] ??= {};
      differences[name][key] = [a, b];
    }
  }
  return differences;
}
