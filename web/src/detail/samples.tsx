import { useEffect, useState } from 'preact/hooks';
import { liveProgress } from '../../../functions/core/runs/progress';
import type { Run } from '../../../functions/core/runs/run-model';
import type { RunSamplesView, SampleView } from '../../../functions/core/runs/run-samples';
import { formatUsd, plural } from '../../../functions/core/shared/format';
import { isTerminal } from '../../../functions/core/shared/run-status';
import { api, enc, errorText } from '../api';
import { ErrorNote, Loading, ProgressBar } from '../components/ui';

const STATUS_TEXT: Record<SampleView['status'], string> = {
  waiting: 'waiting',
  running: 'running',
  done: 'done',
  failed: 'failed',
  stopped: 'stopped',
};

function FailedTask({ sample, finished }: { sample: SampleView; finished: boolean }) {
  const failed = sample.failed_task;
  if (!failed) return null;
  return (
    <details class="sample-failure" data-testid="sample-failure">
      <summary>
        <span class="mono">{failed.name}</span> exited {failed.exit ?? '—'}
      </summary>
      {failed.log_tail && failed.log_tail.length > 0 ? (
        <pre class="log">{failed.log_tail.join('\n')}</pre>
      ) : (
        <p class="muted small">
          {finished
            ? 'Its log could not be read here; the task table below says where it looked.'
            : 'Its last lines show here once the run has ended; its log is in the task table below.'}
        </p>
      )}
    </details>
  );
}

