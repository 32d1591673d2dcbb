import { useEffect, useState } from 'preact/hooks';
import type { RunPreview } from '../../../functions/core/runs/run-preview';
import { api, errorText, type FieldProblem } from '../api';
import type { Draft } from './draft';

export type PreviewResult = RunPreview;

export type PreviewState =
  | { state: 'idle' }
  | { state: 'checking'; last: PreviewResult | null }
  | { state: 'done'; result: PreviewResult }
  | { state: 'error'; message: string };

export function requestBody(draft: Draft): Record<string, unknown> {
  const body: Record<string, unknown> = {
    pipeline: draft.pipeline,
    samplesheet_csv: draft.samplesheet,
    params: draft.params,
  };
  if (draft.version) body.pipeline_version = draft.version;
  if (draft.config.trim()) body.config_content = draft.config;
  if (draft.ngsRuns.length > 0) body.source_ngs_runs = draft.ngsRuns;
  if (draft.sourceProject) body.source_project = draft.sourceProject;
  if (draft.name?.trim()) body.name = draft.name.trim();
  if (draft.description?.trim()) body.description = draft.description.trim();
  if (draft.allowUnknownParams) body.allow_unknown_params = true;
  // A budget as typed: the API checks it (a number over 0), and says so by field when it is not.
  const budget = draft.budget?.trim();
  if (budget) body.budget_usd = Number.isNaN(Number(budget)) ? budget : Number(budget);
  const labels = labelsFromText(draft.labels);
  if (Object.keys(labels).length > 0) body.labels = labels;
  return body;
}

/** `team=genomics, cost-center=cc-42` → an object; the API checks each (its problems name the label). */
export function labelsFromText(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(/[\s,]+/).filter(Boolean)) {
    const at = pair.indexOf('=');
    labels[at < 0 ? pair : pair.slice(0, at)] = at < 0 ? '' : pair.slice(at + 1);
  }
  return labels;
}

/**
 * The launch's own checks, run as the user types (debounced): POST /api/runs/preview answers
 * the same problems POST /api/runs would, by param, row and column, and renders the config.
 */
export function usePreview(draft: Draft): PreviewState {
  const [preview, setPreview] = useState<PreviewState>({ state: 'idle' });
  const body = draft.samplesheet ? JSON.stringify(requestBody(draft)) : '';
  useEffect(() => {
    if (!body) {
      setPreview({ state: 'idle' });
      return undefined;
    }
    const controller = new AbortController();
    setPreview((current) => ({
      state: 'checking',
      last: current.state === 'done' ? current.result : current.state === 'checking' ? current.last : null,
    }));
    const timer = setTimeout(() => {
      api<PreviewResult>('/api/runs/preview', {
        method: 'POST',
        body: JSON.parse(body),
        signal: controller.signal,
      })
        .then((result) => setPreview({ state: 'done', result }))
        .catch((e: unknown) => {
          if (!controller.signal.aborted) setPreview({ state: 'error', message: errorText(e) });
        });
    }, 350);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [body]);
  return preview;
}

export function latestResult(preview: PreviewState): PreviewResult | null {
  if (preview.state === 'done') return preview.result;
  if (preview.state === 'checking') return preview.last;
  return null;
}

export function problemsOf(preview: PreviewState, match: (p: FieldProblem) => boolean): FieldProblem[] {
  const result = latestResult(preview);
  return result && !result.valid ? result.problems.filter(match) : [];
}

/** What a wizard step that edits the draft and shows the launch's checks receives. */
export interface StepProps {
  draft: Draft;
  update: (change: Partial<Draft>) => void;
  preview: PreviewState;
}
