import type { Run } from '../../../functions/core/runs/run-model';
import type { RunFile, RunFiles } from '../../../functions/core/runs/views';
import { enc, useApi } from '../api';
import { ErrorNote, Loading } from '../components/ui';
import { formatBytes } from '../format';

const GROUPS: [keyof Pick<RunFiles, 'inputs' | 'results' | 'logs'>, string][] = [
  ['inputs', 'Inputs'],
  ['results', 'Results'],
  ['logs', 'Logs'],
];

export function FilesPanel({ run }: { run: Run }) {
  const live = useApi<RunFiles>(`/api/runs/${enc(run.run_id)}/files`, [run.status]);
  const files = live.state === 'ready' ? live.value : null;
  const error = live.state === 'error' ? live.message : null;

  return (
    <section aria-labelledby="files-heading" class="card">
      <div class="toolbar">
        <h2 id="files-heading">Files</h2>
        <a class="button" href={`/api/runs/${enc(run.run_id)}/logs/download`} download>
          Download logs (zip)
        </a>
      </div>
      {error && <ErrorNote title="Could not list the run's files.">{error}</ErrorNote>}
      {!files && !error && <Loading what="Listing files…" />}
      {files && (
        <div class="files">
          {GROUPS.map(([key, title]) => {
            const list: RunFile[] = files[key];
            return (
              <details open={key !== 'results' || list.length <= 30}>
                <summary>
                  {title} <span class="muted">({list.length})</span>
                </summary>
                {list.length === 0 ? (
                  <p class="muted small">
                    {key === 'results' ? 'Results appear here as the pipeline publishes them.' : 'None yet.'}
                  </p>
                ) : (
                  <ul>
                    {list.map((file) => (
                      <li>
                        <a href={file.download_url} download={file.name}>
                          {file.path}
                        </a>{' '}
                        <span class="muted small">{formatBytes(file.size)}</span>
                      </li>
                    ))}
                  </ul>
                )}
              </details>
            );
          })}
          {files.truncated && (
            <p class="muted small" data-testid="files-truncated">
              The run has more files than are listed here; download them from the run's results folder.
            </p>
          )}
        </div>
      )}
    </section>
  );
}
