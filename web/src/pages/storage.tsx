import { useState } from 'preact/hooks';
import type { WorkDirView } from '../../../functions/core/runs/work-dir';
import { formatBytes, formatUsd, plural } from '../../../functions/core/shared/format';
import { useApi } from '../api';
import { ErrorNote, Loading } from '../components/ui';
import { day, FreeWorkDir } from '../detail/work-dir';

interface WorkDirList {
  work_dirs: WorkDirView[];
  total_bytes: number;
  monthly_usd: number;
  basis: string;
}

/**
 * #/storage: the caller's recovery chains' work dirs, the largest first, with what each costs a
 * month to keep and until when it can be resumed; each can be freed from here.
 */
export function StoragePage() {
  const [reads, setReads] = useState(0);
  const list = useApi<WorkDirList>('/api/work-dirs?limit=100', [reads]);
  return (
    <section aria-labelledby="storage-heading" class="stack">
      <h1 id="storage-heading">Work directories</h1>
      <p class="muted">
        Each recovery chain keeps its tasks' work and its Nextflow cache in the bucket so that a failed run
        can be resumed with <span class="mono">-resume</span>. The bucket deletes them some days after they
        are written; until then they cost storage. Measured when a run of the chain ends.
      </p>
      {list.state === 'loading' && <Loading what="Reading your work directories…" />}
      {list.state === 'error' && (
        <ErrorNote title="Could not list the work directories.">{list.message}</ErrorNote>
      )}
      {list.state === 'ready' && list.value.work_dirs.length === 0 && (
        <p class="note">None of your runs keeps a work directory now.</p>
      )}
      {list.state === 'ready' && list.value.work_dirs.length > 0 && (
        <>
          <p data-testid="storage-total">
            {plural(list.value.work_dirs.length, 'work directory', 'work directories')}:{' '}
            {formatBytes(list.value.total_bytes)}, {formatUsd(list.value.monthly_usd)} a month to keep.{' '}
            <span class="muted small">Priced at {list.value.basis}.</span>
          </p>
          <div class="table-wrap">
            <table data-testid="work-dirs">
              <thead>
                <tr>
                  <th scope="col">Run chain</th>
                  <th scope="col">Pipeline</th>
                  <th scope="col">Size</th>
                  <th scope="col">Per month</th>
                  <th scope="col">Resumable until</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.value.work_dirs.map((w) => (
                  <tr key={w.root_run_id} data-root={w.root_run_id}>
                    <td>
                      <a class="mono" href={`#/runs/${w.root_run_id}`}>
                        {w.root_run_id}
                      </a>{' '}
                      <span class="muted small">({w.status})</span>
                    </td>
                    <td>{w.pipeline}</td>
                    <td>
                      {w.state && !w.state.complete ? 'at least ' : ''}
                      {formatBytes(w.state?.bytes ?? 0)}
                    </td>
                    <td>{formatUsd(w.monthly_usd ?? 0)}</td>
                    <td>{day(w.resumable_until)}</td>
                    <td>
                      {w.active_run_id ? (
                        <span class="muted small">in use by {w.active_run_id}</span>
                      ) : (
                        <FreeWorkDir view={w} onFreed={() => setReads((n) => n + 1)} />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
