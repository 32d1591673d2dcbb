import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';
import type { RunStatus } from '../../../functions/core/shared/run-status';

const STATUS_LABEL: Record<RunStatus, string> = {
  pending: 'Pending',
  submitted: 'Submitted',
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** The run's status; a pending run waiting for Batch capacity reads "Queued", with the reason on hover. */
export function StatusBadge({ status, queue }: { status: RunStatus; queue?: { reason: string } | null }) {
  if (status === 'pending' && queue)
    return (
      <span class="badge badge-pending" data-status={status} data-queued="true" title={queue.reason}>
        Queued
      </span>
    );
  return (
    <span class={`badge badge-${status}`} data-status={status}>
      {STATUS_LABEL[status] ?? status}
    </span>
  );
}

export interface Segments {
  completed: number;
  cached: number;
  failed: number;
  running: number;
}

/** A stacked bar: completed, cached, failed and running out of the tasks known so far. */
export function ProgressBar({
  segments,
  total,
  label,
}: {
  segments: Segments;
  total: number;
  label: string;
}) {
  const done = segments.completed + segments.cached;
  const of = Math.max(total, done + segments.failed + segments.running, 1);
  const part = (n: number) => `${(100 * n) / of}%`;
  const text = `${done} of ${total} done${segments.cached ? ` (${segments.cached} cached)` : ''}${segments.failed ? `, ${segments.failed} failed` : ''}${segments.running ? `, ${segments.running} running` : ''}`;
  return (
    <div
      class="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={of}
      aria-valuenow={done}
      aria-valuetext={text}
      title={text}
    >
      <span class="seg seg-completed" style={{ width: part(segments.completed) }} />
      <span class="seg seg-cached" style={{ width: part(segments.cached) }} />
      <span class="seg seg-failed" style={{ width: part(segments.failed) }} />
      <span class="seg seg-running" style={{ width: part(segments.running) }} />
    </div>
  );
}

export function ErrorNote({ children, title }: { children: ComponentChildren; title?: string }) {
  return (
    <div class="note note-error" role="alert">
      {title && <strong>{title} </strong>}
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {what}
    </p>
  );
}

/** A modal dialog on the native <dialog>: focus moves in, Escape closes, focus returns. */
export function Dialog({
  open,
  title,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  // A close the page asked for (open turned false) is not the user closing it: no onClose,
  // which would also close a dialog opened in its place.
  const closing = useRef(false);
  const id = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) {
      closing.current = true;
      dialog.close();
    }
  }, [open]);
  const closed = () => {
    if (closing.current) {
      closing.current = false;
      return;
    }
    onClose();
  };
  return (
    <dialog ref={ref} aria-labelledby={id} onClose={closed} onCancel={onClose}>
      <h2 id={id}>{title}</h2>
      {open && children}
    </dialog>
  );
}

/** A labelled select of a filter form: an "any" choice first, then the options. */
export function SelectFilter({
  label,
  value,
  any,
  options,
  onChange,
}: {
  label: string;
  value: string;
  any: string;
  options: readonly string[];
  onChange: (value: string) => void;
}) {
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{any}</option>
        {options.map((option) => (
          <option value={option}>{option}</option>
        ))}
      </select>
    </label>
  );
}

/**
 * A filter form: its filters, then a search box and its button. Submitting (the button, or
 * Enter in the box) calls `onSubmit`; the page is not reloaded. `after` follows the button.
 */
export function FilterForm({
  label,
  search,
  onSubmit,
  children,
  after,
}: {
  label: string;
  search: { value: string; placeholder: string; onInput: (value: string) => void };
  onSubmit: () => void;
  children: ComponentChildren;
  after?: ComponentChildren;
}) {
  return (
    <form
      class="filters"
      aria-label={label}
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit();
      }}
    >
      {children}
      <label class="grow">
        Search
        <input
          type="search"
          value={search.value}
          placeholder={search.placeholder}
          onInput={(e) => search.onInput(e.currentTarget.value)}
        />
      </label>
      <button type="submit">Search</button>
      {after}
    </form>
  );
}

/** A run's labels as chips; each one lists the runs with that label. */
export function LabelChips({ labels }: { labels: Record<string, string> }) {
  const entries = Object.entries(labels);
  if (entries.length === 0) return null;
  return (
    <ul class="labels" aria-label="Labels">
      {entries.map(([key, value]) => (
        <li key={key}>
          <a
            class="tag"
            href={`#/runs?label=${encodeURIComponent(`${key}=${value}`)}`}
            title="Runs with this label"
          >
            {key}={value}
          </a>
        </li>
      ))}
    </ul>
  );
}
