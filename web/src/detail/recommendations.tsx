import type { Recommendations } from '../../../functions/core/runs/right-sizing';
import { formatUsd } from '../../../functions/core/shared/format';
import { enc, useApi } from '../api';
import { ErrorNote } from '../components/ui';

/** "saves $0.42 a run", or "costs $0.10 more a run" for more memory against kills. */
function savingWords(usd: number): string {
  return usd >= 0 ? `saves ${formatUsd(usd)} a run` : `costs ${formatUsd(-usd)} more a run`;
}

/**
 * Right-sizing from past runs: each recommendation with its evidence and saving, the snippet, and
 * (in the wizard) a button that adds the snippet to the run's config. Says nothing when there is
 * no recommendation and `quiet`.
 */
export function RecommendationsPanel({
  pipeline,
  version,
  onApply,
  currentConfig,
  quiet,
}: {
  pipeline: string;
  version: string | null;
  /** Adds the snippet to the config being written (the wizard); absent on a run's page. */
  onApply?: (snippet: string) => void;
  /** The config being written: the button says when the snippet is in it already. */
  currentConfig?: string;
  quiet?: boolean;
}) {
  const query = version ? `?version=${enc(version)}` : '';
  const read = useApi<Recommendations>(`/api/pipelines/${enc(pipeline)}/recommendations${query}`, [
    pipeline,
    version,
  ]);
  if (read.state === 'loading') return null;
  if (read.state === 'error')
    return <ErrorNote title="Could not read the right-sizing recommendations.">{read.message}</ErrorNote>;
  const { recommendations, config, basis } = read.value;
  if (recommendations.length === 0 && quiet) return null;
  return (
    <section class="card" aria-labelledby="right-sizing-heading" data-testid="recommendations">
      <h2 id="right-sizing-heading">Right-sizing from past runs</h2>
      {recommendations.length === 0 ? (
        <p class="muted">
          No recommendation: no process of {pipeline} asked for far more than it used, or was killed for
          memory, in the runs read ({read.value.runs_read}).
        </p>
      ) : (
        <>
          <ul class="recommendations">
            {recommendations.map((r) => (
              <li key={`${r.process}-${r.kind}`} data-process={r.selector}>
                <strong class="mono">{r.selector}</strong>: {r.kind === 'cpus' ? 'cpus' : 'memory'}{' '}
                {r.current} → <span class="mono">{r.recommended}</span> ({savingWords(r.saving_usd_per_run)}).{' '}
                {r.evidence}.
              </li>
            ))}
          </ul>
          <pre class="mono small" data-testid="recommended-config">
            {config}
          </pre>
          {onApply && (
            <button type="button" onClick={() => onApply(config)} disabled={currentConfig?.includes(config)}>
              {currentConfig?.includes(config) ? 'Added to the config' : 'Add to this run’s config'}
            </button>
          )}
        </>
      )}
      <p class="muted small">{basis}</p>
    </section>
  );
}
