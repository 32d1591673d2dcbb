import { useState } from 'preact/hooks';
import type { Run } from '../../../functions/core/runs/run-model';
import { api, enc, errorText } from '../api';

/**
 * The run's labels (key=value, Google Cloud label rules): each a link to the runs that share
 * it, removable; new ones added here. The API checks them; the page shows the change live.
 */
export function LabelsEditor({ run }: { run: Run }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const change = async (labels: Record<string, string | null>) => {
    setBusy(true);
    setError(null);
    try {
      await api(`/api/runs/${enc(run.run_id)}`, { method: 'PATCH', body: { labels } });
      setText('');
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  const entries = Object.entries(run.labels);
  return (
    <div class="labels-editor" data-testid="labels">
      <ul class="labels" aria-label="Labels">
        {entries.map(([key, value]) => (
          <li key={key}>
            <a class="tag" href={`#/runs?label=${enc(`${key}=${value}`)}`} title="Runs with this label">
              {key}={value}
            </a>
            <button
              type="button"
              class="link small"
              aria-label={`Remove label ${key}`}
              disabled={busy}
              onClick={() => change({ [key]: null })}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <form
        class="inline"
        onSubmit={(event) => {
          event.preventDefault();
          const at = text.indexOf('=');
          if (at <= 0) {
            setError('Write a label as key=value, e.g. team=genomics.');
            return;
          }
          void change({ [text.slice(0, at).trim()]: text.slice(at + 1).trim() });
        }}
      >
        <label>
          <span class="visually-hidden">New label</span>
          <input
            type="text"
            name="new-label"
            placeholder="key=value"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy || !text.trim()}>
          Add label
        </button>
      </form>
      {error && (
        <p class="note note-error small" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
