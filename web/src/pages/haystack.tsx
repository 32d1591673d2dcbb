/**
 * Cell prompting (HAYSTACK): ask a question, see whether a synthetic control is possible as you
 * type, launch, and follow your runs live.
 */
import { useEffect, useState } from 'preact/hooks';
import type { HaystackRun, Understanding } from '../../../functions/core/haystack/run-model';
import type { ControlCheckView } from '../../../functions/core/haystack/run-service';
import { formatTime } from '../../../functions/core/shared/format';
import { ApiError, api, errorText } from '../api';
import { ErrorNote, Loading, StatusBadge } from '../components/ui';
import { useHaystackRuns } from '../haystack/live';
import type { Session } from '../live';
import { navigate } from '../router';

type ControlCheck = ControlCheckView;

const DATASETS = [
  ['', 'Any (from the question)'],
  ['parse_pbmc', 'Parse PBMC cytokines'],
  ['openproblems', 'OpenProblems compounds'],
] as const;

export function SyntheticLabel() {
  return (
    <p class="note small" data-testid="synthetic-label">
      <strong>Synthetic data, stand-in model.</strong> Cells are generated from a seed with the real datasets’
      names; predictions come from a mean-shift stand-in for STACK, not STACK itself.
    </p>
  );
}

/** How the question was read, and what it names that the run will not use (never dropped silently). */
export function UnderstoodAs({ understanding }: { understanding: Understanding }) {
  return (
    <div data-testid="understood-as">
      <p>
        <strong>Understood as:</strong> {understanding.understood_as}
        {understanding.comparison && ' — two predictions and their contrast'}.{' '}
        <span class="muted small">
          Read by the {understanding.interpreter === 'rules' ? 'rule-based interpreter' : 'Claude'}.
        </span>
      </p>
      {understanding.not_used.length > 0 && (
        <p class="note" data-testid="not-used">
          <strong>Not used:</strong>{' '}
          {understanding.not_used.map((n, i) => (
            <span key={n.term}>
              {i > 0 && '; '}
              <strong>{n.term}</strong> ({n.reason})
            </span>
          ))}
          . Ask again to include {understanding.not_used.length === 1 ? 'it' : 'them'}.
        </p>
      )}
    </div>
  );
}

function NewQuestion() {
  const [query, setQuery] = useState('');
  const [dataset, setDataset] = useState('');
  const [strategy, setStrategy] = useState<'synthetic_control' | 'query_as_control'>('synthetic_control');
  const [iterations, setIterations] = useState(5);
  const [threshold, setThreshold] = useState(7);
  const [check, setCheck] = useState<ControlCheck | null>(null);
  const [checkError, setCheckError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // The control-strategy check follows the question as it is typed (half a second after the last key).
  useEffect(() => {
    setCheck(null);
    setCheckError(null);
    if (query.trim().length < 10) return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api<ControlCheck>('/api/v1/runs/validate-control-strategy', {
        method: 'POST',
        body: { query, ...(dataset ? { dataset } : {}) },
        signal: controller.signal,
      }).then(setCheck, (e) => {
        if (!controller.signal.aborted) setCheckError(errorText(e));
      });
    }, 500);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [query, dataset]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const run = await api<HaystackRun>('/api/v1/runs', {
        method: 'POST',
        body: {
          query,
          control_strategy: strategy,
          max_iterations: iterations,
          score_threshold: threshold,
          ...(dataset ? { dataset } : {}),
        },
      });
      navigate(`#/haystack/${run.run_id}`);
    } catch (e) {
      const problems = e instanceof ApiError ? e.problems.map((p) => p.message) : [];
      setError([errorText(e), ...problems.slice(0, 3)].join(' '));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="ask-heading">
      <h2 id="ask-heading">Ask a question</h2>
      <label>
        Question
        <textarea
          rows={2}
          maxLength={2000}
          value={query}
          placeholder="How would lung fibroblasts respond to interferon gamma?"
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
      </label>
      <div class="grid">
        <label>
          Prompt cells from
          <select value={dataset} onChange={(e) => setDataset(e.currentTarget.value)}>
            {DATASETS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Control
          <select value={strategy} onChange={(e) => setStrategy(e.currentTarget.value as typeof strategy)}>
            <option value="synthetic_control">Synthetic control (matched controls)</option>
            <option value="query_as_control">The query cells</option>
          </select>
        </label>
        <label>
          Iterations at most
          <input
            type="number"
            min={1}
            max={10}
            value={iterations}
            onInput={(e) => setIterations(Number(e.currentTarget.value))}
          />
        </label>
        <label>
          Stop at score
          <input
            type="number"
            min={1}
            max={10}
            value={threshold}
            onInput={(e) => setThreshold(Number(e.currentTarget.value))}
          />
        </label>
      </div>
      <div role="status" data-testid="control-check">
        {check && <UnderstoodAs understanding={check} />}
        {check && (
          <p class={check.recommendation === 'synthetic_control' ? 'hint' : 'note'}>
            {check.control_cells_found} matched control cells ({check.conditions.join(', ') || 'none'}; donors{' '}
            {check.donors.join(', ') || 'none'}):{' '}
            {check.recommendation === 'synthetic_control'
              ? 'a synthetic control is possible.'
              : 'the query cells will be the reference.'}
            {check.warning && ` ${check.warning}`}
          </p>
        )}
        {checkError && <p class="field-error">{checkError}</p>}
      </div>
      {error && <ErrorNote title="The question was not sent.">{error}</ErrorNote>}
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy || query.trim().length < 10}>
          {busy ? 'Sending…' : 'Ask'}
        </button>
      </div>
    </form>
  );
}

export function HaystackPage({ session }: { session: Session }) {
  const runs = useHaystackRuns(session);
  return (
    <section aria-labelledby="haystack-heading">
      <h1 id="haystack-heading">Cell prompting</h1>
      <SyntheticLabel />
      <NewQuestion />
      <section class="card" aria-labelledby="questions-heading">
        <h2 id="questions-heading">Your questions</h2>
        {runs.state === 'loading' && <Loading what="Loading your questions…" />}
        {runs.state === 'error' && (
          <ErrorNote title="Could not load your questions.">{runs.message}</ErrorNote>
        )}
        {runs.state === 'ready' && runs.value.length === 0 && <p class="muted">No questions yet.</p>}
        {runs.state === 'ready' && runs.value.length > 0 && (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Question</th>
                  <th>Status</th>
                  <th>Score</th>
                  <th>Asked</th>
                </tr>
              </thead>
              <tbody>
                {runs.value.map((run) => (
                  <tr key={run.run_id} data-haystack-run={run.run_id}>
                    <td>
                      <a href={`#/haystack/${run.run_id}`}>{run.query}</a>
                    </td>
                    <td>
                      <StatusBadge status={run.status} />
                    </td>
                    <td>{run.final_score ?? run.grounding_scores.at(-1)?.composite ?? '—'}</td>
                    <td>{formatTime(run.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </section>
  );
}
