import { useEffect, useState } from 'preact/hooks';
import { chainCostSummary } from '../../../functions/core/nextflow/chain-cost';
import { exitCodeHint, failedTaskExitCode } from '../../../functions/core/nextflow/exit-codes';
import { shortProcessName } from '../../../functions/core/nextflow/process-names';
import type { RunHistoryEntry } from '../../../functions/core/runs/ports';
import { progressView } from '../../../functions/core/runs/progress';
import type { Run } from '../../../functions/core/runs/run-model';
import { formatDuration, formatTime, plural, runDuration } from '../../../functions/core/shared/format';
import { isTerminal, type RunStatus, STATUS_RANK } from '../../../functions/core/shared/run-status';
import { ErrorNote, Loading, ProgressBar, StatusBadge } from '../components/ui';
import { type RecoveryPrefill, RunActions } from '../detail/actions';
import { FilesPanel } from '../detail/files';
import { LabelsEditor } from '../detail/labels';
import { LogTail } from '../detail/log-tail';
import { RecommendationsPanel } from '../detail/recommendations';
import { WorkDirPanel } from '../detail/work-dir';
import { lazy } from '../lazy';

const AssistantDrawer = lazy(
  () => import('../assistant/drawer').then((m) => m.AssistantDrawer),
  'the assistant',
);

import { BudgetNote } from '../detail/estimate';

const MetricsPanel = lazy(() => import('../detail/metrics').then((m) => m.MetricsPanel), 'the charts');

import { SamplesPanel } from '../detail/samples';
import { TasksTable } from '../detail/tasks';
import { type Session, useRecoveryChain, useRun, useRunEvents } from '../live';
import { useNow } from '../use-now';

const STEPS: { status: RunStatus; label: string; at: (run: Run) => string | null }[] = [
  { status: 'pending', label: 'Pending', at: (r) => r.created_at },
  { status: 'submitted', label: 'Submitted to Batch', at: (r) => r.submitted_at },
  { status: 'running', label: 'Running', at: (r) => r.started_at },
];

function Timeline({ run, events }: { run: Run; events: RunHistoryEntry[] }) {
  const end = isTerminal(run.status)
    ? {
        status: run.status,
        label: run.status[0]!.toUpperCase() + run.status.slice(1),
        at: run.completed_at ?? run.failed_at ?? run.cancelled_at,
      }
    : null;
  const reached = (status: RunStatus) => STATUS_RANK[run.status] >= STATUS_RANK[status];
  // The transition into the status, not a later report of it ("repeated completed: …").
  const detailOf = (status: RunStatus) =>
    events.find(
      (e) =>
        e.applied &&
        e.to === status &&
        (e.from === null || STATUS_RANK[e.from as RunStatus] < STATUS_RANK[status]),
    )?.detail;
  return (
    <section aria-labelledby="timeline-heading" class="card">
      <h2 id="timeline-heading">Timeline</h2>
      <ol class="timeline">
        {STEPS.map((step) => (
          <li class={reached(step.status) ? 'done' : 'todo'} data-step={step.status}>
            <span class="dot" aria-hidden="true" />
            <strong>{step.label}</strong>{' '}
            <time>{reached(step.status) ? formatTime(step.at(run), 'time') : '—'}</time>
            {detailOf(step.status) && <div class="muted small">{detailOf(step.status)}</div>}
          </li>
        ))}
        <li class={end ? `done end-${end.status}` : 'todo'} data-step="end">
          <span class="dot" aria-hidden="true" />
          <strong>{end ? end.label : 'Finished'}</strong>{' '}
          <time>{end ? formatTime(end.at, 'time') : '—'}</time>
          {end && detailOf(end.status) && <div class="muted small">{detailOf(end.status)}</div>}
        </li>
      </ol>
    </section>
  );
}

