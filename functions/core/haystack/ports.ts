/** HAYSTACK's ports: the model it prompts, h5ad files, where runs live and report progress. */
import type { RunStatus } from '../shared/run-status';
import type { AnnData } from './anndata';
import type { IterationRecord, Phase } from './loop';
import type { HaystackRun } from './run-model';

export type { QueryInterpreter } from './query';

/** STACK (a GPU Batch job) or its stand-in: predicted counts of the query cells under the prompt. */
export interface PredictionModel {
  readonly name: string;
  predict(request: { prompt: AnnData; query: AnnData; seed: number; label: string }): Promise<AnnData>;
}

/** Where progress goes: Firestore on the platform, the console from the command line. */
export interface RunProgress {
  phase(phase: Phase, iteration: number): Promise<void>;
  iteration(record: IterationRecord): Promise<void>;
  /** True once the run was cancelled; checked between steps. */
  cancelled(): Promise<boolean>;
}

/** h5ad files on disk, laid out as anndata reads and writes them. */
export interface AnnDataFiles {
  write(path: string, adata: AnnData): Promise<void>;
  read(path: string): Promise<AnnData>;
}

/** HAYSTACK runs in Firestore; who may see one is the service's business. */
export interface HaystackRunStore {
  create(run: HaystackRun): Promise<void>;
  get(runId: string): Promise<HaystackRun | null>;
  list(
    filter: { user_email?: string; status?: RunStatus },
    page: { page: number; page_size: number },
  ): Promise<{ runs: HaystackRun[]; total: number }>;
  /** Runs in these statuses whose `field` is older than `before`, oldest first. */
  findStale(query: {
    statuses: RunStatus[];
    field: 'updated_at' | 'created_at';
    before: string;
    limit: number;
  }): Promise<HaystackRun[]>;
  /** Applies `change` in a transaction (null: leave the run as it is); the run as stored after. */
  update(
    runId: string,
    change: (run: HaystackRun) => Partial<HaystackRun> | null,
  ): Promise<HaystackRun | null>;
}

/** Starts a run's execution (the workflow) and stops its Batch jobs. */
export interface HaystackExecutor {
  start(runId: string): Promise<void>;
  /** Cancels every Batch job of the run; jobs gone or ended are left alone. */
  stop(run: HaystackRun): Promise<void>;
}

/** What Batch says of a job: its state, or null when it does not exist. */
export interface JobStates {
  state(jobName: string): Promise<string | null>;
}
