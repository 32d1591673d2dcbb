import { useState } from 'preact/hooks';
import type { Run } from '../../../functions/core/runs/run-model';
import type { FreeWorkDirResult, WorkDirView } from '../../../functions/core/runs/work-dir';
import { formatBytes, formatTime, formatUsd, plural } from '../../../functions/core/shared/format';
import { api, enc, errorText, useApi } from '../api';
import { Dialog, ErrorNote } from '../components/ui';

/** "can be resumed until 6 Jan 2027": a date a person reads, from an ISO time. */
export function day(iso: string | null): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

/** The dialog that frees a chain's work dir: says what is lost, then deletes batch after batch, showing progress. */
export function FreeWorkDir({ view, onFreed }: { view: WorkDirView; onFreed: () => void }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [deleted, setDeleted] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const free = async () => {
    setBusy(true);
    setError(null);
    try {
      // Each call deletes a batch and says whether more is left: go on until it is done.
      for (;;) {
        const result = await api<FreeWorkDirResult>(`/api/runs/${enc(view.root_run_id)}/work-dir/free`, {
          method: 'POST',
          body: { confirm: true },
        });
        setDeleted((n) => n + result.deleted_objects);
        if (result.done) break;
      }
      setOpen(false);
      onFreed();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        class="danger"
        onClick={() => setOpen(true)}
        disabled={view.active_run_id !== null}
      >
        Free the work dir now
      </button>
      <Dialog open={open} title={`Free the work dir of ${view.root_run_id}?`} onClose={() => setOpen(false)}>
        <p>
          This deletes <span class="mono">{view.work_dir}</span> and{' '}
          <span class="mono">{view.cache_dir}</span>
          {view.state ? ` (${formatBytes(view.state.bytes)} when last measured)` : ''}. No run of this chain
          can be recovered with <span class="mono">-resume</span> afterwards: a recovery would run everything
          again. The runs' inputs, logs and results are kept.
        </p>
        {busy && (
          <p role="status" data-testid="free-progress">
            Deleting… {plural(deleted, 'object')} so far.
          </p>
        )}
        {error && <ErrorNote title="The work dir was not freed completely.">{error}</ErrorNote>}
        <div class="buttons">
          <button type="button" onClick={() => setOpen(false)} disabled={busy}>
            Keep it
          </button>
          <button type="button" class="danger" onClick={free} disabled={busy}>
            {busy ? 'Freeing…' : 'Free the work dir'}
          </button>
        </div>
      </Dialog>
    </>
  );
}

/**
 * The run page's work dir panel: what the chain's work dir holds, what keeping it costs a month
 * and until when -resume can use it, from the API's figures (its prices and retention); read
 * again whenever the root run's measurement changes.
 */
export function WorkDirPanel({ run, root }: { run: Run; root: Run }) {
  const state = root.work_dir;
  const [freedAt, setFreedAt] = useState(0);
  const read = useApi<WorkDirView>(state ? `/api/runs/${enc(run.run_id)}/work-dir` : null, [
    state?.measured_at,
    state?.freeing_since,
    state?.freed_at,
    run.status,
    freedAt,
  ]);
  if (!state) return null;
  const view = read.state === 'ready' ? read.value : null;
  return (
    <section aria-labelledby="work-dir-heading" class="card" data-testid="work-dir">
      <h2 id="work-dir-heading">Work directory</h2>
      {read.state === 'error' && <ErrorNote title="Could not read the work dir.">{read.message}</ErrorNote>}
      {view && (
        <>
          <p data-testid="work-dir-summary">{view.summary}</p>
          {view.state && !view.state.freed_at && view.state.objects > 0 && (
            <dl class="facts">
              <dt>Held</dt>
              <dd>
                {view.state.complete ? '' : 'at least '}
                {formatBytes(view.state.bytes)} ({formatBytes(view.state.work_bytes)} of task work,{' '}
                {formatBytes(view.state.cache_bytes)} of session cache) in{' '}
                {plural(view.state.objects, 'object')}, measured {formatTime(view.state.measured_at)}
              </dd>
              <dt>Cost to keep</dt>
              <dd data-testid="work-dir-cost">
                {formatUsd(view.monthly_usd ?? 0)} a month <span class="muted small">({view.basis})</span>
              </dd>
              <dt>Resumable</dt>
              <dd data-testid="work-dir-until">
                in full until {day(view.resumable_until)}; all of it is deleted by {day(view.gone_by)}
              </dd>
            </dl>
          )}
          {view.active_run_id && (
            <p class="muted small">
              Run {view.active_run_id} is using it: it can be freed once that run ends.
            </p>
          )}
          {view.state && !view.state.freed_at && view.state.objects > 0 && (
            <FreeWorkDir view={view} onFreed={() => setFreedAt(Date.now())} />
          )}
        </>
      )}
    </section>
  );
}
