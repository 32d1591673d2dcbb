import { useEffect, useRef, useState } from 'preact/hooks';
import { SPOT_PREEMPTION_EXIT_CODE } from '../../../functions/core/nextflow/exit-codes';
import { shortProcessName } from '../../../functions/core/nextflow/process-names';
import { liveProgress } from '../../../functions/core/runs/progress';
import type { Run } from '../../../functions/core/runs/run-model';
import type { TaskView } from '../../../functions/core/runs/run-tasks';
import type { TaskLogsView, TaskPageView } from '../../../functions/core/runs/views';
import { formatBytes, formatDuration } from '../../../functions/core/shared/format';
import { api, enc, errorText, useApi } from '../api';
import { ErrorNote, Loading } from '../components/ui';

type TaskRow = TaskView;
type TaskPage = TaskPageView;
type TaskLogs = TaskLogsView;

const TASK_STATUSES = ['COMPLETED', 'CACHED', 'FAILED', 'ABORTED', 'RUNNING', 'SUBMITTED'];
const SORTS: Record<string, string> = {
  task_id: 'Task',
  duration: 'Duration',
  realtime: 'Run time',
  peak_rss: 'Peak memory',
  cpus: 'CPUs',
  exit: 'Exit',
};
const PAGE_SIZE = 100;

function TaskLogView({
  runId,
  task,
  reveal,
  onClose,
  onBack,
}: {
  runId: string;
  task: TaskRow;
  /** Opened by a click: the panel is brought into view (not when it opens by itself, on load). */
  reveal: boolean;
  onClose: () => void;
  /** Back to the task's row in the table. */
  onBack: () => void;
}) {
  const live = useApi<TaskLogs>(`/api/runs/${enc(runId)}/tasks/${task.task_id}/logs`);
  const logs = live.state === 'ready' ? live.value : null;
  const error = live.state === 'error' ? live.message : null;
  const panel = useRef<HTMLElement>(null);
  useEffect(() => {
    if (!reveal) return;
    panel.current?.scrollIntoView({ block: 'start' });
    panel.current?.focus({ preventScroll: true });
  }, [reveal, task.task_id]);
  return (
    <section
      ref={panel}
      tabIndex={-1}
      class="task-logs card"
      aria-label={`Logs of task ${task.task_id}`}
      data-testid="task-logs"
    >
      <div class="toolbar">
        <h3>
          {task.name ?? `Task ${task.task_id}`} <span class="muted">exit {task.exit ?? '—'}</span>
          {task.reason && <div class="small muted">Ran again: {task.reason}</div>}
        </h3>
        <div class="buttons">
          <button type="button" class="small" onClick={onBack}>
            ↑ Back to task {task.task_id}
          </button>
          <button type="button" onClick={onClose}>
            Close logs
          </button>
        </div>
      </div>
      {!logs && !error && <Loading what="Loading the task's stdout and stderr…" />}
      {error && <ErrorNote title="Could not load the task's logs.">{error}</ErrorNote>}
      {logs && (
        <div class="two-col">
          <div>
            <h4>stderr</h4>
            <pre class="log">{logs.stderr.trim() || '(empty)'}</pre>
          </div>
          <div>
            <h4>stdout</h4>
            <pre class="log">{logs.stdout.trim() || '(empty)'}</pre>
          </div>
          {logs.truncated && <p class="muted">Only the end of each stream is shown (256 KB).</p>}
        </div>
      )}
    </section>
  );
}

