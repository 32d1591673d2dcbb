/**
 * The model as a program on this machine, one process per prediction, with the stand-in's
 * (and STACK's wrapper's) contract: `--prompt --query --output --seed`. The command line agent
 * (orchestrator/haystack/agent.ts) runs the stand-in this way, as a Batch job would.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AnnData } from '../core/haystack/anndata';
import type { AnnDataFiles, PredictionModel, PredictionRequest } from '../core/haystack/ports';
import { STANDIN_MODEL } from '../core/haystack/standin';

const run = promisify(execFile);

export class ProgramPredictionModel implements PredictionModel {
  readonly name = STANDIN_MODEL;

  constructor(
    private readonly files: Pick<AnnDataFiles, 'write' | 'read'>,
    private readonly workDir: string,
    /** The program and its leading arguments, e.g. [node, stack-standin.js]. */
    private readonly command: readonly string[],
  ) {}

  async predict({ prompt, query, seed, label }: PredictionRequest): Promise<AnnData> {
    const prefix = join(this.workDir, label);
    await Promise.all([
      this.files.write(`${prefix}-prompt.h5ad`, prompt),
      this.files.write(`${prefix}-query.h5ad`, query),
    ]);
    const [program, ...args] = this.command;
    await run(program!, [
      ...args,
      '--prompt',
      `${prefix}-prompt.h5ad`,
      '--query',
      `${prefix}-query.h5ad`,
      '--output',
      `${prefix}-pred.h5ad`,
      '--seed',
      String(seed),
    ]);
    return this.files.read(`${prefix}-pred.h5ad`);
  }
}
