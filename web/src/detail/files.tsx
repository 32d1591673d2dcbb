import { useEffect, useState } from 'preact/hooks';
import type { Run } from '../../../functions/core/runs/run-model';
import { api, enc, errorText } from '../api';
import { ErrorNote, Loading } from '../components/ui';
import { formatBytes } from '../format';

interface RunFile {
  path: string;
  name: string;
  size: number;
  download_url: string;
}

interface RunFiles {
  inputs: RunFile[];
  results: RunFile[];
  logs: RunFile[];
  results_truncated?: boolean;
}

const GROUPS: [keyof RunFiles, string][] = [
  ['inputs', 'Inputs'],
  ['results', 'Results'],
  ['logs', 'Logs'],
];

export function FilesPanel({ run }: { run: Run }) {
  const [files, setFiles] = useState<RunFiles | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<RunFiles>(`/api/runs/${run.run_id}/files`)
      .then((body) => {
        setFiles(body);
        setError(null);
      })
      .catch((e: unknown) => setError(errorText(e)));
  }, [run.run_id, run.status]);

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
            const list = (files[key] as RunFile[] | undefined) ?? [];
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
        </div>
      )}
    </section>
  );
}
