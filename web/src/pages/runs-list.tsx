import type { DocumentSnapshot } from 'firebase/firestore';
import { useEffect, useState } from 'preact/hooks';
import { progressView } from '../../../functions/core/runs/progress';
import type { Run } from '../../../functions/core/runs/run-model';
import { formatDuration, formatTime, plural, runDuration } from '../../../functions/core/shared/format';
import { RunStatus } from '../../../functions/core/shared/run-status';
import { useApi } from '../api';
import {
  ErrorNote,
  FilterForm,
  LabelChips,
  Loading,
  ProgressBar,
  SelectFilter,
  StatusBadge,
} from '../components/ui';
import { type RunFilters, type Session, useRunsPage } from '../live';
import { useNow } from '../use-now';

const PAGE_SIZE = 25;

function filtersFrom(query: URLSearchParams): RunFilters {
  return {
    status: query.get('status') ?? '',
    pipeline: query.get('pipeline') ?? '',
    search: query.get('q') ?? '',
    label: query.get('label') ?? '',
    everyone: query.get('scope') === 'all',
  };
}

function hashFor(filters: RunFilters): string {
  const query = new URLSearchParams();
  if (filters.status) query.set('status', filters.status);
  if (filters.pipeline) query.set('pipeline', filters.pipeline);
  if (filters.search) query.set('q', filters.search);
  if (filters.label) query.set('label', filters.label);
  if (filters.everyone) query.set('scope', 'all');
  const text = query.toString();
  return text ? `#/runs?${text}` : '#/';
}

function RunRow({
  run,
  now,
  showOwner,
  selected,
  onSelect,
}: {
  run: Run;
  now: number;
  showOwner: boolean;
  selected: boolean;
  onSelect: (selected: boolean) => void;
}) {
  const progress = progressView(run);
  const samples =
    run.samples.slice(0, 3).join(', ') + (run.sample_count > 3 ? ` +${run.sample_count - 3}` : '');
  return (
    <tr data-run-id={run.run_id} data-status={run.status}>
      <td>
        <input
          type="checkbox"
          class="compare-pick"
          checked={selected}
          aria-label={`Compare ${run.run_id}`}
          onChange={(e) => onSelect(e.currentTarget.checked)}
        />{' '}
        <a href={`#/runs/${run.run_id}`} class="mono">
          {run.run_id}
        </a>
        {run.is_recovery && (
          <span class="tag" title={`Recovery of ${run.parent_run_id}`}>
            recovery
          </span>
        )}
        {run.name && <div class="run-name">{run.name}</div>}
        {showOwner && <div class="muted small">{run.user_email}</div>}
        <LabelChips labels={run.labels} />
      </td>
      <td>
        <StatusBadge status={run.status} queue={run.queue} />
      </td>
      <td>
        {run.pipeline} <span class="muted">{run.pipeline_version}</span>
        {(run.source_project || run.source_ngs_runs.length > 0) && (
          <div class="muted small">
            {[run.source_project, run.source_ngs_runs.slice(0, 2).join(', ')].filter(Boolean).join(' · ')}
            {run.source_ngs_runs.length > 2 && ` +${run.source_ngs_runs.length - 2}`}
          </div>
        )}
      </td>
      <td title={run.samples.join(', ')}>
        {plural(run.sample_count, 'sample')}
        <div class="muted small">{samples}</div>
      </td>
      <td>
        <time dateTime={run.created_at}>{formatTime(run.created_at)}</time>
      </td>
      <td>{formatDuration(runDuration(run, now))}</td>
      <td class="progress-cell">
        <ProgressBar label={`Progress of ${run.run_id}`} total={progress.total_known} segments={progress} />
      </td>
    </tr>
  );
}

/** The two picked runs, the older first: a comparison reads from the earlier run to the later. */
function compareOrder(picked: Run[]): Run[] {
  return [...picked].sort((x, y) => x.created_at.localeCompare(y.created_at));
}

