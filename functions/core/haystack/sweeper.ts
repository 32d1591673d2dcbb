/**
 * HAYSTACK runs in the stale-run sweep (the same sweep, the same schedule as Nextflow runs): a
 * submitted or running run unchanged for a while has its agent job asked what became of it —
 * gone or ended, the run ends the way the workflow's reconcile would have ended it; a pending
 * run whose workflow never started is failed. Nothing moves a run backwards.
 */
import type { Clock } from '../shared/ports';
import { reconcileHaystackRun } from './execution';
import type { HaystackRunStore, JobStates } from './ports';

export interface HaystackSweepDeps {
  haystackRuns: HaystackRunStore;
  jobStates: JobStates;
  clock: Clock;
  settings: { staleAfterMs: number; pendingTimeoutMs: number };
}

export interface HaystackSweepChange {
  run_id: string;
  from: string;
  to: string;
  reason: string;
}

export async function sweepStaleHaystackRuns(deps: HaystackSweepDeps, limit: number) {
  const now = deps.clock.now();
  const iso = (ms: number) => new Date(now.getTime() - ms).toISOString();
  const [active, pending] = await Promise.all([
    deps.haystackRuns.findStale({
      statuses: ['submitted', 'running'],
      field: 'updated_at',
      before: iso(deps.settings.staleAfterMs),
      limit,
    }),
    deps.haystackRuns.findStale({
      statuses: ['pending'],
      field: 'created_at',
      before: iso(deps.settings.pendingTimeoutMs),
      limit,
    }),
  ]);
  const changed: HaystackSweepChange[] = [];
  const errors: { run_id: string; error: string }[] = [];
  const execution = { haystackRuns: deps.haystackRuns, clock: deps.clock };
  for (const run of [...active, ...pending]) {
    try {
      let after: { status: string } | null = null;
      if (run.status === 'pending') {
        after = await reconcileHaystackRun(execution, {
          run_id: run.run_id,
          phase: 'error',
          error: { message: 'its workflow never started it (the platform lost the request); ask again' },
        });
      } else {
        const state = run.batch_job_name ? await deps.jobStates.state(run.batch_job_name) : null;
        if (state && !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(state)) continue;
        after = await reconcileHaystackRun(execution, {
          run_id: run.run_id,
          phase: 'final',
          job: state ? { status: { state } } : null,
        });
      }
      if (after.status !== run.status) {
        const stored = await deps.haystackRuns.get(run.run_id);
        changed.push({
          run_id: run.run_id,
          from: run.status,
          to: after.status,
          reason: stored?.error_message ?? '',
        });
      }
    } catch (error) {
      errors.push({ run_id: run.run_id, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return { checked: active.length + pending.length, changed, errors };
}
