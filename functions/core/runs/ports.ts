import type { RunEvent, RunEventSource } from '../shared/lifecycle';
import type { RunNotice } from '../shared/run-events';
import type { StaleQuery } from '../shared/run-kind';
import type { SampleProgress } from './run-document';
import type { ProgressDelta, Run, RunStatus } from './run-model';

/** What checking a run's budget needs of it. */
export type BudgetState = Pick<
  Run,
  'run_id' | 'status' | 'budget_usd' | 'accrued_usd' | 'budget_warned_at' | 'batch_job_name'
>;

export interface RunFilter {
  /** Omit to list every user's runs (admins only). */
  user_email?: string;
  status?: RunStatus;
  pipeline?: string;
  /** `key=value`: only runs with this label. */
  label?: string;
}

export interface PageRequest {
  page: number;
  page_size: number;
  page_token?: string;
}

export interface RunPage {
  runs: Run[];
  total: number;
  next_page_token: string | null;
}

/** One line of a run's status history (`runs/{id}/events`). */
/** A notice to a run's owner (run-events.ts): which, what it says, when. */
export type RunNoticeChange = { notice: RunNotice; message: string; at: string } | null;

export interface RunHistoryEntry {
  source: RunEventSource;
  from: RunStatus | null;
  to: RunStatus;
  at: string;
  detail: string | null;
  /** False when the state machine ignored the event (duplicate, backward, after a final status). */
  applied: boolean;
}

export interface ApplyResult {
  run: Run;
  applied: boolean;
}

/** Fields of a run that no status transition owns; written directly. */
export type RunFields = Partial<
  Pick<
    Run,
    | 'batch_job_name'
    | 'executor'
    | 'workflow_execution'
    | 'metrics'
    | 'progress'
    | 'ingest'
    | 'orchestrator_attempt'
    | 'orchestrator_retries'
    | 'queue'
    | 'labels'
    | 'name'
    | 'description'
    | 'budget_warned_at'
    | 'work_dir'
  >
>;

export interface RunStore {
  /** Stores a new run and its first history entry; fails if the id is taken. */
  create(run: Run, detail?: string): Promise<void>;
  /**
   * Stores a new run of a recovery chain, one at a time per chain: `guard` runs after the
   * chain is claimed and throws to refuse (e.g. another run of the chain is active); if
   * another run joined the chain meanwhile, the guard runs again.
   */
  createInChain(run: Run, chainRoot: string, detail: string, guard: () => Promise<void>): Promise<void>;
  /**
   * Sets `fields` on a chain's root run, with `entry` in its history, atomically with a claim of
   * the chain (as createInChain claims it): a run created in the chain meanwhile makes `guard`
   * run again, and a run created after it sees the fields. False when the root does not exist.
   */
  claimChain(
    chainRoot: string,
    fields: RunFields,
    entry: Pick<RunHistoryEntry, 'source' | 'at' | 'detail'>,
    guard: () => Promise<void>,
  ): Promise<boolean>;
  /**
   * Root runs with a measured, non-empty work dir, the largest first (`user_email`: only that
   * person's); at most `limit`.
   */
  listWorkDirs(filter: { user_email?: string }, limit: number): Promise<Run[]>;
  /** Root runs whose work dir's oldest object was written in (after, before]; at most `limit`. */
  findExpiringWorkDirs(before: string, after: string, limit: number): Promise<Run[]>;
  /** Runs of `field` = `value` whose status is pending, submitted or running. */
  findActive(field: 'root_run_id' | 'parent_run_id', value: string): Promise<Run[]>;
  /** Ids of the runs that recover `runId` (its children), oldest first. */
  recoveriesOf(runId: string): Promise<string[]>;
  /** How many runs have a Batch job that may be using capacity (submitted or running). */
  countActiveJobs(): Promise<number>;
  /** Runs in one of `statuses` not touched since `before` (the sweeper's candidates). */
  findStale(query: StaleQuery): Promise<Run[]>;
  get(runId: string): Promise<Run | null>;
  /** USD accrued by `email`'s runs created at or after `since` (ISO): what a monthly cap counts. */
  spentSince(email: string, since: string): Promise<number>;
  /** The few fields a budget check reads (a field mask: not the whole document); null if no such run. */
  budgetState(runId: string): Promise<BudgetState | null>;
  list(filter: RunFilter, page: PageRequest): Promise<RunPage>;
  /**
   * Runs applyRunEvent for each event, in order, against the run's current state, and records
   * atomically with the change, in the status history, every event that changed the run, plus
   * the last one (the event being reported) even if it changed nothing. Concurrent calls behave
   * as if made one after another. Null when the run does not exist.
   */
  apply(runId: string, events: RunEvent | RunEvent[]): Promise<ApplyResult | null>;
  history(runId: string): Promise<RunHistoryEntry[]>;
  /** Sets fields outside the state machine; false when the run does not exist. */
  setFields(runId: string, fields: RunFields): Promise<boolean>;
  /**
   * Applies `change` to the run at most once per `key` (e.g. a chunk's name and generation),
   * atomically with a record of the key: redelivered events change nothing. Concurrent calls
   * behave as if made one after another.
   * `change` returns the fields to write, or null to write nothing (the key is still recorded).
   */
  applyOnce(
    runId: string,
    key: string,
    change: (run: Run) => RunFields | null,
    history?: (run: Run) => Pick<RunHistoryEntry, 'source' | 'at' | 'detail'>,
    /** A notice to the owner, sent when (and only when) the change applies. */
    notice?: (run: Run) => RunNoticeChange,
  ): Promise<OnceOutcome>;
  /** Calls `onChange` with the run now and after every change (null if it is deleted); returns a stop function. */
  watch(runId: string, onChange: (run: Run | null) => void, onError: (error: Error) => void): () => void;
  /**
   * Adds `delta` to the run's progress counters at most once per `key`, without reading the
   * run (counters only add up, so chunks may be counted in any order). Malformed-row
   * warnings are recorded with them.
   */
  addProgressOnce(
    runId: string,
    key: string,
    /** The run's counters, and its samples' (kept in a document of their own: sampleProgress). */
    delta: ProgressDelta,
    problems: { malformedRows: number; warnings: string[] },
    /** The orchestrator attempt whose counters these are (default 1: `progress`). */
    orchestratorAttempt?: number,
  ): Promise<OnceOutcome>;
  /**
   * The sample counters of one orchestrator attempt of the run (all zero before any): those
   * of its final trace once that is read, else those counted live.
   */
  sampleProgress(runId: string, orchestratorAttempt: number): Promise<SampleProgress>;
  /**
   * Stores the sample counters of an attempt's final trace (generation `generation`), which
   * replace the live ones; an older generation than the one stored changes nothing.
   */
  setFinalSampleProgress(
    runId: string,
    orchestratorAttempt: number,
    generation: string,
    progress: SampleProgress,
  ): Promise<'applied' | 'unchanged'>;
}

export type OnceOutcome = 'applied' | 'unchanged' | 'duplicate' | 'missing';
