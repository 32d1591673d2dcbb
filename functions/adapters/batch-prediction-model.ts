/**
 * STACK as Batch jobs: each model call is its own GPU job (`stack-{run}-i{n}-treat|ctrl`) on the
 * inference image. Prompt and query go to the run's prefix as h5ad, the job writes its
 * prediction there, and the agent waits for the job and reads it. Locally the Batch twin runs
 * the stand-in for that image. A job that ends because its run was cancelled (or that the
 * agent stops when it notices the cancel) is a cancel, not an error.
 */
import { randomUUID } from 'node:crypto';
import type { AnnData } from '../core/haystack/anndata';
import { type HaystackJobSettings, inferenceJobId, inferenceJobSpec } from '../core/haystack/execution';
import {
  type AnnDataFiles,
  type PredictionModel,
  type PredictionRequest,
  RunCancelled,
} from '../core/haystack/ports';
import { isJobEnded, type JobRunner } from '../core/shared/batch';
import { haystackPaths } from '../core/shared/bucket-layout';
import type { ObjectStore } from '../core/shared/ports';

export interface BatchPredictionDeps {
  runId: string;
  jobs: JobRunner;
  objects: ObjectStore;
  files: Pick<AnnDataFiles, 'encode' | 'decode'>;
  /** projects/{p}/locations/{r} */
  parent: string;
  settings: Pick<
    HaystackJobSettings,
    'inferenceImage' | 'gpuMachineType' | 'gpuAccelerator' | 'serviceAccount' | 'environment'
  >;
  pollMs: number;
  /** True once the run was cancelled (or ended otherwise). */
  cancelled(): Promise<boolean>;
  sleep?(ms: number): Promise<void>;
}

export class BatchPredictionModel implements PredictionModel {
  name = 'stack';
  /** Every job this model created, in order. */
  readonly jobs: string[] = [];

  constructor(private readonly deps: BatchPredictionDeps) {}

  async predict({ prompt, query, seed, label }: PredictionRequest): Promise<AnnData> {
    const { deps } = this;
    const file = (name: 'prompt' | 'query' | 'pred') => haystackPaths(deps.runId).inference(label, name);
    const gs = (name: 'prompt' | 'query' | 'pred') => `gs://${deps.objects.bucket}/${file(name)}`;
    await Promise.all(
      (
        [
          ['prompt', prompt],
          ['query', query],
        ] as const
      ).map(async ([name, adata]) =>
        deps.objects.write(file(name), await deps.files.encode(adata), 'application/x-hdf5'),
      ),
    );
    if (await deps.cancelled()) throw new RunCancelled();
    const jobId = inferenceJobId(deps.runId, label);
    const job = await deps.jobs.createJob({
      parent: deps.parent,
      jobId,
      requestId: randomUUID(),
      job: inferenceJobSpec(deps.runId, deps.settings, {
        prompt: gs('prompt'),
        query: gs('query'),
        output: gs('pred'),
        seed,
      }),
    });
    this.jobs.push(job.name);
    const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    for (;;) {
      const state = (await deps.jobs.getJob(job.name))?.status.state ?? 'DELETED';
      if (state === 'SUCCEEDED') break;
      if (isJobEnded(state) || state === 'DELETED') {
        if (await deps.cancelled()) throw new RunCancelled();
        throw new Error(`the model job ${jobId} ended ${state}`);
      }
      if (await deps.cancelled()) {
        await deps.jobs.cancelJob(job.name);
        throw new RunCancelled();
      }
      await sleep(deps.pollMs);
    }
    const prediction = await deps.files.decode(await deps.objects.read(file('pred')));
    if (typeof prediction.uns.model === 'string') this.name = prediction.uns.model;
    return prediction;
  }
}