export function RunsList({ session, query }: { session: Session; query: URLSearchParams }) {
  const filters = filtersFrom(query);
  const [cursors, setCursors] = useState<DocumentSnapshot[]>([]);
  const [searchText, setSearchText] = useState(filters.search);
  const [picked, setPicked] = useState<Run[]>([]);
  const now = useNow(1000);
  const after = cursors.at(-1) ?? null;
  const page = useRunsPage(session, filters, PAGE_SIZE, after);
  const key = JSON.stringify(filters);

  useEffect(() => setCursors([]), [key]);
  const pipelinesRead = useApi<{ pipelines: { name: string }[] }>('/api/pipelines');
  const pipelines = pipelinesRead.state === 'ready' ? pipelinesRead.value.pipelines.map((p) => p.name) : [];
  useEffect(() => {
    if (page.state === 'ready') performance.mark('arc:runs-list-rendered');
  }, [page.state]);

  const set = (change: Partial<RunFilters>) => {
    location.hash = hashFor({ ...filters, ...change });
  };
  const filtered = filters.status || filters.pipeline || filters.search || filters.label;
  const [labelText, setLabelText] = useState(filters.label);
  useEffect(() => setLabelText(filters.label), [filters.label]);

  return (
    <section aria-labelledby="runs-heading">
      <div class="toolbar">
        <h1 id="runs-heading">Runs</h1>
        <a class="button primary" href="#/new">
          New run
        </a>
      </div>
      <FilterForm
        label="Filter runs"
        search={{
          value: searchText,
          placeholder: 'Run id (run-…), or the start of a run name, sample, NGS run or project',
          onInput: setSearchText,
        }}
        onSubmit={() => set({ search: searchText.trim(), label: labelText.trim() })}
        after={
          <>
            {filtered && (
              <button
                type="button"
                class="link"
                onClick={() => {
                  setSearchText('');
                  setLabelText('');
                  set({ status: '', pipeline: '', search: '', label: '' });
                }}
              >
                Clear filters
              </button>
            )}
            {session.admin && (
              <label class="inline">
                <input
                  type="checkbox"
                  checked={filters.everyone}
                  onChange={(e) => set({ everyone: e.currentTarget.checked })}
                />
                Everyone's runs
              </label>
            )}
          </>
        }
      >
        <SelectFilter
          label="Status"
          value={filters.status}
          any="Any"
          options={RunStatus}
          onChange={(status) => set({ status })}
        />
        <SelectFilter
          label="Pipeline"
          value={filters.pipeline}
          any="Any"
          options={pipelines}
          onChange={(pipeline) => set({ pipeline })}
        />
        <label>
          Label
          <input
            type="text"
            name="label"
            placeholder="team=genomics"
            value={labelText}
            pattern="[a-z][a-z0-9_\-]*=[a-z0-9_\-]*"
            title="key=value, lowercase letters, digits, _ or -"
            onInput={(e) => setLabelText(e.currentTarget.value)}
            onChange={(e) => set({ label: e.currentTarget.value.trim() })}
          />
        </label>
      </FilterForm>

      {page.state === 'loading' && <Loading what="Loading your runs…" />}
      {page.state === 'error' && <ErrorNote title="Could not load runs.">{page.message}</ErrorNote>}
      {page.state === 'ready' && page.value.runs.length === 0 && (
        <div class="empty" data-testid="empty-state">
          {filtered ? (
            <p>
              No runs match these filters. Search finds a run id by its start (run-…), and a run by the start
              of its name, a sample, its NGS run or project, in any case.
            </p>
          ) : (
            <>
              <h2>No runs yet</h2>
              <p>Pick samples from a Benchling NGS run and launch an nf-core pipeline on them.</p>
              <a class="button primary" href="#/new">
                New run
              </a>
            </>
          )}
        </div>
      )}
      {page.state === 'ready' && page.value.runs.length > 0 && (
        <>
          <p class="muted" aria-live="polite">
            {page.value.total !== null
              ? `Showing ${cursors.length * PAGE_SIZE + 1}–${cursors.length * PAGE_SIZE + page.value.runs.length} of ${plural(page.value.total, 'run')}`
              : `Showing ${plural(page.value.runs.length, 'run')}`}
          </p>
          <p class="compare-bar small">
            {picked.length < 2 ? (
              <span class="muted">Tick two runs to compare them.</span>
            ) : (
              <a
                class="button"
                data-testid="compare-picked"
                href={`#/compare?a=${compareOrder(picked)[0]!.run_id}&b=${compareOrder(picked)[1]!.run_id}`}
              >
                Compare {compareOrder(picked)[0]!.run_id} with {compareOrder(picked)[1]!.run_id}
              </a>
            )}
          </p>
          <div class="table-wrap">
            <table class="runs">
              <caption class="visually-hidden">Your runs, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Status</th>
                  <th scope="col">Pipeline</th>
                  <th scope="col">Samples</th>
                  <th scope="col">Submitted</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Progress</th>
                </tr>
              </thead>
              <tbody>
                {page.value.runs.map((run) => (
                  <RunRow
                    key={run.run_id}
                    run={run}
                    now={now}
                    showOwner={filters.everyone}
                    selected={picked.some((r) => r.run_id === run.run_id)}
                    onSelect={(on) =>
                      // Two at most: a third replaces the older pick.
                      setPicked((current) =>
                        on
                          ? [...current.filter((r) => r.run_id !== run.run_id), run].slice(-2)
                          : current.filter((r) => r.run_id !== run.run_id),
                      )
                    }
                  />
                ))}
              </tbody>
            </table>
          </div>
          <nav class="pager" aria-label="Pages">
            <button
              type="button"
              disabled={cursors.length === 0}
              onClick={() => setCursors(cursors.slice(0, -1))}
            >
              ← Newer
            </button>
            <span>Page {cursors.length + 1}</span>
            <button
              type="button"
              disabled={!page.value.hasNext}
              onClick={() => page.value.last && setCursors([...cursors, page.value.last])}
            >
              Older →
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
