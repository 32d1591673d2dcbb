import { shortProcessName } from '../../../functions/core/nextflow/process-names';
import type { RunComparison } from '../../../functions/core/runs/run-compare';
import { formatDuration, formatUsd, plural } from '../../../functions/core/shared/format';
import type { RunStatus } from '../../../functions/core/shared/run-status';
import { enc, useApi } from '../api';
import { ErrorNote, Loading, StatusBadge } from '../components/ui';

type Side = RunComparison['a'];

const shown = (value: unknown) => (value === null || value === undefined ? '—' : JSON.stringify(value));

function SideCard({ label, side }: { label: string; side: Side }) {
  return (
    <section class="card compare-side" aria-label={`Run ${label}`} data-testid={`compare-${label}`}>
      <h2>
        {label}:{' '}
        <a class="mono" href={`#/runs/${side.run_id}`}>
          {side.run_id}
        </a>{' '}
        <StatusBadge status={side.status as RunStatus} />
      </h2>
      {side.name && <p>{side.name}</p>}
      <dl class="stats">
        <div>
          <dt>Pipeline</dt>
          <dd>
            {side.pipeline} {side.pipeline_version}
          </dd>
        </div>
        <div>
          <dt>Nextflow</dt>
          <dd>{side.nextflow_version ?? 'not in its log'}</dd>
        </div>
        <div>
          <dt>Wall time</dt>
          <dd>{side.wall_ms === null ? '—' : formatDuration(side.wall_ms)}</dd>
        </div>
        <div>
          <dt>CPU-hours</dt>
          <dd>{side.cpu_hours === null ? '—' : side.cpu_hours.toFixed(2)}</dd>
        </div>
        <div>
          <dt>Cost (estimate)</dt>
          <dd>{side.cost_usd === null ? '—' : formatUsd(side.cost_usd)}</dd>
        </div>
        <div>
          <dt>Tasks</dt>
          <dd>
            {side.tasks
              ? `${side.tasks.completed} run · ${side.tasks.cached} cached · ${side.tasks.failed} failed`
              : 'no final trace yet'}
          </dd>
        </div>
      </dl>
      {side.error_task && (
        <p class="small">
          Failed in <span class="mono">{side.error_task}</span>
          {side.exit_code !== null && ` (Nextflow exited ${side.exit_code})`}
        </p>
      )}
    </section>
  );
}

