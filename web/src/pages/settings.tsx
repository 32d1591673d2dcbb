import { useEffect, useState } from 'preact/hooks';
import type { NotificationPreferences } from '../../../functions/core/notifications/preferences';
import { RunStatus } from '../../../functions/core/shared/run-status';
import { api, errorText, useApi } from '../api';
import { ErrorNote, Loading } from '../components/ui';

/** Notifications: a webhook (Slack or any HTTPS endpoint), email, and which statuses. */
export function SettingsPage() {
  const read = useApi<NotificationPreferences>('/api/me/preferences');
  const [form, setForm] = useState<NotificationPreferences | null>(null);
  const [rotate, setRotate] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (read.state === 'ready') setForm(read.value);
  }, [read.state]);

  if (read.state === 'loading' || (read.state === 'ready' && !form))
    return <Loading what="Loading your settings…" />;
  if (read.state === 'error')
    return <ErrorNote title="Could not load your settings.">{read.message}</ErrorNote>;
  const current = form!;
  const save = async () => {
    setBusy(true);
    setMessage(null);
    try {
      const stored = await api<NotificationPreferences>('/api/me/preferences', {
        method: 'PUT',
        body: {
          webhook_url: current.webhook_url?.trim() ? current.webhook_url.trim() : null,
          email: current.email,
          statuses: current.statuses,
          rotate_secret: rotate,
        },
      });
      setForm(stored);
      setRotate(false);
      setMessage({ ok: true, text: 'Saved. You will be told when your runs reach the statuses chosen.' });
    } catch (error) {
      setMessage({ ok: false, text: errorText(error) });
    } finally {
      setBusy(false);
    }
  };
  const toggle = (status: RunStatus, on: boolean) =>
    setForm({
      ...current,
      statuses: on ? [...current.statuses, status] : current.statuses.filter((s) => s !== status),
    });
  return (
    <section aria-labelledby="settings-heading" class="settings">
      <h1 id="settings-heading">Notifications</h1>
      <p class="muted">
        When one of your runs reaches a status you choose, Arc Reactor posts a short message (run, pipeline,
        status, duration, failed task, a link here) to your webhook and, if you like, emails you.
      </p>
      <form
        class="card"
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <label class="field">
          Webhook URL
          <input
            type="url"
            name="webhook_url"
            placeholder="https://hooks.slack.com/services/…"
            value={current.webhook_url ?? ''}
            onInput={(e) => setForm({ ...current, webhook_url: e.currentTarget.value })}
          />
          <span class="muted small">
            A Slack incoming webhook, or any HTTPS endpoint. Keep it secret: anyone with it can post to your
            channel. Leave empty for none.
          </span>
        </label>
        {current.webhook_secret && (
          <div class="field" data-testid="webhook-secret">
            Signing secret
            <code class="mono">{current.webhook_secret}</code>
            <span class="muted small">
              Each message carries <code>X-Arc-Signature: t=…,v1=…</code>, the HMAC-SHA256 of “t.body” with
              this secret, so your endpoint can check it came from Arc Reactor.
            </span>
            <label class="inline">
              <input type="checkbox" checked={rotate} onChange={(e) => setRotate(e.currentTarget.checked)} />
              Issue a new secret when I save
            </label>
          </div>
        )}
        <label class="inline">
          <input
            type="checkbox"
            name="email"
            checked={current.email}
            onChange={(e) => setForm({ ...current, email: e.currentTarget.checked })}
          />
          Also email me
        </label>
        <fieldset>
          <legend>Tell me when a run is</legend>
          {RunStatus.map((status) => (
            <label class="inline" key={status}>
              <input
                type="checkbox"
                name={`status-${status}`}
                checked={current.statuses.includes(status)}
                onChange={(e) => toggle(status, e.currentTarget.checked)}
              />
              {status}
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary" disabled={busy}>
          Save
        </button>
        {message && (
          <p class={message.ok ? 'note' : 'note note-error'} role={message.ok ? 'status' : 'alert'}>
            {message.text}
          </p>
        )}
      </form>
    </section>
  );
}
