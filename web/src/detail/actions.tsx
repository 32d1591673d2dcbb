import { useEffect, useState } from 'preact/hooks';
import type { PreviewTask, ResumePreview } from '../../../functions/core/runs/resume-preview';
import type { Run } from '../../../functions/core/runs/run-model';
import { formatUsd, plural } from '../../../functions/core/shared/format';
import { isTerminal } from '../../../functions/core/shared/run-status';
import { ApiError, api, enc, errorText } from '../api';
import { Dialog, ErrorNote } from '../components/ui';
import { navigate } from '../router';
import { emptyDraft, saveDraft } from '../wizard/draft';

function parseOverrides(text: string): Record<string, unknown> | string {
  if (!text.trim()) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value))
      return 'Write the overrides as a JSON object, e.g. {"aligner": "star"}; null sets a param back to its default.';
    return value as Record<string, unknown>;
  } catch (error) {
    return `The overrides are not valid JSON: ${(error as Error).message}.`;
  }
}

/** What the assistant proposed for a recovery: the Recover dialog opens with it filled in. */
export interface RecoveryPrefill {
  notes: string;
  reuse_work_dir: boolean;
  override_params: Record<string, unknown>;
  config_content: string | null;
  /** Recover only these samples (the Samples panel's failed ones). */
  samples?: string[];
}