/** Two runs side by side (GET /api/runs/compare): what differs, the first run's value first. */
export function ComparePage({ a, b }: { a: string | null; b: string | null }) {
  const live = useApi<RunComparison>(a && b ? `/api/runs/compare?a=${enc(a)}&b=${enc(b)}` : null, []);
  if (!a || !b)
    return (
      <ErrorNote title="Choose two runs to compare.">
        Tick two runs in <a href="#/">your runs</a>, then Compare; or open a recovery and Compare with its
        parent.
      </ErrorNote>
    );
  if (live.state === 'loading') return <Loading what={`Comparing ${a} and ${b}…`} />;
  if (live.state === 'error')
    return <ErrorNote title="Could not compare the runs.">{live.message}</ErrorNote>;
  const c = live.value;
  const p = c.params;
  const sheet = c.samplesheet;
  return (
    <article class="compare" aria-labelledby="compare-heading">
      <p>
        <a href="#/">← Runs</a>
      </p>
      <h1 id="compare-heading">
        Compare <span class="mono">{c.a.run_id}</span> with <span class="mono">{c.b.run_id}</span>
      </h1>
      {!c.same_pipeline && (
        <p class="note" role="status">
          The runs are of different pipelines or versions: their processes and params may not line up.
        </p>
      )}
      <div class="grid">
        <SideCard label="a" side={c.a} />
        <SideCard label="b" side={c.b} />
      </div>

      <section class="card" aria-labelledby="compare-params" data-testid="compare-params">
        <h2 id="compare-params">
          Parameters{' '}
          <span class="muted">
            {p.changed.length + p.only_a.length + p.only_b.length === 0
              ? `(the same ${plural(p.same, 'param')})`
              : `(${p.changed.length} changed, ${p.only_a.length} only in a, ${p.only_b.length} only in b; ${p.same} the same)`}
          </span>
        </h2>
        {p.changed.length + p.only_a.length + p.only_b.length > 0 && (
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Params that differ</caption>
              <thead>
                <tr>
                  <th scope="col">Param</th>
                  <th scope="col">a</th>
                  <th scope="col">b</th>
                </tr>
              </thead>
              <tbody>
                {[...p.changed, ...p.only_a, ...p.only_b].map((row) => (
                  <tr key={row.name} data-param={row.name}>
                    <th scope="row" class="mono">
                      {row.name}
                    </th>
                    <td class="mono">{shown(row.a)}</td>
                    <td class="mono">{shown(row.b)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <h3>Extra config {c.config.same ? <span class="muted">(the same)</span> : null}</h3>
        {!c.config.same && (
          <pre class="log diff">
            {[...c.config.only_a.map((l) => `- ${l}`), ...c.config.only_b.map((l) => `+ ${l}`)].join('\n')}
          </pre>
        )}
      </section>

      <section class="card" aria-labelledby="compare-samples" data-testid="compare-samples">
        <h2 id="compare-samples">
          Samples{' '}
          <span class="muted">
            ({sheet.added.length} added, {sheet.removed.length} removed, {sheet.changed.length} changed,{' '}
            {sheet.same} the same{sheet.id_column ? `, by ${sheet.id_column}` : ''})
          </span>
        </h2>
        {sheet.added.length > 0 && <p>Only in b: {sheet.added.join(', ')}</p>}
        {sheet.removed.length > 0 && <p>Only in a: {sheet.removed.join(', ')}</p>}
        {sheet.changed.length > 0 && <p>Rows changed: {sheet.changed.join(', ')}</p>}
      </section>

      <section class="card" aria-labelledby="compare-processes" data-testid="compare-processes">
        <h2 id="compare-processes">Per process</h2>
        {c.processes.length === 0 ? (
          <p class="muted">Neither run has a final trace yet.</p>
        ) : (
          <div class="table-wrap">
            <table class="compare-processes">
              <caption class="visually-hidden">
                Each process: tasks run, cached and failed, and CPU-hours
              </caption>
              <thead>
                <tr>
                  <th scope="col">Process</th>
                  <th scope="col">a: run · cached · failed</th>
                  <th scope="col">b: run · cached · failed</th>
                  <th scope="col" class="num">
                    Mean run time a → b
                  </th>
                  <th scope="col" class="num">
                    CPU-h a → b
                  </th>
                </tr>
              </thead>
              <tbody>
                {c.processes.map((row) => (
                  <tr key={row.process} data-process={shortProcessName(row.process)}>
                    <th scope="row" title={row.process}>
                      {shortProcessName(row.process)}
                    </th>
                    <td>{row.a ? `${row.a.completed} · ${row.a.cached} · ${row.a.failed}` : '—'}</td>
                    <td>{row.b ? `${row.b.completed} · ${row.b.cached} · ${row.b.failed}` : '—'}</td>
                    <td class="num">
                      {formatDuration(row.a?.mean_realtime_ms ?? null)} →{' '}
                      {formatDuration(row.b?.mean_realtime_ms ?? null)}
                    </td>
                    <td class="num">
                      {(row.a?.cpu_hours ?? 0).toFixed(2)} → {(row.b?.cpu_hours ?? 0).toFixed(2)}{' '}
                      <span class={row.cpu_hours_delta > 0 ? 'delta-up' : 'delta-down'}>
                        ({row.cpu_hours_delta >= 0 ? '+' : ''}
                        {row.cpu_hours_delta.toFixed(2)})
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section class="card" aria-labelledby="compare-results" data-testid="compare-results">
        <h2 id="compare-results">
          Result files{' '}
          <span class="muted">
            ({c.results.both} in both, {c.results.only_a.length} only in a, {c.results.only_b.length} only in
            b{c.results.truncated ? '; the first 5,000 of each compared' : ''})
          </span>
        </h2>
        {c.results.only_a.length + c.results.only_b.length > 0 && (
          <pre class="log diff">
            {[...c.results.only_a.map((f) => `- ${f}`), ...c.results.only_b.map((f) => `+ ${f}`)].join('\n')}
          </pre>
        )}
      </section>
      <p class="muted small">{c.basis}</p>
    </article>
  );
}
