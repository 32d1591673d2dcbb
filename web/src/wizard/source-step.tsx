import { useEffect, useState } from 'preact/hooks';
import type {
  BenchlingMetadata,
  BenchlingRunsPage,
  NgsRunSummary,
} from '../../../functions/core/benchling/sample-warehouse';
import { api, errorText, useApi } from '../api';
import { ErrorNote, FilterForm, Loading, SelectFilter } from '../components/ui';
import type { Draft } from './draft';

type Metadata = BenchlingMetadata;
export type NgsRun = NgsRunSummary;
type RunsPage = BenchlingRunsPage;

const PAGE_SIZE = 20;

/** Step 1: the NGS runs, found by project, instrument, date and text. */
export function SourceStep({ draft, update }: { draft: Draft; update: (change: Partial<Draft>) => void }) {
  const [runs, setRuns] = useState<NgsRun[] | null>(null);
  const [page, setPage] = useState(1);
  const [more, setMore] = useState(false);
  const [warning, setWarning] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [q, setQ] = useState(draft.filters.q);
  const f = draft.filters;

  const metadataRead = useApi<Metadata>('/api/benchling/metadata');
  const metadata = metadataRead.state === 'ready' ? metadataRead.value : null;
  const metadataError = metadataRead.state === 'error' ? metadataRead.message : null;

  useEffect(() => {
    const controller = new AbortController();
    const query = new URLSearchParams({ page: String(page), page_size: String(PAGE_SIZE) });
    for (const [key, value] of Object.entries(f)) if (value) query.set(key, value);
    setLoading(true);
    api<RunsPage>(`/api/benchling/runs?${query}`, { signal: controller.signal })
      .then((body) => {
        setRuns((current) => (page === 1 ? body.runs : [...(current ?? []), ...body.runs]));
        setMore(body.has_more);
        setWarning(body.warning ?? null);
        setError(null);
      })
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(errorText(e));
      })
      .finally(() => setLoading(false));
    return () => controller.abort();
  }, [f.project, f.instrument, f.from, f.to, f.q, page]);

  const filter = (change: Partial<Draft['filters']>) => {
    setPage(1);
    update({ filters: { ...f, ...change } });
  };
  const toggle = (run: NgsRun, on: boolean) => {
    const ngsRuns = on ? [...draft.ngsRuns, run.name] : draft.ngsRuns.filter((n) => n !== run.name);
    const samples = { ...draft.samples };
    if (!on) delete samples[run.name];
    update({
      ngsRuns,
      samples,
      sourceProject: on ? (run.project?.name ?? draft.sourceProject) : draft.sourceProject,
    });
  };

  return (
    <div class="stack">
      <p>Find the sequencing run(s) in Benchling. Select one or more; you pick their samples next.</p>
      {metadata?.stale && (
        <p class="note">Benchling is not answering: project and instrument lists may be out of date.</p>
      )}
      <FilterForm
        label="Find NGS runs"
        search={{ value: q, placeholder: 'Run, project, instrument or sample name', onInput: setQ }}
        onSubmit={() => filter({ q: q.trim() })}
      >
        <SelectFilter
          label="Project"
          value={f.project}
          any="All projects"
          options={metadata?.projects.map((p) => p.name) ?? []}
          onChange={(project) => filter({ project })}
        />
        <SelectFilter
          label="Instrument"
          value={f.instrument}
          any="All instruments"
          options={metadata?.instruments.map((i) => i.name) ?? []}
          onChange={(instrument) => filter({ instrument })}
        />
        <label>
          From
          <input
            type="date"
            value={f.from}
            max={f.to || undefined}
            onChange={(e) => filter({ from: e.currentTarget.value })}
          />
        </label>
        <label>
          To
          <input
            type="date"
            value={f.to}
            min={f.from || undefined}
            onChange={(e) => filter({ to: e.currentTarget.value })}
          />
        </label>
      </FilterForm>
      {(error ?? metadataError) && (
        <ErrorNote title="Could not read Benchling.">{error ?? metadataError}</ErrorNote>
      )}
      {warning && <p class="note">{warning}</p>}
      {runs && runs.length === 0 && !loading && (
        <p class="muted">No NGS run matches. Widen the dates or clear the search.</p>
      )}
      {runs && runs.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">NGS runs; select the ones to take samples from</caption>
            <thead>
              <tr>
                <th scope="col">Select</th>
                <th scope="col">NGS run</th>
                <th scope="col">Project</th>
                <th scope="col">Instrument</th>
                <th scope="col">Date</th>
                <th scope="col">Samples</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <tr data-ngs-run={run.name}>
                  <td>
                    <input
                      type="checkbox"
                      id={`ngs-${run.id}`}
                      checked={draft.ngsRuns.includes(run.name)}
                      onChange={(e) => toggle(run, e.currentTarget.checked)}
                    />
                  </td>
                  <td>
                    <label for={`ngs-${run.id}`} class="mono">
                      {run.name}
                    </label>
                  </td>
                  <td>{run.project?.name ?? '—'}</td>
                  <td>{run.instrument?.name ?? '—'}</td>
                  <td>{run.run_date ?? '—'}</td>
                  <td>{run.sample_count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {loading && <Loading what="Searching Benchling…" />}
      {more && !loading && (
        <button type="button" onClick={() => setPage(page + 1)}>
          Show more runs
        </button>
      )}
    </div>
  );
}
