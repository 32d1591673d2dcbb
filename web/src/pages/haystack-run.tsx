/** One HAYSTACK run, live: phases, the score per iteration against the threshold, prompts, results. */
import { useEffect, useState } from 'preact/hooks';
import { PHASES } from '../../../functions/core/haystack/phases';
import type { ComparisonSummary, HaystackRun } from '../../../functions/core/haystack/run-model';
import { formatTime } from '../../../functions/core/shared/format';
import { isTerminal } from '../../../functions/core/shared/run-status';
import { api, errorText } from '../api';
import { ErrorNote, Loading, StatusBadge } from '../components/ui';
import { useHaystackRun } from '../haystack/live';
import type { Session } from '../live';
import { SyntheticLabel, UnderstoodAs } from './haystack';

const words = (text: string) => text.replace(/_/g, ' ');

function PhaseStepper({ run }: { run: HaystackRun }) {
  // The comparison step is a run's only when its question compares two conditions.
  const phases = PHASES.filter((p) => p !== 'comparison' || run.understanding?.comparison);
  const current = run.current_phase
    ? phases.indexOf(run.current_phase)
    : run.status === 'completed'
      ? phases.length
      : -1;
  return (
    <ol class="steps" aria-label="Phases" data-testid="phases">
      {phases.map((phase, i) => (
        <li
          key={phase}
          class={i === current ? 'current' : i < current ? 'done' : ''}
          aria-current={i === current ? 'step' : undefined}
        >
          {words(phase)}
          {i === current && run.current_iteration > 0 && phase !== 'query_analysis'
            ? ` (${run.current_iteration}/${run.max_iterations})`
            : ''}
        </li>
      ))}
    </ol>
  );
}

/** The composite score per iteration, with the threshold as a dashed line (inline SVG). */
function ScoreChart({ run }: { run: HaystackRun }) {
  const width = 520;
  const height = 200;
  const pad = 34;
  const n = Math.max(run.max_iterations, 2);
  const x = (i: number) => pad + ((width - 2 * pad) * (i - 1)) / (n - 1);
  const y = (s: number) => height - pad - ((height - 2 * pad) * (s - 1)) / 9;
  const points = run.grounding_scores
    .map((g) => `${x(g.iteration).toFixed(1)},${y(g.composite).toFixed(1)}`)
    .join(' ');
  return (
    <svg
      role="img"
      aria-label={`Score per iteration: ${run.grounding_scores.map((g) => g.composite).join(', ') || 'none yet'}`}
      viewBox={`0 0 ${width} ${height}`}
      style={{ width: '100%', maxWidth: `${width}px`, height: 'auto' }}
      data-testid="score-chart"
    >
      {[1, 4, 7, 10].map((s) => (
        <g key={s}>
          <line x1={pad} x2={width - pad} y1={y(s)} y2={y(s)} stroke="#dde1e8" />
          <text x={8} y={y(s) + 4} font-size="11">
            {s}
          </text>
        </g>
      ))}
      <line
        x1={pad}
        x2={width - pad}
        y1={y(run.score_threshold)}
        y2={y(run.score_threshold)}
        stroke="#c0392b"
        stroke-dasharray="4 3"
      >
        <title>threshold {run.score_threshold}</title>
      </line>
      <polyline fill="none" stroke="#2f5fc4" stroke-width={3} points={points} />
      {run.grounding_scores.map((g) => (
        <circle key={g.iteration} cx={x(g.iteration)} cy={y(g.composite)} r={4} fill="#2f5fc4">
          <title>
            iteration {g.iteration}: {g.composite}
          </title>
        </circle>
      ))}
      {Array.from({ length: run.max_iterations }, (_, i) => (
        <text key={i} x={x(i + 1) - 3} y={height - 10} font-size="11">
          {i + 1}
        </text>
      ))}
    </svg>
  );
}

const list = (genes: string[]) => genes.join(', ') || 'none';

/** Two conditions compared: the second prediction's response, and the contrast of the two. */
function Comparison({ comparison: c }: { comparison: ComparisonSummary }) {
  return (
    <section class="card" aria-labelledby="comparison-heading" data-testid="comparison">
      <h2 id="comparison-heading">
        {c.perturbation} compared with {c.comparison}
      </h2>
      {c.error ? (
        <p class="note">{c.error}</p>
      ) : (
        <>
          <p class="muted small">
            Two predictions for the same query cells: {c.perturbation}
            {c.best_prompt_condition !== c.perturbation && ` (its best prompt: ${c.best_prompt_condition})`},
            and {c.comparison} prompted with {c.prompt_cells} {c.prompt?.cell_type} cells from{' '}
            {c.prompt?.dataset}. The contrast is a rank-sum test of the first against the second; it is not
            scored for grounding.
          </p>
          <p>
            <strong>Higher under {c.perturbation}:</strong> {list(c.contrast.higher_under_first)}
          </p>
          <p>
            <strong>Higher under {c.comparison}:</strong> {list(c.contrast.higher_under_second)}
          </p>
          <p>
            <strong>Hallmark sets enriched in the contrast (padj ≤ 0.05):</strong>{' '}
            {list(c.contrast.pathways.map((p) => `${p.set} (${p.padj.toExponential(1)})`))}
          </p>
          <p>
            <strong>{c.comparison} against the reference:</strong> up {list(c.response.de_up)}; down{' '}
            {list(c.response.de_down)}
          </p>
        </>
      )}
    </section>
  );
}

