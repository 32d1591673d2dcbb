import type { Run } from '../../../functions/core/runs/run-model';
import type { RunFile, RunFiles } from '../../../functions/core/runs/views';
import { formatBytes } from '../../../functions/core/shared/format';
import { enc, useApi } from '../api';
import { ErrorNote, Loading } from '../components/ui';

const GROUPS: [keyof Pick<RunFiles, 'inputs' | 'results' | 'logs'>, string][] = [
  ['results', 'Results'],
  ['logs', 'Logs'],
  ['inputs', 'Inputs'],
];

const isHtml = (path: string) => /\.html?$/i.test(path);

/** One file: its download, and for an HTML report (MultiQC, Nextflow's report) an Open link. */
function FileLink({ file, label }: { file: RunFile; label: string }) {
  return (
    <li>
      <a href={file.download_url} download={file.name} title={file.path}>
        {label}
      </a>{' '}
      <span class="muted small">{formatBytes(file.size)}</span>
      {isHtml(file.path) && (
        <>
          {' '}
          {/* Served by Cloud Storage from its own origin: the report's scripts never see this page's session. */}
          <a
            class="small"
            href={`${file.download_url}&view=true`}
            target="_blank"
            rel="noopener noreferrer"
            data-testid="open-report"
          >
            Open in browser
          </a>
        </>
      )}
    </li>
  );
}

/** Results by their top folder (multiqc/, star/ …), reports first within each. */
function byFolder(files: RunFile[]): [string, RunFile[]][] {
  const folders = new Map<string, RunFile[]>();
  for (const file of files) {
    const relative = file.path.replace(/^results\//, '');
    const folder = relative.includes('/') ? relative.slice(0, relative.indexOf('/') + 1) : '';
    folders.set(folder, [...(folders.get(folder) ?? []), file]);
  }
  const rank = (folder: string) => (folder === 'multiqc/' ? 0 : folder === 'pipeline_info/' ? 2 : 1);
  return [...folders.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

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
              <details open={key === 'results'} data-group={key}>
                <summary>
                  {title} <span class="muted">({list.length})</span>
                </summary>
                {list.length === 0 ? (
                  <p class="muted small">
                    {key === 'results' ? 'Results appear here as the pipeline publishes them.' : 'None yet.'}
                  </p>
                ) : key === 'results' ? (
                  byFolder(list).map(([folder, inFolder]) => (
                    <details open={folder === 'multiqc/' || inFolder.length <= 10} data-folder={folder}>
                      <summary class="mono">
                        {folder || '(top level)'} <span class="muted">({inFolder.length})</span>
                      </summary>
                      <ul>
                        {[...inFolder]
                          .sort((a, b) => Number(isHtml(b.path)) - Number(isHtml(a.path)))
                          .map((file) => (
                            <FileLink
                              file={file}
                              label={file.path.replace(/^results\/[^/]*\/?/, '') || file.name}
                            />
                          ))}
                      </ul>
                    </details>
                  ))
                ) : (
                  <ul>
                    {list.map((file) => (
                      <FileLink file={file} label={file.path} />
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