export function TasksTable({ run, focusTask }: { run: Run; focusTask: string | null }) {
  const [status, setStatus] = useState('');
  const [process, setProcess] = useState('');
  const [sort, setSort] = useState('task_id');
  const [order, setOrder] = useState<'asc' | 'desc'>('asc');
  const [page, setPage] = useState(1);
  const [data, setData] = useState<TaskPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<TaskRow | null>(null);
  /** True when the user opened the logs (the panel is scrolled to); false when they opened on load. */
  const [revealed, setRevealed] = useState(false);
  const live = liveProgress(run);
  const processes = Object.keys(live.processes).map(shortProcessName).sort();
  // The table reloads when the run's counters move (a chunk of the trace arrived) or it ends.
  const version = `${run.status}:${run.orchestrator_attempt}:${live.completed}:${live.failed}:${live.cached}:${live.submitted}:${run.metrics?.trace_generation ?? ''}`;

  useEffect(() => {
    const controller = new AbortController();
    const query = new URLSearchParams({ sort, order, page: String(page), page_size: String(PAGE_SIZE) });
    if (status) query.set('status', status);
    if (process) query.set('process', process);
    const timer = setTimeout(() => {
      api<TaskPage>(`/api/runs/${run.run_id}/tasks?${query}`, { signal: controller.signal })
        .then((body) => {
          setData(body);
          setError(null);
        })
        .catch((e: unknown) => {
          if (!controller.signal.aborted) setError(errorText(e));
        });
    }, 250);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [run.run_id, status, process, sort, order, page, version]);

  // A failed run opens its failed task's logs (the last failed attempt of the task that failed it).
  useEffect(() => {
    if (!focusTask) return;
    api<TaskPage>(`/api/runs/${run.run_id}/tasks?status=FAILED&sort=task_id&order=desc&page_size=100`)
      .then((failed) => {
        const match =
          failed.tasks.find((t) => t.name === focusTask || t.process === focusTask) ?? failed.tasks[0];
        if (match) setOpen((current) => current ?? match);
      })
      .catch(() => {});
  }, [run.run_id, focusTask, version]);

  const sortBy = (field: string) => {
    if (field === sort) setOrder(order === 'asc' ? 'desc' : 'asc');
    else {
      setSort(field);
      setOrder(field === 'task_id' ? 'asc' : 'desc');
    }
    setPage(1);
  };
  const ariaSort = (field: string) =>
    field === sort ? (order === 'asc' ? 'ascending' : 'descending') : undefined;
  const header = (field: string, label: string) => (
    <th scope="col" aria-sort={ariaSort(field)}>
      <button type="button" class="sort" onClick={() => sortBy(field)}>
        {label}
        {field === sort ? (order === 'asc' ? ' ▲' : ' ▼') : ''}
      </button>
    </th>
  );
  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;

  return (
    <section aria-labelledby="tasks-heading" class="card">
      <div class="toolbar">
        <h2 id="tasks-heading">Tasks {data && <span class="muted">({data.total})</span>}</h2>
        <div class="filters">
          <label>
            Status
            <select
              value={status}
              onChange={(e) => {
                setStatus(e.currentTarget.value);
                setPage(1);
              }}
            >
              <option value="">Any</option>
              {TASK_STATUSES.map((s) => (
                <option value={s}>{s.toLowerCase()}</option>
              ))}
            </select>
          </label>
          <label>
            Process
            <select
              value={process}
              onChange={(e) => {
                setProcess(e.currentTarget.value);
                setPage(1);
              }}
            >
              <option value="">Any</option>
              {processes.map((p) => (
                <option value={p}>{p}</option>
              ))}
            </select>
          </label>
        </div>
      </div>
      {error && <ErrorNote title="Could not load tasks.">{error}</ErrorNote>}
      {!data && !error && <Loading what="Loading tasks…" />}
      {data && data.tasks.length === 0 && (
        <p class="muted">
          {status || process ? 'No task matches these filters.' : 'No task has started yet.'}
        </p>
      )}
      {data && data.tasks.length > 0 && (
        <div class="table-wrap">
          <table class="tasks">
            <caption class="visually-hidden">Tasks of {run.run_id}; select a task to read its logs</caption>
            <thead>
              <tr>
                {header('task_id', SORTS.task_id!)}
                <th scope="col">Process</th>
                <th scope="col">Status</th>
                {header('exit', SORTS.exit!)}
                {header('duration', SORTS.duration!)}
                {header('realtime', SORTS.realtime!)}
                {header('cpus', SORTS.cpus!)}
                {header('peak_rss', SORTS.peak_rss!)}
                <th scope="col">Logs</th>
              </tr>
            </thead>
            <tbody>
              {data.tasks.map((task) => (
                <tr
                  key={task.task_id}
                  id={`task-row-${task.task_id}`}
                  class={`${task.status === 'FAILED' ? 'row-failed' : ''}${open?.task_id === task.task_id ? ' row-open' : ''}`}
                  data-task-status={task.status}
                >
                  <td>{task.task_id}</td>
                  <td>
                    {task.process ? shortProcessName(task.process) : '—'}
                    {task.tag && <span class="muted"> ({task.tag})</span>}
                  </td>
                  <td>
                    <span class={`task-status task-${(task.status ?? 'unknown').toLowerCase()}`}>
                      {task.status ?? '—'}
                    </span>
                    {(task.attempt ?? 1) > 1 && <span class="muted small"> attempt {task.attempt}</span>}
                    {task.reason && (
                      <div class="small muted rerun-reason" data-testid="rerun-reason">
                        ran again: {task.reason}
                      </div>
                    )}
                  </td>
                  <td>
                    {task.exit ?? '—'}
                    {task.exit === SPOT_PREEMPTION_EXIT_CODE && (
                      <span class="tag" title="Spot took the VM back; Nextflow ran the task again">
                        preempted
                      </span>
                    )}
                  </td>
                  <td>{formatDuration(task.duration)}</td>
                  <td>{formatDuration(task.realtime)}</td>
                  <td>{task.cpus ?? '—'}</td>
                  <td>{formatBytes(task.peak_rss)}</td>
                  <td>
                    <button
                      type="button"
                      class="small"
                      onClick={() => {
                        setOpen(task);
                        setRevealed(true);
                      }}
                      aria-label={`Logs of task ${task.task_id}`}
                      aria-expanded={open?.task_id === task.task_id}
                      aria-controls="task-logs-panel"
                    >
                      Logs
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && pages > 1 && (
        <nav class="pager" aria-label="Task pages">
          <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            ← Previous
          </button>
          <span>
            Page {page} of {pages}
          </span>
          <button type="button" disabled={page >= pages} onClick={() => setPage(page + 1)}>
            Next →
          </button>
        </nav>
      )}
      {open && (
        <div id="task-logs-panel">
          <TaskLogView
            runId={run.run_id}
            task={open}
            reveal={revealed}
            onClose={() => setOpen(null)}
            onBack={() =>
              document.getElementById(`task-row-${open.task_id}`)?.scrollIntoView({ block: 'center' })
            }
          />
        </div>
      )}
      <p class="muted small">
        Source: {data?.source === 'final' ? 'the final trace' : 'live trace chunks'} ·{' '}
        <a href={`/api/runs/${enc(run.run_id)}/tasks?page_size=500`}>JSON</a>
      </p>
    </section>
  );
}
