/**
 * The stale-run sweeper (ARCHITECTURE §3, §7): events are at-least-once but can still be lost
 * (a dropped notification, a workflow execution that died). Every few minutes it looks at
 * runs that have not changed for a while and asks the authorities — the Batch job, the
 * workflow execution — what became of them; what they say goes through the state machine
 * like any other event (source `sweeper`), so it can never move a run backwards.
 */

import type { Clock } from '../shared/ports';
import type { RunEventOutbox } from '../shared/run-events';
import { eventsFromJob, recordOrchestratorRetries } from './execution-service';
import type { JobRunner, RunStore, WorkflowStarter } from './ports';
import type { Run, RunStatus } from './run-model';
import type { RunEvent } from './state-machine';

export interface SweepSettings {
  /** A submitted or running run untouched this long has its Batch job checked. */
  staleAfterMs: number;
  /** A pending run this old whose workflow never started, or ended, is failed. */
  pendingTimeoutMs: number;
}

export interface SweepDeps {
  runs: RunStore;
  jobs: JobRunner;
  workflows: Pick<WorkflowStarter, 'describe'>;
  clock: Clock;
  settings: SweepSettings;
  /** Status events whose publish failed after their change was committed. */
  events?: RunEventOutbox;
}

export interface SweepChange {
  run_id: string;
  from: RunStatus;
  to: RunStatus;
  reason: string;
}

export interface SweepReport {
  checked: number;
  changed: SweepChange[];
  /** Runs whose job or workflow could not be read this time; the next sweep tries again. */
  errors: { run_id: string; error: string }[];
  /** Status events published now that were left staged (a publish failed, a function died). */
  events_published: number;
}

/** A staged status event this old has lost its writer's publish: the sweeper publishes it. */
export const UNPUBLISHED_AFTER_MS = 60_000;

/** At most this many runs of each kind per sweep; the rest wait for the next one. */
export const SWEEP_LIMIT = 200;
const CONCURRENCY = 8;

function minutes(ms: number): string {
  const value = ms / 60_000;
  return value >= 1 ? `${Number(value.toFixed(1))} minutes` : `${Math.round(ms / 1000)} seconds`;
}

/** What the Batch job says about a submitted or running run; [] when it is still going. */
async function activeRunEvents(deps: SweepDeps, run: Run, now: string): Promise<RunEvent[]> {
  const quiet = minutes(deps.settings.staleAfterMs);
  if (!run.batch_job_name) {
    return [
      {
        to: 'failed',
        at: now,
        source: 'sweeper',
        error_message: `The run is ${run.status} but no Batch job was ever recorded for it, and nothing changed for ${quiet}.`,
      },
    ];
  }
  const job = await deps.jobs.getJob(run.batch_job_name);
  if (!job) {
    return [
      {
        to: 'failed',
        at: now,
        source: 'sweeper',
        detail: `no news for ${quiet}`,
        error_message: `Batch job disappeared: ${run.batch_job_name} no longer exists, and no final state was ever reported for the run (found after ${quiet} without news).`,
      },
    ];
  }
  await recordOrchestratorRetries(deps.runs, run.run_id, job, 'sweeper');
  return eventsFromJob(job, 'sweeper', now);
}

/** A pending run past the timeout: failed unless its workflow execution is still going. */
async function pendingRunEvents(deps: SweepDeps, run: Run, now: string): Promise<RunEvent[]> {
  const waited = minutes(deps.settings.pendingTimeoutMs);
  const fail = (why: string): RunEvent[] => [
    {
      to: 'failed',
      at: now,
      source: 'sweeper',
      error_message: `The run was never submitted: ${why}. Recover it with "reuse_work_dir": false to launch it again with the same inputs.`,
    },
  ];
  if (!run.workflow_execution) {
    return fail(`no run-pipeline workflow execution was recorded for it within ${waited} of its creation`);
  }
  const execution = await deps.workflows.describe(run.workflow_execution);
  if (!execution) return fail(`its workflow execution ${run.workflow_execution} no longer exists`);
  if (execution.state === 'ACTIVE' || execution.state === 'QUEUED') return [];
  return fail(
    `its workflow execution ended ${execution.state}${execution.error ? ` (${execution.error.slice(0, 500)})` : ''} before creating the Batch job`,
  );
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** One sweep: finds the candidates, settles what can be settled, reports what it did. */
export async function sweepStaleRuns(deps: SweepDeps, limit = SWEEP_LIMIT): Promise<SweepReport> {
  const now = deps.clock.now();
  const iso = (ms: number) => new Date(now.getTime() - ms).toISOString();
  const [active, pending] = await Promise.all([
    deps.runs.findStale({
      statuses: ['submitted', 'running'],
      field: 'updated_at',
      before: iso(deps.settings.staleAfterMs),
      limit,
    }),
    deps.runs.findStale({
      statuses: ['pending'],
      field: 'created_at',
      before: iso(deps.settings.pendingTimeoutMs),
      limit,
    }),
  ]);
  const report: SweepReport = {
    checked: active.length + pending.length,
    changed: [],
    errors: [],
    events_published: 0,
  };
  await forEachLimited([...active, ...pending], CONCURRENCY, async (run) => {
    try {
      const at = deps.clock.now().toISOString();
      const events =
        run.status === 'pending'
          ? await pendingRunEvents(deps, run, at)
          : await activeRunEvents(deps, run, at);
      if (events.length === 0) return;
      const result = await deps.runs.apply(run.run_id, events);
      if (result?.applied && result.run.status !== run.status) {
        report.changed.push({
          run_id: run.run_id,
          from: run.status,
          to: result.run.status,
          reason: result.run.error_message ?? events.at(-1)!.detail ?? '',
        });
      }
    } catch (error) {
      report.errors.push({
        run_id: run.run_id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  });
  if (deps.events) {
    try {
      report.events_published = await deps.events.drainStale(iso(UNPUBLISHED_AFTER_MS), limit);
    } catch (error) {
      report.errors.push({ run_id: '*', error: `publishing staged status events: ${String(error)}` });
    }
  }
  return report;
}

/** Why runs that were going when the local stack stopped are failed when it starts again. */
export const LOCAL_RESTART_MESSAGE =
  'The local stack was restarted while this run was going: its Batch job and workflow stopped with it. Recover resumes it from the work already done.';

/**
 * The local stack's Batch and Workflows twins keep their jobs in memory: when the stack stops,
 * every job and execution dies with it. So on start, each run still pending, submitted or
 * running is failed at once, with a message that says so, instead of showing "Running" until
 * the stale-run threshold. (Google Batch has no such moment: its jobs outlive our functions.)
 */
export async function failRunsOrphanedByRestart(
  deps: Pick<SweepDeps, 'runs' | 'clock'>,
): Promise<SweepChange[]> {
  const now = deps.clock.now().toISOString();
  const changed: SweepChange[] = [];
  for (;;) {
    const orphans = await deps.runs.findStale({
      statuses: ['pending', 'submitted', 'running'],
      field: 'updated_at',
      before: now,
      limit: SWEEP_LIMIT,
    });
    let progressed = false;
    for (const run of orphans) {
      const applied = await deps.runs.apply(run.run_id, {
        to: 'failed',
        at: now,
        source: 'sweeper',
        detail: 'the local stack was restarted',
        error_message: LOCAL_RESTART_MESSAGE,
      });
      if (applied?.applied) {
        progressed = true;
        changed.push({ run_id: run.run_id, from: run.status, to: 'failed', reason: LOCAL_RESTART_MESSAGE });
      }
    }
    if (orphans.length < SWEEP_LIMIT || !progressed) return changed;
  }
}
