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