function SampleRow({ sample, finished }: { sample: SampleView; finished: boolean }) {
  const t = sample.tasks;
  const done = t.completed + t.cached;
  // progress is done over the most any sample has done: that most is the bar's whole.
  const whole = sample.progress > 0 ? Math.round(done / sample.progress) : 1;
  const first = sample.rows[0];
  const fields = first
    ? Object.entries(first)
        .filter(([, value]) => value !== '' && !/^(gs|https?|ftp|s3):\/\//.test(value))
        .slice(0, 4)
    : [];
  return (
    <tr data-sample={sample.sample} data-sample-status={sample.status}>
      <th scope="row">
        <span class="mono">{sample.sample}</span>
        {sample.rows.length > 1 && <span class="muted small"> · {plural(sample.rows.length, 'row')}</span>}
        {fields.length > 1 && (
          <div class="muted small">
            {fields
              .filter(([key]) => first?.[key] !== sample.sample)
              .map(([key, value]) => `${key} ${value}`)
              .join(' · ')}
          </div>
        )}
      </th>
      <td>
        <span class={`sample-status sample-${sample.status}`}>{STATUS_TEXT[sample.status]}</span>
        <FailedTask sample={sample} finished={finished} />
      </td>
      <td class="sample-progress">
        <ProgressBar
          label={`${sample.sample} progress`}
          total={whole}
          segments={{
            completed: t.completed,
            cached: t.cached,
            failed: t.failed - t.retried,
            running: 0,
          }}
        />
        <span class="small">
          {done} done{t.cached ? ` (${t.cached} cached)` : ''}
          {t.failed ? ` · ${t.failed} failed${t.retried ? `, ${t.retried} retried` : ''}` : ''}
        </span>
      </td>
      <td class="num" data-label="CPU-h">
        {sample.cpu_hours.toFixed(2)}
      </td>
      <td class="num" data-label="Cost">
        {sample.cost_share_usd === null ? '—' : formatUsd(sample.cost_share_usd)}
      </td>
      <td class="num" data-label="Result files">
        {finished || sample.results_total > 0 ? sample.results_total : '—'}
      </td>
    </tr>
  );
}

/**
 * The run sample by sample (GET /api/runs/{id}/samples), read again as the run's counters move;
 * the failed samples can be relaunched alone.
 */
export function SamplesPanel({ run, onRelaunch }: { run: Run; onRelaunch: (samples: string[]) => void }) {
  const [view, setView] = useState<RunSamplesView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const live = liveProgress(run);
  const version = `${run.status}:${run.orchestrator_attempt}:${live.completed}:${live.failed}:${live.cached}:${run.metrics?.trace_generation ?? ''}`;

  useEffect(() => {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      // The failed tasks' last lines are read once the run has ended (each is a read of its work dir).
      const include = isTerminal(run.status) ? '?include=log_tail' : '';
      api<RunSamplesView>(`/api/runs/${enc(run.run_id)}/samples${include}`, { signal: controller.signal })
        .then((body) => {
          setView(body);
          setError(null);
        })
        .catch((e: unknown) => {
          if (!controller.signal.aborted) setError(errorText(e));
        });
    }, 400);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [run.run_id, version]);

  const failed = view?.samples.filter((s) => s.status === 'failed') ?? [];
  const finished = isTerminal(run.status);
  const recoverable = run.status === 'failed' || run.status === 'cancelled';
  return (
    <section aria-labelledby="samples-heading" class="card" data-testid="samples">
      <div class="toolbar">
        <h2 id="samples-heading">
          Samples{' '}
          {view && (
            <span class="muted">
              ({view.samples.length}
              {failed.length > 0 ? `, ${failed.length} failed` : ''})
            </span>
          )}
        </h2>
        {recoverable && failed.length > 0 && (
          <div class="buttons">
            <button
              type="button"
              data-testid="relaunch-failed-samples"
              onClick={() => onRelaunch(failed.map((s) => s.sample))}
            >
              Relaunch{' '}
              {failed.length === 1 ? `${failed[0]!.sample} only` : `the ${failed.length} failed samples`}
            </button>
          </div>
        )}
      </div>
      {error && <ErrorNote title="Could not load the samples.">{error}</ErrorNote>}
      {!view && !error && <Loading what="Loading the samples…" />}
      {view && (
        <>
          <div class="table-wrap">
            <table class="samples">
              <caption class="visually-hidden">
                Each sample of the run: its status, tasks, CPU and cost
              </caption>
              <thead>
                <tr>
                  <th scope="col">Sample</th>
                  <th scope="col">Status</th>
                  <th scope="col">Tasks</th>
                  <th scope="col" class="num">
                    CPU-h
                  </th>
                  <th scope="col" class="num">
                    Cost
                  </th>
                  <th scope="col" class="num">
                    Result files
                  </th>
                </tr>
              </thead>
              <tbody>
                {view.samples.map((sample) => (
                  <SampleRow key={sample.sample} sample={sample} finished={finished} />
                ))}
                <tr class="whole-run" data-sample="">
                  <th scope="row">
                    <em>Whole run</em>
                    <div class="muted small">steps of no one sample: genome index, MultiQC, versions</div>
                  </th>
                  <td />
                  <td class="small">
                    {view.whole_run.tasks.completed + view.whole_run.tasks.cached} done
                    {view.whole_run.tasks.failed ? ` · ${view.whole_run.tasks.failed} failed` : ''}
                  </td>
                  <td class="num" data-label="CPU-h">
                    {view.whole_run.cpu_hours.toFixed(2)}
                  </td>
                  <td class="num" data-label="Cost">
                    {view.whole_run.cost_share_usd === null ? '—' : formatUsd(view.whole_run.cost_share_usd)}
                  </td>
                  <td />
                </tr>
              </tbody>
            </table>
          </div>
          <p class="muted small" data-testid="samples-basis">
            Tasks: done of the most any sample has done so far (a sample's steps are known only as they run).
            CPU-h: CPUs × run time of its tasks. Cost:{' '}
            {view.samples.some((s) => s.cost_share_usd !== null)
              ? "the run's estimate × the sample's share of its CPU-hours (Spot task VMs)."
              : 'known once the run has ended and its trace is read.'}{' '}
            A task is a sample's when its tag names the sample
            {view.id_column ? ` (column ${view.id_column})` : ''}.
            {view.unlisted_samples > 0 &&
              ` ${plural(view.unlisted_samples, 'sample')} past the first 500 are not listed; their tasks count as whole-run.`}
          </p>
        </>
      )}
    </section>
  );
}
