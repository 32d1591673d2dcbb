import { useEffect, useState } from 'preact/hooks';
import type { NgsSample } from '../../../functions/core/benchling/sample-warehouse';
import { api, enc, errorText } from '../api';
import { ErrorNote, Loading } from '../components/ui';
import type { Draft } from './draft';

type Sample = NgsSample;

/** Step 2: the samples of the chosen NGS runs (all selected to begin with). */
export function SamplesStep({ draft, update }: { draft: Draft; update: (change: Partial<Draft>) => void }) {
  const [samples, setSamples] = useState<Record<string, Sample[]>>({});
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState('');

  useEffect(() => {
    let cancelled = false;
    setError(null);
    Promise.all(
      draft.ngsRuns.map(
        async (name) =>
          [
            name,
            (await api<{ samples: Sample[] }>(`/api/benchling/runs/${enc(name)}/samples`)).samples,
          ] as const,
      ),
    )
      .then((entries) => {
        if (cancelled) return;
        const loaded = Object.fromEntries(entries);
        setSamples(loaded);
        const selected = { ...draft.samples };
        let changed = false;
        for (const [name, list] of entries) {
          if (!selected[name]) {
            selected[name] = list.map((s) => s.id);
            changed = true;
          }
        }
        if (changed) update({ samples: selected });
      })
      .catch((e: unknown) => {
        if (!cancelled) setError(errorText(e));
      });
    return () => {
      cancelled = true;
    };
  }, [draft.ngsRuns.join('\n')]);

  const setRun = (name: string, ids: string[]) =>
    update({ samples: { ...draft.samples, [name]: ids }, samplesheetEdited: false, samplesheet: '' });
  const total = Object.values(draft.samples).reduce((n, ids) => n + ids.length, 0);
  const needle = filter.trim().toLowerCase();

  if (error) return <ErrorNote title="Could not load the samples.">{error}</ErrorNote>;
  if (draft.ngsRuns.some((name) => !samples[name])) return <Loading what="Loading samples from Benchling…" />;
  return (
    <div class="stack">
      <p aria-live="polite">
        {total} sample{total === 1 ? '' : 's'} selected from {draft.ngsRuns.length} NGS run
        {draft.ngsRuns.length === 1 ? '' : 's'}.
      </p>
      <label>
        Filter samples
        <input
          type="search"
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
          placeholder="Sample name"
        />
      </label>
      {draft.ngsRuns.map((name) => {
        const list = samples[name] ?? [];
        const chosen = new Set(draft.samples[name] ?? []);
        const shown = list.filter((s) => !needle || s.name.toLowerCase().includes(needle));
        return (
          <fieldset class="card">
            <legend class="mono">{name}</legend>
            <div class="buttons">
              <button
                type="button"
                class="small"
                onClick={() =>
                  setRun(
                    name,
                    list.map((s) => s.id),
                  )
                }
              >
                Select all
              </button>
              <button type="button" class="small" onClick={() => setRun(name, [])}>
                Select none
              </button>
            </div>
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Select</th>
                    <th scope="col">Sample</th>
                    <th scope="col">Type</th>
                    <th scope="col">Expected cells</th>
                    <th scope="col">FASTQ R1</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((s) => (
                    <tr data-sample={s.name}>
                      <td>
                        <input
                          type="checkbox"
                          id={`sample-${s.id}`}
                          checked={chosen.has(s.id)}
                          onChange={(e) =>
                            setRun(
                              name,
                              e.currentTarget.checked
                                ? [...chosen, s.id]
                                : [...chosen].filter((id) => id !== s.id),
                            )
                          }
                        />
                      </td>
                      <td>
                        <label for={`sample-${s.id}`}>{s.name}</label>
                      </td>
                      <td>{s.sample_type ?? '—'}</td>
                      <td>{s.expected_cells ?? '—'}</td>
                      <td class="mono small">{s.fastq_1 ?? 'missing'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </fieldset>
        );
      })}
    </div>
  );
}
