import { useEffect, useState } from 'preact/hooks';

/** Everything the wizard has been told so far; kept in localStorage so a reload loses nothing. */
export interface Draft {
  step: number;
  filters: { project: string; instrument: string; from: string; to: string; q: string };
  ngsRuns: string[];
  /** NGS run name → selected sample ids. */
  samples: Record<string, string[]>;
  sourceProject: string | null;
  pipeline: string;
  version: string;
  samplesheet: string;
  /** True once the user edited the generated samplesheet (it is then not regenerated silently). */
  samplesheetEdited: boolean;
  params: Record<string, unknown>;
  config: string;
  /** Labels as typed at Review: `key=value` pairs separated by commas or spaces. */
  labels: string;
  name: string;
  description: string;
  /** The user confirmed params that look like typos of known ones: launch them as written. */
  allowUnknownParams?: boolean;
  /** Budget in USD as typed at Review (empty: none); the run is cancelled once its cost reaches it. */
  budget?: string;
}

export function emptyDraft(): Draft {
  return {
    step: 0,
    filters: { project: '', instrument: '', from: '', to: '', q: '' },
    ngsRuns: [],
    samples: {},
    sourceProject: null,
    pipeline: 'nf-core/scrnaseq',
    version: '',
    samplesheet: '',
    samplesheetEdited: false,
    params: {},
    config: '',
    labels: '',
    name: '',
    description: '',
  };
}

const VERSION = 1;

function storageKey(email: string): string {
  return `arc:new-run-draft:v${VERSION}:${email}`;
}

function load(email: string): Draft {
  try {
    const text = localStorage.getItem(storageKey(email));
    if (!text) return emptyDraft();
    return { ...emptyDraft(), ...(JSON.parse(text) as Partial<Draft>) };
  } catch {
    return emptyDraft();
  }
}

/** Replaces the user's draft: "Relaunch with changes" opens the wizard with a run's inputs. */
export function saveDraft(email: string, draft: Draft): void {
  localStorage.setItem(storageKey(email), JSON.stringify(draft));
}

export function useDraft(email: string): [Draft, (change: Partial<Draft>) => void, () => void] {
  const [draft, setDraft] = useState(() => load(email));
  useEffect(() => {
    try {
      localStorage.setItem(storageKey(email), JSON.stringify(draft));
    } catch {
      // Storage full or disabled: the draft lives as long as the page.
    }
  }, [draft, email]);
  const update = (change: Partial<Draft>) => setDraft((current) => ({ ...current, ...change }));
  const discard = () => {
    localStorage.removeItem(storageKey(email));
    setDraft(emptyDraft());
  };
  return [draft, update, discard];
}