function RecoverForm({
  run,
  onDone,
  initial,
}: {
  run: Run;
  onDone: () => void;
  initial: RecoveryPrefill | null;
}) {
  const [notes, setNotes] = useState(initial?.notes ?? '');
  const [reuse, setReuse] = useState(initial?.reuse_work_dir ?? true);
  const [overrides, setOverrides] = useState(
    initial && Object.keys(initial.override_params).length > 0
      ? JSON.stringify(initial.override_params, null, 2)
      : '',
  );
  // The recovery's extra config replaces the run's: it starts as the run's, to edit.
  const [config, setConfig] = useState(initial?.config_content ?? run.config_content);
  const chosen = initial?.samples ?? [];
  const [onlyChosen, setOnlyChosen] = useState(chosen.length > 0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const parsed = parseOverrides(overrides);

  const [preview, setPreview] = useState<ResumePreview | null>(null);
  const requestBody = (overridesValue: Record<string, unknown>) => {
    const body: Record<string, unknown> = { reuse_work_dir: reuse };
    if (notes.trim()) body.notes = notes.trim();
    if (Object.keys(overridesValue).length > 0) body.override_params = overridesValue;
    if (config !== run.config_content) body.override_config = config;
    if (onlyChosen && chosen.length > 0) body.samples = chosen;
    return body;
  };
  // A preview is of the form as it was: any change makes it stale.
  useEffect(() => setPreview(null), [reuse, overrides, config, onlyChosen]);

  const showPreview = async () => {
    if (typeof parsed === 'string') return;
    setBusy(true);
    setError(null);
    try {
      setPreview(
        await api<ResumePreview>(`/api/runs/${run.run_id}/recover?dry_run=true`, {
          method: 'POST',
          body: requestBody(parsed),
        }),
      );
    } catch (e) {
      const problems = e instanceof ApiError ? e.problems.map((p) => p.message) : [];
      setError([errorText(e), ...problems.slice(0, 5)].join(' '));
    } finally {
      setBusy(false);
    }
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    if (typeof parsed === 'string') return;
    setBusy(true);
    setError(null);
    try {
      const body = requestBody(parsed);
      const recovery = await api<Run>(`/api/runs/${run.run_id}/recover`, { method: 'POST', body });
      onDone();
      navigate(`#/runs/${recovery.run_id}`);
    } catch (e) {
      const problems = e instanceof ApiError ? e.problems.map((p) => p.message) : [];
      setError([errorText(e), ...problems.slice(0, 5)].join(' '));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} class="stack">
      <p>
        A new run resumes this one with Nextflow's <code>-resume</code>: tasks that already succeeded are
        taken from the cache, the rest run again.
      </p>
      {chosen.length > 0 && (
        <label class="inline" data-testid="recover-samples">
          <input
            type="checkbox"
            checked={onlyChosen}
            onChange={(e) => setOnlyChosen(e.currentTarget.checked)}
          />{' '}
          <span>
            Only {chosen.length === 1 ? 'sample' : 'samples'} <span class="mono">{chosen.join(', ')}</span>:
            the recovery's samplesheet keeps only {chosen.length === 1 ? 'its rows' : 'their rows'}; resumed,
            what they finished before comes back cached
          </span>
        </label>
      )}
      <label>
        Notes <span class="muted">(why you are recovering; kept on the new run)</span>
        <textarea value={notes} rows={2} maxLength={2000} onInput={(e) => setNotes(e.currentTarget.value)} />
      </label>
      <label class="inline">
        <input type="checkbox" checked={reuse} onChange={(e) => setReuse(e.currentTarget.checked)} /> Reuse
        the work directory (resume; untick to start from scratch)
      </label>
      <label>
        Param overrides <span class="muted">(JSON; null resets a param to its default)</span>
        <textarea
          class="mono"
          rows={3}
          value={overrides}
          placeholder='{"expected_cells": 5000}'
          aria-invalid={typeof parsed === 'string'}
          aria-describedby="overrides-error"
          onInput={(e) => setOverrides(e.currentTarget.value)}
        />
      </label>
      {typeof parsed === 'string' && (
        <p id="overrides-error" class="field-error">
          {parsed}
        </p>
      )}
      <label>
        Extra Nextflow config{' '}
        <span class="muted">
          (this run's, to edit: what you leave here replaces it for the recovery, e.g. more memory)
        </span>
        <textarea
          class="mono"
          rows={3}
          value={config}
          placeholder="process { withName: 'STAR_ALIGN' { memory = 64.GB } }"
          onInput={(e) => setConfig(e.currentTarget.value)}
        />
      </label>
      {error && <ErrorNote title="The run was not recovered.">{error}</ErrorNote>}
      {preview && <PreviewSummary preview={preview} />}
      <div class="buttons">
        <button type="button" onClick={onDone}>
          Back
        </button>
        <button type="button" onClick={showPreview} disabled={busy || typeof parsed === 'string'}>
          Preview what runs
        </button>
        <button type="submit" class="primary" disabled={busy || typeof parsed === 'string'}>
          {busy ? 'Launching…' : 'Launch recovery'}
        </button>
      </div>
    </form>
  );
}

const OUTCOME_TEXT: Record<PreviewTask['outcome'], string> = {
  reused: 'reused (cached)',
  runs_again: 'runs again',
  may_run_again: 'may run again',
  left_out: 'left out',
};

/** What the recovery is expected to reuse and run again (a dry run), and what that costs. */
function PreviewSummary({ preview }: { preview: ResumePreview }) {
  const t = preview.totals;
  const e = preview.estimate;
  const shown = preview.tasks.filter((task) => task.outcome !== 'reused');
  return (
    <section class="note resume-preview" data-testid="resume-preview" aria-label="What the recovery will run">
      <p>
        <strong>
          {t.reused} reused · {t.runs_again} run again · {t.may_run_again} may run again
          {t.left_out > 0 ? ` · ${t.left_out} left out` : ''}
        </strong>{' '}
        of the {plural(t.reused + t.runs_again + t.may_run_again + t.left_out, 'task')} {preview.run_id} ran.
      </p>
      <p data-testid="resume-estimate">
        What runs again: about {e.cpu_hours.toFixed(2)} CPU-hours, {formatUsd(e.cost_usd)}
        {t.may_run_again > 0
          ? `; up to ${e.cpu_hours_if_all_may_run.toFixed(2)} CPU-hours, ${formatUsd(e.cost_usd_if_all_may_run)} if every task that may run again does`
          : ''}
        . <span class="muted small">{e.basis}</span>
      </p>
      {shown.length > 0 && (
        <details>
          <summary>The tasks that run or may run again, and why</summary>
          <ul class="small">
            {shown.slice(0, 200).map((task) => (
              <li key={task.name} data-outcome={task.outcome}>
                <span class="mono">{task.name}</span> — {OUTCOME_TEXT[task.outcome]}: {task.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
      <p class="muted small">{preview.caveat}</p>
    </section>
  );
}

/**
 * "Relaunch with changes": the wizard, prefilled with the run's pipeline, samplesheet (as it
 * was submitted), params, config, labels and NGS runs, opened at its Parameters step.
 */
async function relaunch(run: Run, email: string): Promise<void> {
  const sheet = await api<{ samplesheet_csv: string }>(`/api/runs/${enc(run.run_id)}/samplesheet`);
  // The platform sets these two for every run; a new run gets its own.
  const { input: _input, outdir: _outdir, ...params } = run.params;
  saveDraft(email, {
    ...emptyDraft(),
    step: 3,
    pipeline: run.pipeline,
    version: run.pipeline_version,
    samplesheet: sheet.samplesheet_csv,
    samplesheetEdited: true,
    ngsRuns: run.source_ngs_runs,
    sourceProject: run.source_project,
    params,
    config: run.config_content,
    name: run.name ?? '',
    description: run.description ?? '',
    labels: Object.entries(run.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(', '),
  });
  navigate('#/new');
}

export function RunActions({
  run,
  prefill = null,
  recoveredBy = [],
  email,
}: {
  run: Run;
  prefill?: RecoveryPrefill | null;
  /** Runs that already recover this one: Recover asks first. */
  recoveredBy?: Run[];
  email: string;
}) {
  const [dialog, setDialog] = useState<'cancel' | 'recover' | 'recover-again' | null>(null);
  // A new proposal applied from the assistant opens the Recover dialog with it.
  useEffect(() => {
    if (prefill) setDialog('recover');
  }, [prefill]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const active = !isTerminal(run.status);
  const recoverable = run.status === 'failed' || run.status === 'cancelled';

  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      await api(`/api/runs/${run.run_id}`, { method: 'DELETE' });
      setDialog(null);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="actions">
      {active && (
        <button type="button" class="danger" onClick={() => setDialog('cancel')}>
          Cancel run
        </button>
      )}
      <button
        type="button"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          relaunch(run, email)
            .catch((e: unknown) => setError(errorText(e)))
            .finally(() => setBusy(false));
        }}
      >
        Relaunch with changes
      </button>
      {recoverable && (
        <button
          type="button"
          class="primary"
          onClick={() => setDialog(recoveredBy.length > 0 ? 'recover-again' : 'recover')}
        >
          Recover
        </button>
      )}
      {error && dialog === null && <ErrorNote title="Could not open the wizard.">{error}</ErrorNote>}
      <Dialog
        open={dialog === 'recover-again'}
        title={`${run.run_id} was already recovered`}
        onClose={() => setDialog(null)}
      >
        <p>
          {recoveredBy.map((r) => `${r.run_id} (${r.status})`).join(', ')} already recover
          {recoveredBy.length === 1 ? 's' : ''} this run. Recovering it again starts another attempt from this
          run, beside {recoveredBy.length === 1 ? 'that one' : 'those'}.
        </p>
        <div class="buttons">
          <button type="button" onClick={() => navigate(`#/runs/${recoveredBy.at(-1)!.run_id}`)}>
            Open {recoveredBy.at(-1)?.run_id}
          </button>
          <button type="button" class="primary" onClick={() => setDialog('recover')}>
            Recover again
          </button>
        </div>
      </Dialog>
      <Dialog open={dialog === 'cancel'} title={`Cancel ${run.run_id}?`} onClose={() => setDialog(null)}>
        <p>
          The Batch job is stopped and running tasks are killed. Finished tasks stay in the work directory, so
          you can Recover the run later.
        </p>
        {error && <ErrorNote title="The run was not cancelled.">{error}</ErrorNote>}
        <div class="buttons">
          <button type="button" onClick={() => setDialog(null)}>
            Keep running
          </button>
          <button type="button" class="danger" disabled={busy} onClick={cancel}>
            {busy ? 'Cancelling…' : 'Cancel run'}
          </button>
        </div>
      </Dialog>
      <Dialog open={dialog === 'recover'} title={`Recover ${run.run_id}`} onClose={() => setDialog(null)}>
        <RecoverForm run={run} onDone={() => setDialog(null)} initial={prefill} />
      </Dialog>
    </div>
  );
}
