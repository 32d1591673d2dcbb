/** HAYSTACK's ports: the model it prompts, and where a run reports its progress. */
import type { AnnData } from './anndata';
import type { IterationRecord, Phase } from './loop';

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
