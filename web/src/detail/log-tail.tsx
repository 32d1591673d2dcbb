import { useEffect, useRef, useState } from 'preact/hooks';
import type { Run } from '../../../functions/core/runs/run-model';
import type { LogEntry, LogPage } from '../../../functions/core/runs/views';
import { api, errorText } from '../api';
import { ErrorNote } from '../components/ui';

const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
const RANK: Record<string, number> = { TRACE: 0, DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };
const KEEP = 3000;

/** The end of nextflow.log, then new entries as they are written (SSE), until the run ends. */
export function LogTail({ run }: { run: Run }) {
  const [entries, setEntries] = useState<LogEntry[]>([]);
  const [level, setLevel] = useState('INFO');
  const [state, setState] = useState<'loading' | 'live' | 'ended' | 'reconnecting'>('loading');
  const [error, setError] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    let source: EventSource | null = null;
    let cancelled = false;
    const add = (more: LogEntry[]) => setEntries((list) => [...list, ...more].slice(-KEEP));
    setEntries([]);
    setState('loading');
    api<LogPage>(`/api/runs/${run.run_id}/logs?tail=500`)
      .then((page) => {
        if (cancelled) return;
        add(page.entries);
        setError(null);
        source = new EventSource(`/api/runs/${run.run_id}/logs/stream?offset=${page.next_offset}`);
        source.addEventListener('open', () => setState('live'));
        source.addEventListener('entries', (event) =>
          add(JSON.parse((event as MessageEvent<string>).data) as LogEntry[]),
        );
        source.addEventListener('done', () => {
          source?.close();
          setState('ended');
        });
        source.addEventListener('error', () => {
          if (source?.readyState !== EventSource.CLOSED) setState('reconnecting');
        });
      })
      .catch((e: unknown) => {
        if (!cancelled) {
          setError(errorText(e));
          setState('ended');
        }
      });
    return () => {
      cancelled = true;
      source?.close();
    };
  }, [run.run_id]);

  const shown = entries.filter((e) => (RANK[e.level] ?? 1) >= (RANK[level] ?? 0));
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown.length, follow]);

  return (
    <section aria-labelledby="log-heading" class="card">
      <div class="toolbar">
        <h2 id="log-heading">
          nextflow.log{' '}
          <span class={`live-dot live-${state}`} role="status">
            {state === 'live'
              ? 'live'
              : state === 'reconnecting'
                ? 'reconnecting…'
                : state === 'loading'
                  ? 'loading…'
                  : 'complete'}
          </span>
        </h2>
        <div class="filters">
          <label>
            Level
            <select value={level} onChange={(e) => setLevel(e.currentTarget.value)}>
              {LEVELS.map((l) => (
                <option value={l}>{l === 'DEBUG' ? 'all' : `${l} and above`}</option>
              ))}
            </select>
          </label>
          <label class="inline">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} />{' '}
            Follow
          </label>
        </div>
      </div>
      {error && <ErrorNote title="Could not read nextflow.log.">{error}</ErrorNote>}
      <pre class="log log-tail" ref={box} role="log" aria-label="nextflow.log" data-testid="log-tail">
        {shown.length === 0
          ? state === 'loading'
            ? 'Loading…'
            : 'No log lines yet: Nextflow writes its log once the job starts.'
          : shown.map((e) => (
              <div class={`log-line level-${e.level.toLowerCase()}`} key={e.offset}>
                <span class="muted">{e.timestamp}</span> <span class="level">{e.level}</span> {e.message}
              </div>
            ))}
      </pre>
    </section>
  );
}
