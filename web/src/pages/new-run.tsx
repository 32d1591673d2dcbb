import { useEffect, useRef, useState } from 'preact/hooks';
import type { PipelineSummary } from '../../../functions/core/nextflow/pipeline-views';
import type { Run } from '../../../functions/core/runs/run-model';
import { ApiError, api, errorText, useApi } from '../api';
import { AssistantDrawer } from '../assistant/drawer';
import { ErrorNote, SelectFilter } from '../components/ui';
import type { Session } from '../live';
import { navigate } from '../router';
import { type Draft, useDraft } from '../wizard/draft';
import { ParamsStep } from '../wizard/params-step';
import { latestResult, requestBody, usePreview } from '../wizard/preview';
import { ReviewStep } from '../wizard/review-step';
import { SamplesStep } from '../wizard/samples-step';
import { SamplesheetStep } from '../wizard/samplesheet-step';
import { SourceStep } from '../wizard/source-step';

const STEPS = ['NGS runs', 'Samples', 'Samplesheet', 'Parameters', 'Review'] as const;

/** Why the user cannot go on from a step, or null. */
function blocker(step: number, draft: Draft, problems: { field?: string }[] | null): string | null {
  if (step === 0 && draft.ngsRuns.length === 0) return 'Select at least one NGS run.';
  if (step === 1 && Object.values(draft.samples).flat().length === 0) return 'Select at least one sample.';
  if (step === 2) {
    if (!draft.samplesheet.trim()) return 'The samplesheet is empty.';
    if (problems?.some((p) => p.field === 'samplesheet_csv'))
      return 'Fix the samplesheet problems listed below first.';
  }
  if (step === 3 && problems?.some((p) => p.field?.startsWith('params') || p.field === 'config_content'))
    return 'Fix the parameter and config problems first.';
  return null;
}

/**
 * The pipeline to launch. Choosing another one starts its samplesheet and parameters afresh
 * (its columns and parameters are its own), unless the samplesheet was edited by hand.
 */
function PipelineChoice({ draft, update }: { draft: Draft; update: (change: Partial<Draft>) => void }) {
  const read = useApi<{ pipelines: PipelineSummary[] }>('/api/pipelines');
  const pipelines = read.state === 'ready' ? read.value.pipelines : [];
  const chosen = pipelines.find((p) => p.name === draft.pipeline);
  return (
    <div class="filters">
      <SelectFilter
        label="Pipeline"
        value={draft.pipeline}
        any="Choose a pipeline"
        options={pipelines.map((p) => p.name)}
        onChange={(pipeline) =>
          pipeline &&
          pipeline !== draft.pipeline &&
          update({
            pipeline,
            version: '',
            params: {},
            samplesheet: draft.samplesheetEdited ? draft.samplesheet : '',
          })
        }
      />
      {chosen && <p class="muted small grow">{chosen.description}</p>}
    </div>
  );
}

export function NewRun({ session }: { session: Session }) {
  const [draft, update, discard] = useDraft(session.email);
  const preview = usePreview(draft);
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const result = latestResult(preview);
  const problems = result && !result.valid ? result.problems : null;
  const step = Math.min(draft.step, STEPS.length - 1);
  const blocked = blocker(step, draft, problems);

  // Moving between steps puts focus on the step's heading (screen readers announce it).
  useEffect(() => heading.current?.focus(), [step]);

  const go = (to: number) => {
    setError(null);
    update({ step: to });
  };

  const submit = async () => {
    setSubmitting(true);
    setError(null);
    try {
      const run = await api<Run>('/api/runs', { method: 'POST', body: requestBody(draft) });
      discard();
      navigate(`#/runs/${run.run_id}`);
    } catch (e) {
      const details = e instanceof ApiError ? e.problems.slice(0, 5).map((p) => p.message) : [];
      setError([errorText(e), ...details].join(' '));
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <section class="wizard" aria-labelledby="wizard-heading">
      <div class="toolbar">
        <h1 id="wizard-heading">New run</h1>
        <div class="buttons">
          <AssistantDrawer
            context={() => ({
              page: 'wizard',
              draft: {
                pipeline: draft.pipeline,
                ...(draft.version ? { pipeline_version: draft.version } : {}),
                params: draft.params,
                samplesheet_csv: draft.samplesheet.slice(0, 100_000),
                config_content: draft.config.slice(0, 100_000),
              },
            })}
            onApply={(proposal) => {
              const pipeline =
                'pipeline' in proposal && proposal.pipeline !== draft.pipeline
                  ? { pipeline: proposal.pipeline, version: proposal.pipeline_version }
                  : {};
              if (proposal.kind === 'params')
                update({ ...pipeline, params: applyMergePatch(draft.params, proposal.changes) });
              if (proposal.kind === 'samplesheet')
                update({ ...pipeline, samplesheet: proposal.csv, samplesheetEdited: true });
              if (proposal.kind === 'config') update({ config: proposal.config_content });
            }}
          />
          <button
            type="button"
            class="link"
            onClick={() => {
              if (confirm('Discard this draft and start over?')) discard();
            }}
          >
            Discard draft
          </button>
        </div>
      </div>
      <PipelineChoice draft={draft} update={update} />
      <ol class="steps" aria-label="Steps">
        {STEPS.map((name, i) => (
          <li
            class={i === step ? 'current' : i < step ? 'done' : ''}
            aria-current={i === step ? 'step' : undefined}
          >
            {i < step ? (
              <button type="button" class="link" onClick={() => go(i)}>
                {i + 1}. {name}
              </button>
            ) : (
              <span>
                {i + 1}. {name}
              </span>
            )}
          </li>
        ))}
      </ol>
      <h2 ref={heading} tabIndex={-1} data-step={step}>
        Step {step + 1} of {STEPS.length}: {STEPS[step]}
      </h2>
      {step === 0 && <SourceStep draft={draft} update={update} />}
      {step === 1 && <SamplesStep draft={draft} update={update} />}
      {step === 2 && <SamplesheetStep draft={draft} update={update} preview={preview} />}
      {step === 3 && <ParamsStep draft={draft} update={update} preview={preview} />}
      {step === 4 && <ReviewStep draft={draft} preview={preview} update={update} />}
      {error && <ErrorNote title="The run was not launched.">{error}</ErrorNote>}
      <div class="wizard-nav">
        <button type="button" disabled={step === 0} onClick={() => go(step - 1)}>
          ← Back
        </button>
        {blocked && (
          <span class="muted small" role="status">
            {blocked}
          </span>
        )}
        {step < STEPS.length - 1 ? (
          <button type="button" class="primary" disabled={blocked !== null} onClick={() => go(step + 1)}>
            Next: {STEPS[step + 1]} →
          </button>
        ) : (
          <button
            type="button"
            class="primary"
            disabled={submitting || !result?.valid || preview.state !== 'done'}
            onClick={submit}
          >
            {submitting ? 'Launching…' : 'Launch run'}
          </button>
        )}
      </div>
    </section>
  );
}

/** JSON Merge Patch of params (RFC 7386, one level): a value sets, null removes. */
function applyMergePatch(
  params: Record<string, unknown>,
  changes: Record<string, unknown>,
): Record<string, unknown> {
  const next = { ...params };
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) delete next[name];
    else next[name] = value;
  }
  return next;
}