/** The "Command error:" lines of Nextflow's error block: what the failing tool itself said. */
export function commandError(detail: string | null): string | null {
  const found = /Command error:\n([\s\S]*?)(?:\n\s*\n|\nWork dir:|$)/.exec(detail ?? '');
  const lines = found?.[1]
    ?.split('\n')
    .map((line) => line.replace(/^ {2}/, ''))
    .filter((line) => line.trim() !== '');
  return lines && lines.length > 0 ? lines.slice(-20).join('\n') : null;
}

function ErrorPanel({ run }: { run: Run }) {
  // The failed task's code says why (137: out of memory); Nextflow's own is 1 whenever a task fails.
  const taskExit = failedTaskExitCode(run.error_detail);
  const hint = exitCodeHint(taskExit ?? run.exit_code);
  const said = commandError(run.error_detail);
  return (
    <section class="card error-panel" aria-labelledby="error-heading" role="alert" data-testid="error-panel">
      <h2 id="error-heading">Why the run failed</h2>
      {said && (
        <div data-testid="command-error">
          <p class="small muted">The failing command said:</p>
          <pre class="log">{said}</pre>
        </div>
      )}
      {(run.error_task || typeof run.exit_code === 'number') && (
        <dl class="stats">
          {run.error_task && (
            <div>
              <dt>Failed task</dt>
              <dd class="mono">{run.error_task}</dd>
            </div>
          )}
          {taskExit !== null && (
            <div data-testid="task-exit-code">
              <dt>Task exit code</dt>
              <dd>{taskExit}</dd>
            </div>
          )}
          {typeof run.exit_code === 'number' && (
            <div data-testid="run-exit-code">
              <dt>{taskExit !== null ? 'Nextflow exited with' : 'Exit code'}</dt>
              <dd>{run.exit_code}</dd>
            </div>
          )}
        </dl>
      )}
      {hint && <p class="hint">{hint}</p>}
      {run.error_message && <p>{run.error_message}</p>}
      {run.error_detail && (
        <details open>
          <summary>The error as Nextflow reported it</summary>
          <pre class="log">{run.error_detail}</pre>
        </details>
      )}
      <p class="muted small" data-testid="error-next-step">
        {run.error_task
          ? "The failed task's stdout and stderr are open in the task table below. Fix the cause, then Recover."
          : 'No task failed: the run stopped outside its tasks. The message above says why; Recover resumes it from the work already done.'}
      </p>
    </section>
  );
}