function Downloads({ run }: { run: HaystackRun }) {
  const [urls, setUrls] = useState<{ anndata_url: string; report_url: string; log_url: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (run.status !== 'completed') return;
    api<{ anndata_url: string; report_url: string; log_url: string }>(
      `/api/v1/runs/${run.run_id}/result`,
    ).then(setUrls, (e) => setError(errorText(e)));
  }, [run.run_id, run.status]);
  if (run.status !== 'completed') return null;
  return (
    <section class="card" aria-labelledby="downloads-heading" data-testid="downloads">
      <h2 id="downloads-heading">Results</h2>
      {error && <ErrorNote title="Could not get the downloads.">{error}</ErrorNote>}
      {urls && (
        <ul>
          <li>
            <a href={urls.report_url} target="_blank" rel="noreferrer">
              Report (HTML)
            </a>
          </li>
          <li>
            <a href={urls.anndata_url}>Predictions (h5ad)</a>
          </li>
          <li>
            <a href={urls.log_url}>Log (JSON)</a>
          </li>
        </ul>
      )}
    </section>
  );
}

export function HaystackRunPage({ session, runId }: { session: Session; runId: string }) {
  const live = useHaystackRun(session, runId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (live.state === 'loading') return <Loading what={`Loading ${runId}…`} />;
  if (live.state === 'error') return <ErrorNote title={`Could not load ${runId}.`}>{live.message}</ErrorNote>;
  const run = live.value;
  if (!run)
    return (
      <section class="empty">
        <h1>Question not found</h1>
        <p>
          There is no question <span class="mono">{runId}</span> that you can see.{' '}
          <a href="#/haystack">Back to cell prompting</a>
        </p>
      </section>
    );
  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      await api(`/api/v1/runs/${run.run_id}/cancel`, { method: 'POST', body: {} });
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <article
      class="run-detail"
      data-haystack-run={run.run_id}
      data-status={run.status}
      aria-labelledby="hs-heading"
    >
      <p>
        <a href="#/haystack">← Cell prompting</a>
      </p>
      <header class="toolbar">
        <div>
          <h1 id="hs-heading">
            <span class="mono">{run.run_id}</span> <StatusBadge status={run.status} />
          </h1>
          <p class="lead">{run.query}</p>
          <p class="muted">
            Asked {formatTime(run.created_at)} · control: {words(run.control_strategy)} requested
            {run.control_strategy_effective ? `, ${words(run.control_strategy_effective)} used` : ''} · up to{' '}
            {run.max_iterations} iterations, stop at {run.score_threshold} · model {run.model}
          </p>
        </div>
        {!isTerminal(run.status) && (
          <button type="button" class="danger" disabled={busy} onClick={cancel}>
            {busy ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
      </header>
      <SyntheticLabel />
      {error && <ErrorNote title="The run was not cancelled.">{error}</ErrorNote>}
      {run.error_message && <ErrorNote title="The run failed.">{run.error_message}</ErrorNote>}
      {run.termination_reason && (
        <p class="note" data-testid="termination">
          Ended: {words(run.termination_reason)}
          {run.final_score !== null ? `, final score ${run.final_score} of 10` : ''}.
        </p>
      )}
      {run.understanding && <UnderstoodAs understanding={run.understanding} />}
      <PhaseStepper run={run} />
      <section class="card" aria-labelledby="scores-heading">
        <h2 id="scores-heading">Grounding score per iteration</h2>
        <ScoreChart run={run} />
        <div class="table-wrap">
          <table data-testid="prompts">
            <thead>
              <tr>
                <th>#</th>
                <th>Strategy</th>
                <th>Prompt</th>
                <th>Control</th>
                <th>P</th>
                <th>T</th>
                <th>L</th>
                <th>N</th>
                <th>Score</th>
              </tr>
            </thead>
            <tbody>
              {run.grounding_scores.map((g) => (
                <tr key={g.iteration}>
                  <td>{g.iteration}</td>
                  <td>{g.strategy}</td>
                  <td>
                    {g.condition} on {g.cell_type}
                  </td>
                  <td>{words(g.control_strategy_effective)}</td>
                  <td>{g.P}</td>
                  <td>{g.T}</td>
                  <td>{g.L}</td>
                  <td>{g.N}</td>
                  <td>
                    <strong>{g.composite}</strong>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p class="muted small">
          P pathway coherence · T target activation · L literature (neutral 5: no literature source here) · N
          network coherence.
        </p>
        {run.grounding_scores.some((g) => g.warnings.length > 0) && (
          <ul class="note" data-testid="iteration-warnings">
            {run.grounding_scores.flatMap((g) =>
              g.warnings.map((w) => (
                <li key={`${g.iteration}-${w}`}>
                  Iteration {g.iteration}: {w}
                </li>
              )),
            )}
          </ul>
        )}
      </section>
      {run.best && (
        <section class="card" aria-labelledby="best-heading" data-testid="best">
          <h2 id="best-heading">Best iteration ({run.best.iteration})</h2>
          <p>
            <strong>Up:</strong> {run.best.de_up.join(', ') || 'none'}
          </p>
          <p>
            <strong>Down:</strong> {run.best.de_down.join(', ') || 'none'}
          </p>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Hallmark set</th>
                  <th>DE genes in it</th>
                  <th>padj</th>
                </tr>
              </thead>
              <tbody>
                {run.best.pathways.map((p) => (
                  <tr key={p.set}>
                    <td>{p.set}</td>
                    <td>{p.overlap}</td>
                    <td>{p.padj.toExponential(1)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {run.comparison && <Comparison comparison={run.comparison} />}
      <Downloads run={run} />
    </article>
  );
}
