import { Loading } from '../components/ui';
import { CostEstimateNote } from '../detail/estimate';
import type { Draft } from './draft';
import type { PreviewState } from './preview';

/** Step 5: everything that will be submitted, as the platform will submit it. */
export function ReviewStep({
  draft,
  preview,
  update,
}: {
  draft: Draft;
  preview: PreviewState;
  update: (change: Partial<Draft>) => void;
}) {
  const latest =
    preview.state === 'done' ? preview.result : preview.state === 'checking' ? preview.last : null;
  const defaultBudget = latest?.valid ? latest.default_budget : null;
  const labelsInput = (
    <label class="field">
      Labels <span class="muted small">(optional: key=value, separated by commas, e.g. team=genomics)</span>
      <input
        type="text"
        name="labels"
        value={draft.labels}
        placeholder="team=genomics, cost-center=cc-42"
        onInput={(e) => update({ labels: e.currentTarget.value })}
      />
    </label>
  );
  const labelsField = (
    <>
      <label class="field">
        Run name <span class="muted small">(optional: how you will find it, e.g. “PBMC stim, day 3”)</span>
        <input
          type="text"
          name="run-name"
          maxLength={100}
          value={draft.name}
          onInput={(e) => update({ name: e.currentTarget.value })}
        />
      </label>
      <label class="field">
        Description <span class="muted small">(optional)</span>
        <textarea
          name="description"
          rows={2}
          maxLength={2000}
          value={draft.description}
          onInput={(e) => update({ description: e.currentTarget.value })}
        />
      </label>
      {labelsInput}
      <label class="field">
        Budget, USD{' '}
        <span class="muted small">
          (optional: the run is cancelled once its cost, counted as tasks finish, reaches it)
        </span>
        <input
          type="number"
          name="budget"
          min="0.01"
          step="0.01"
          inputMode="decimal"
          value={draft.budget ?? ''}
          placeholder={defaultBudget ? defaultBudget.usd.toFixed(2) : 'none'}
          onInput={(e) => update({ budget: e.currentTarget.value })}
        />
        {defaultBudget && !draft.budget && (
          <span class="muted small" data-testid="default-budget">
            Left empty, the run gets ${defaultBudget.usd.toFixed(2)}: {defaultBudget.from}.
          </span>
        )}
      </label>
    </>
  );
  if (preview.state === 'idle' || (preview.state === 'checking' && !preview.last))
    return <Loading what="Preparing the review…" />;
  if (preview.state === 'error') return <p class="note note-error">{preview.message}</p>;
  const result = preview.state === 'done' ? preview.result : preview.last!;
  if (!result.valid) {
    return (
      <div class="stack">
        {labelsField}
        <div class="note note-error" role="alert">
          <strong>This run cannot be launched yet: </strong>
          {result.message}{' '}
          {result.problems.some((p) => /^(labels|name|description|budget_usd)/.test(p.field ?? ''))
            ? 'Fix the fields above.'
            : 'Go back to the step the problem names.'}
        </div>
      </div>
    );
  }
  const changed = Object.entries(draft.params);
  return (
    <div class="stack review" data-testid="review">
      <dl class="stats">
        <div>
          <dt>Pipeline</dt>
          <dd>
            {result.pipeline} {result.pipeline_version}
          </dd>
        </div>
        <div>
          <dt>Samples</dt>
          <dd>{result.sample_count}</dd>
        </div>
        <div>
          <dt>NGS runs</dt>
          <dd class="mono">{draft.ngsRuns.join(', ') || '—'}</dd>
        </div>
        <div>
          <dt>Project</dt>
          <dd>{draft.sourceProject ?? '—'}</dd>
        </div>
      </dl>
      {labelsField}
      {result.warnings.map((w) => (
        <p class="note">{w}</p>
      ))}
      <CostEstimateNote estimate={result.estimate} />
      <section>
        <h3>Parameters you set</h3>
        {changed.length === 0 ? (
          <p class="muted">None: every parameter takes the pipeline's default.</p>
        ) : (
          <ul>
            {changed.map(([k, v]) => (
              <li>
                <span class="mono">{k}</span> = <span class="mono">{JSON.stringify(v)}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
      <details>
        <summary>params.yaml (all parameters, as submitted)</summary>
        <pre class="log">{result.params_yaml}</pre>
      </details>
      <details>
        <summary>samplesheet.csv</summary>
        <pre class="log">{draft.samplesheet}</pre>
      </details>
      <details open>
        <summary>nextflow.config (rendered)</summary>
        <pre class="log" data-testid="rendered-config">
          {result.nextflow_config}
        </pre>
      </details>
      <p class="muted small">{'{run_id}'} is replaced by the run's id at launch.</p>
    </div>
  );
}
