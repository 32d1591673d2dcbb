/**
 * A Nextflow run document's progress counters and the defaults of the fields stored runs may
 * lack, defined once and free of any library: the zod `Run` (run-model.ts) fills its defaults
 * from here, the store counts with these counters, and the page, which reads documents raw
 * from Firestore, completes them with `withRunDefaults`.
 */

/**
 * Progress counters, which only ever add up (so chunks count in any order, once).
 * submitted/announced come from nextflow.log (`Submitted process >`, `Cached process >`),
 * completed/cached/failed/aborted from trace rows.
 */
export const COUNTERS = ['submitted', 'announced', 'completed', 'cached', 'failed', 'aborted'] as const;
export type CounterName = (typeof COUNTERS)[number];
export type CounterValues = Record<CounterName, number>;

export function zeroCounters(): CounterValues {
  return Object.fromEntries(COUNTERS.map((key) => [key, 0])) as CounterValues;
}

/** A stored counters object: a counter it lacks (written before it existed) is 0. */
export function countersOf(value: unknown): CounterValues {
  const source = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  return Object.fromEntries(
    COUNTERS.map((key) => [key, typeof source[key] === 'number' ? source[key] : 0]),
  ) as CounterValues;
}

/**
 * A sample's counters (core/nextflow/sample-attribution.ts says which tasks are a sample's),
 * from trace rows: task attempts by status, `retried` of the failed ones Nextflow tried again
 * (error_action RETRY), and `cpu_ms`, CPU time requested × run time (cpus × realtime, ms), a
 * task naming several samples split evenly between them.
 */
export const SAMPLE_COUNTERS = ['completed', 'cached', 'failed', 'retried', 'aborted', 'cpu_ms'] as const;
export type SampleCounterName = (typeof SAMPLE_COUNTERS)[number];

/** The sample's task that failed for good (not retried): the last such row ingested. */
export interface FailedTaskRef {
  name: string;
  exit: number | null;
  task_id: number | null;
  hash: string | null;
}

export type SampleCounterValues = Record<SampleCounterName, number> & { failed_task?: FailedTaskRef };

export function zeroSampleCounters(): SampleCounterValues {
  // A literal: made once per sample per chunk at ingest, where Object.fromEntries costs 10×.
  return { completed: 0, cached: 0, failed: 0, retried: 0, aborted: 0, cpu_ms: 0 };
}

function sampleCountersOf(value: unknown): SampleCounterValues {
  const source = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const counters = Object.fromEntries(
    SAMPLE_COUNTERS.map((key) => [key, typeof source[key] === 'number' ? source[key] : 0]),
  ) as Record<SampleCounterName, number>;
  const failed = source.failed_task as FailedTaskRef | undefined;
  return failed && typeof failed === 'object' && typeof failed.name === 'string'
    ? { ...counters, failed_task: failed }
    : counters;
}

/** Each sample's counters and the whole run's, of one orchestrator attempt (`runs/{id}/samples/attempt-{n}`). */
export interface SampleProgress {
  samples: Record<string, SampleCounterValues>;
  /** Tasks that name no sample: whole-run steps. */
  whole_run: SampleCounterValues;
}

/** A stored sample-progress document (or nothing yet: no sample counted). */
export function sampleProgressOf(value: unknown): SampleProgress {
  const progress = (value && typeof value === 'object' ? value : {}) as {
    samples?: Record<string, unknown>;
    whole_run?: unknown;
  };
  return {
    samples: Object.fromEntries(
      Object.entries(progress.samples ?? {}).map(([id, counters]) => [id, sampleCountersOf(counters)]),
    ),
    whole_run: sampleCountersOf(progress.whole_run),
  };
}

/** Stored progress: the run's counters and each process's. */
export function storedProgressOf(
  value: unknown,
): CounterValues & { processes: Record<string, CounterValues> } {
  const progress = (value && typeof value === 'object' ? value : {}) as {
    processes?: Record<string, unknown>;
  };
  return {
    ...countersOf(progress),
    processes: Object.fromEntries(
      Object.entries(progress.processes ?? {}).map(([name, counters]) => [name, countersOf(counters)]),
    ),
  };
}

/** What a run document stored before one of these fields existed reads as. Fresh objects each call. */
export function runDefaults() {
  return {
    samples: [] as string[],
    source_ngs_runs: [] as string[],
    param_warnings: [] as string[],
    params: {} as Record<string, unknown>,
    metrics: null,
    input_bytes: null as number | null,
    budget_usd: null as number | null,
    accrued_usd: 0,
    budget_warned_at: null as string | null,
    budget_from: null as string | null,
    cost_estimate: null,
    work_dir: null,
    labels: {} as Record<string, string>,
    name: null as string | null,
    description: null as string | null,
    queue: null,
    orchestrator_attempt: 1,
    orchestrator_retries: [] as { attempt: number; at: string; exit_code: number | null; reason: string }[],
    attempt_progress: {} as Record<string, ReturnType<typeof storedProgressOf>>,
  };
}

/** A raw run document completed as the zod `Run` would complete it (the page reads documents raw). */
export function withRunDefaults<T extends object>(document: T): T {
  const raw = document as Record<string, unknown>;
  const present = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined));
  return {
    ...runDefaults(),
    ...present,
    progress: storedProgressOf(raw.progress),
    attempt_progress: Object.fromEntries(
      Object.entries((raw.attempt_progress as Record<string, unknown> | undefined) ?? {}).map(
        ([attempt, p]) => [attempt, storedProgressOf(p)],
      ),
    ),
  } as T;
}
