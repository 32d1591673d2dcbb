import { type SampleMatcher, sampleMatcher } from '../nextflow/sample-attribution';
import type { RunStore } from './ports';

/** Runs whose matchers are kept; a function instance ingests a few runs at a time. */
const MAX_RUNS = 100;

/** What ingest needs of a run that never changes after launch. */
interface RunFacts {
  matcher: SampleMatcher;
  /** The run's budget in USD, or null when it has none. */
  budget: number | null;
}

/**
 * Each run's sample matcher (core/nextflow/sample-attribution.ts), built from the run's
 * `samples` on its first chunk and kept, with its budget: neither changes after launch, so a
 * chunk costs no read of the run once its run is known. A run not found has no samples and no
 * budget.
 */
export class SampleMatchers {
  private readonly facts = new Map<string, Promise<RunFacts>>();

  constructor(private readonly runs: Pick<RunStore, 'get'>) {}

  private factsOf(runId: string): Promise<RunFacts> {
    const known = this.facts.get(runId);
    if (known) return known;
    const built = this.runs.get(runId).then((run) => ({
      matcher: sampleMatcher(run?.samples ?? []),
      budget: run?.budget_usd ?? null,
    }));
    built.catch(() => this.facts.delete(runId));
    if (this.facts.size >= MAX_RUNS) this.facts.delete(this.facts.keys().next().value!);
    this.facts.set(runId, built);
    return built;
  }

  of(runId: string): Promise<SampleMatcher> {
    return this.factsOf(runId).then((f) => f.matcher);
  }

  budgetOf(runId: string): Promise<number | null> {
    return this.factsOf(runId).then((f) => f.budget);
  }
}