function ProcessProgress({ run }: { run: Run }) {
  const progress = progressView(run);
  const names = Object.keys(progress.processes);
  return (
    <section aria-labelledby="progress-heading" class="card">
      <h2 id="progress-heading">
        Progress{' '}
        <span class="muted">
          {plural(progress.completed + progress.cached, 'task')} done of {progress.total_known} known
        </span>
      </h2>
      <ProgressBar label="Overall progress" total={progress.total_known} segments={progress} />
      <p class="legend small">
        <span class="key seg-completed" /> completed <span class="key seg-cached" /> cached{' '}
        <span class="key seg-failed" /> failed <span class="key seg-running" /> running
      </p>
      {names.length === 0 ? (
        <p class="muted">No task yet: processes appear as Nextflow submits them.</p>
      ) : (
        <ul class="processes">
          {names.map((name) => {
            const p = progress.processes[name]!;
            const total = p.submitted + Math.max(p.cached, p.announced);
            return (
              <li data-process={shortProcessName(name)}>
                <span class="process-name" title={name}>
                  {shortProcessName(name)}
                </span>
                <ProgressBar label={`${shortProcessName(name)} progress`} total={total} segments={p} />
                <span class="counts small">
                  {p.completed} done{p.cached ? ` · ${p.cached} cached` : ''}
                  {p.failed ? ` · ${p.failed} failed` : ''}
                  {p.running ? ` · ${p.running} running` : ''}
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function RecoveryChain({ run, chain }: { run: Run; chain: Run[] }) {
  if (chain.length <= 1 && !run.is_recovery) return null;
  return (
    <section aria-labelledby="chain-heading" class="card">
      <h2 id="chain-heading">Recovery chain</h2>
      <ol class="chain">
        {chain.map((r) => (
          <li aria-current={r.run_id === run.run_id ? 'page' : undefined}>
            {r.run_id === run.run_id ? (
              <strong class="mono">{r.run_id}</strong>
            ) : (
              <a class="mono" href={`#/runs/${r.run_id}`}>
                {r.run_id}
              </a>
            )}{' '}
            <StatusBadge status={r.status} /> <span class="muted small">{formatTime(r.created_at)}</span>
            {r.recovery_notes && <div class="muted small">“{r.recovery_notes}”</div>}
          </li>
        ))}
      </ol>
      {chainCostSummary(chain, run.run_id) && (
        <p class="muted small" data-testid="chain-cost">
          {chainCostSummary(chain, run.run_id)}
        </p>
      )}
    </section>
  );
}

export function RunDetail({ session, runId }: { session: Session; runId: string }) {
  const live = useRun(session, runId);
  const events = useRunEvents(session, runId);
  const run = live.state === 'ready' ? live.value : null;
  const chain = useRecoveryChain(session, run);
  const now = useNow(1000);
  const [prefill, setPrefill] = useState<RecoveryPrefill | null>(null);
  // A prefilled recovery is this run's: another run's page (the recovery it launched) starts clean.
  useEffect(() => setPrefill(null), [runId]);
  const recoveredBy = chain.filter((r) => run && r.parent_run_id === run.run_id);

  if (live.state === 'loading') return <Loading what={`Loading ${runId}…`} />;
  if (live.state === 'error') return <ErrorNote title={`Could not load ${runId}.`}>{live.message}</ErrorNote>;
  if (!run)
    return (
      <section class="empty">
        <h1>Run not found</h1>
        <p>
          There is no run <span class="mono">{runId}</span> that you can see. It may belong to someone else.{' '}
          <a href="#/">Back to your runs</a>
        </p>
      </section>
    );

  return (
    <article
      class="run-detail"
      data-run-id={run.run_id}
      data-status={run.status}
      aria-labelledby="run-heading"
    >
      <p>
        <a href="#/">← Runs</a>
      </p>
      <header class="toolbar">
        <div>
          <h1 id="run-heading">
            {run.name && <span class="run-title">{run.name} </span>}
            <span class="mono">{run.run_id}</span> <StatusBadge status={run.status} queue={run.queue} />
          </h1>
          {run.description && <p data-testid="run-description">{run.description}</p>}
          <p class="muted">
            {run.pipeline} {run.pipeline_version} · {plural(run.sample_count, 'sample')}
            {run.source_ngs_runs.length > 0 && ` from ${run.source_ngs_runs.join(', ')}`} · {run.user_name} ·
            started {formatTime(run.created_at)} · {formatDuration(runDuration(run, now))}
          </p>
          <LabelsEditor run={run} />
          {run.executor === 'replay' && (
            <p class="note small" data-testid="replay-note">
              <strong>Replay:</strong> no Nextflow ran here. This run plays a recorded nf-core/scrnaseq
              execution (the local stack has no <span class="mono">nextflow</span> on PATH): each task's run
              time, CPU and memory are the recording's, played faster; its timestamps are when the replay
              played it.
            </p>
          )}
          {run.is_recovery && run.parent_run_id && (
            <p>
              Recovery of{' '}
              <a href={`#/runs/${run.parent_run_id}`} class="mono">
                {run.parent_run_id}
              </a>
              {run.reused_work_dir ? ' (resumed with -resume)' : ' (started afresh)'} ·{' '}
              <a href={`#/compare?a=${run.parent_run_id}&b=${run.run_id}`} data-testid="compare-parent">
                Compare with it
              </a>
            </p>
          )}
        </div>
        <div class="buttons">
          <AssistantDrawer
            context={() => ({ page: 'run', run_id: run.run_id })}
            onApply={(proposal) => {
              if (proposal.kind !== 'recovery') return;
              setPrefill({
                notes: `Proposed by the assistant: ${proposal.reason}`.slice(0, 2000),
                reuse_work_dir: proposal.reuse_work_dir,
                override_params: proposal.override_params,
                config_content: proposal.config_content,
              });
            }}
          />
          <RunActions run={run} prefill={prefill} recoveredBy={recoveredBy} email={session.email} />
        </div>
      </header>
      {recoveredBy.length > 0 && (
        <div class="note" data-testid="recovered-by" role="status">
          <strong>Recovered by </strong>
          {recoveredBy.map((r, i) => (
            <span key={r.run_id}>
              {i > 0 && ', '}
              <a class="mono" href={`#/runs/${r.run_id}`}>
                {r.run_id}
              </a>{' '}
              ({r.status})
            </span>
          ))}
          . Look there first: recovering this run again starts another attempt beside it.
        </div>
      )}
      {run.param_warnings.length > 0 && (
        <div class="note">
          <strong>Warnings: </strong>
          {run.param_warnings.join(' · ')}
        </div>
      )}
      {run.status === 'pending' && run.queue && (
        <div class="note" data-testid="queue-note" role="status">
          <strong>Queued since {formatTime(run.queue.since)}.</strong> {run.queue.reason} Last checked{' '}
          {formatTime(run.queue.checked_at)}. Cancel it if you no longer need it.
        </div>
      )}
      {run.orchestrator_retries.length > 0 && (
        <div class="note" data-testid="orchestrator-retries">
          {run.orchestrator_retries.map((retry) => (
            <p key={retry.attempt}>
              <strong>Attempt {retry.attempt}:</strong> Google Batch restarted the run's orchestrator at{' '}
              {formatTime(retry.at)} because {retry.reason}. It resumed the run, so work already done shows as
              cached and the progress below counts from this attempt.
            </p>
          ))}
        </div>
      )}
      {run.status === 'failed' && <ErrorPanel run={run} />}
      {run.status === 'cancelled' && run.error_message && <div class="note">{run.error_message}</div>}
      <div class="grid">
        <Timeline run={run} events={events} />
        <RecoveryChain run={run} chain={chain} />
      </div>
      <ProcessProgress run={run} />
      <SamplesPanel
        run={run}
        onRelaunch={(samples) =>
          setPrefill({
            notes:
              `Relaunch of the failed ${samples.length === 1 ? 'sample' : 'samples'} ${samples.join(', ')}`.slice(
                0,
                2000,
              ),
            reuse_work_dir: true,
            override_params: {},
            config_content: null,
            samples,
          })
        }
      />
      <TasksTable run={run} focusTask={run.status === 'failed' ? run.error_task : null} />
      <LogTail run={run} />
      <BudgetNote run={run} />
      <MetricsPanel metrics={run.metrics} estimate={run.cost_estimate} />
      {isTerminal(run.status) && run.metrics && (
        <RecommendationsPanel pipeline={run.pipeline} version={run.pipeline_version} quiet />
      )}
      <WorkDirPanel run={run} root={chain.find((r) => r.run_id === run.root_run_id) ?? run} />
      <FilesPanel run={run} />
      <section class="card" aria-labelledby="params-heading">
        <h2 id="params-heading">Parameters</h2>
        <details>
          <summary>{plural(Object.keys(run.params).length, 'parameter')}</summary>
          <pre class="log">{JSON.stringify(run.params, null, 2)}</pre>
        </details>
        {run.config_content && (
          <details>
            <summary>Your config</summary>
            <pre class="log">{run.config_content}</pre>
          </details>
        )}
      </section>
    </article>
  );
}
