/** HAYSTACK's ports: the model it prompts, h5ad files, where runs live and report progress. */
import type { KindStore } from '../shared/run-kind';
import type { RunStatus } from '../shared/run-status';
import type { AnnData } from './anndata';
import type { IterationRecord } from './loop';
import type { Phase } from './phases';
import type { StructuredQuery } from './query';
import type { HaystackFields, HaystackRun } from './run-model';

export type { QueryInterpreter } from './query';

/** One model call: the prompt cells, the query cells, a seed, and a label (`i{n}-treat|ctrl`). */
export interface PredictionRequest {
  prompt: AnnData;
  query: AnnData;
  seed: number;
  label: string;
}

/** STACK (a GPU Batch job) or its stand-in: predicted counts of the query cells under the prompt. */
export interface PredictionModel {
  readonly name: string;
  predict(request: PredictionRequest): Promise<AnnData>;
}

/** Where progress goes: Firestore on the platform, the console from the command line. */
export interface RunProgress {
  /** How the question was read (said on the run as soon as it is known). */
  understood(query: StructuredQuery): Promise<void>;
  phase(phase: Phase, iteration: number): Promise<void>;
  iteration(record: IterationRecord): Promise<void>;
  /** True once the run was cancelled; checked between steps. */
  cancelled(): Promise<boolean>;
}

/** h5ad files, laid out as anndata reads and writes them: on disk, or as bytes (for a bucket). */
export interface AnnDataFiles {
  write(path: string, adata: AnnData): Promise<void>;
  read(path: string): Promise<AnnData>;
  /** The bytes of the h5ad file `write` would make. */
  encode(adata: AnnData): Promise<Uint8Array>;
  decode(bytes: Uint8Array): Promise<AnnData>;
}

/**
 * The run was cancelled: thrown by the loop's checkpoints and by any port that notices it (a
 * model job stopped because its run was cancelled). The loop ends `cancelled`, and nothing that
 * claims a finished answer is written.
 */
export class RunCancelled extends Error {
  constructor() {
    super('the run was cancelled');
  }
}

/**
 * HAYSTACK runs in Firestore; who may see one is the service's business. Status changes go
 * through the lifecycle (`apply`, the kernel's KindStore); everything else through `update`.
 */
export interface HaystackRunStore extends KindStore<HaystackRun> {
  create(run: HaystackRun): Promise<void>;
  list(
    filter: { user_email?: string; status?: RunStatus },
    page: { page: number; page_size: number },
  ): Promise<{ runs: HaystackRun[]; total: number }>;
  /**
   * Writes fields no status owns in a transaction (`change` null: leave the run as it is); the
   * run as stored after, null when it does not exist. `change` sees the run as it is now.
   */
  update(runId: string, change: (run: HaystackRun) => HaystackFields | null): Promise<HaystackRun | null>;
}
