import { type SampleMatcher, sampleMatcher } from '../nextflow/sample-attribution';
import type { RunStore } from './ports';

/** Runs whose matchers are kept; a function instance ingests a few runs at a time. */
const MAX_RUNS = 100;

/**
 * Each run's sample matcher (core/nextflow/sample-attribution.ts), built from the run's
 * `samples` on its first chunk and kept: a run's samples never change after launch, so a
 * chunk costs no read of the run once its run is known. A run not found has no samples.
 */
export class SampleMatchers {
  private readonly matchers = new Map<string, Promise<SampleMatcher>>();

  constructor(private readonly runs: Pick<RunStore, 'get'>) {}

  of(runId: string): Promise<SampleMatcher> {
    const known = this.matchers.get(runId);
    if (known) return known;
    const built = this.runs.get(runId).then((run) => sampleMatcher(run?.samples ?? []));
    built.catch(() => this.matchers.delete(runId));
    if (this.matchers.size >= MAX_RUNS) this.matchers.delete(this.matchers.keys().next().value!);
    this.matchers.set(runId, built);
    return built;
  }
}
