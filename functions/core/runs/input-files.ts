import pLimit from 'p-limit';
import type { ExistsField, PathKind } from '../nextflow/params';
import type { SamplesheetRow } from '../nextflow/samplesheet';
import { UpstreamError, ValidationError } from '../shared/errors';

/** What the platform can tell about an input object before a run needs it. */
export type InputFileState = 'found' | 'missing' | 'forbidden';

/** Objects in any bucket (the inputs live outside the runs bucket). */
export interface InputFiles {
  /**
   * Whether `name` exists as the kind nf-schema asks for: an object (`file`), a prefix holding
   * objects (`directory`), or either (`path`); and, for an object, its size in bytes (null
   * for a folder, or when not found).
   */
  stat(
    bucket: string,
    name: string,
    kind: PathKind,
  ): Promise<{ state: InputFileState; bytes: number | null }>;
}

/** What the check of a run's inputs tells besides its problems. */
export interface CheckedInputs {
  /** Params elsewhere than gs:// (https://, ftp://): not checked, said as warnings. */
  unchecked: string[];
  /**
   * The bytes of the samplesheet's input files (each distinct object once), for the cost
   * estimate; null when the samplesheet names none the schema checks, or one is a folder.
   */
  inputBytes: number | null;
}

/** The inputs of a run whose schema says they must exist (`exists: true` on a path format). */
export interface InputPaths {
  rows: SamplesheetRow[];
  /** Samplesheet columns that must exist, from the samplesheet schema. */
  columns: ExistsField[];
  params: Record<string, unknown>;
  /** Params that must exist, from the pipeline schema (not the ones the platform sets). */
  paramFields: ExistsField[];
}

const GS_URI = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])\/(.+)$/;

/** How many existence checks run at once: enough to finish 1,000 files in seconds, few enough to be polite. */
export const CHECK_CONCURRENCY = 16;

/** Where an input is named: a samplesheet cell, or a param. */
type Use = { row: number; column: string } | { param: string };

export interface MissingFile {
  use: Use;
  uri: string;
  kind: PathKind;
  state: 'missing' | 'forbidden';
}

/** How a missing input is described, by what the schema asked it to be. */
const MISSING: Record<PathKind, string> = {
  file: 'does not exist',
  directory: 'is not a folder with objects in it',
  path: 'does not exist as an object or a folder',
};

function where(use: Use): string {
  return 'param' in use ? `Param ${use.param}` : `Row ${use.row}, column ${use.column}`;
}

function order(a: MissingFile, b: MissingFile): number {
  const rank = (u: Use) =>
    ('param' in u ? [0, 0, u.param] : [1, u.row, u.column]) as [number, number, string];
  const [ra, na, ca] = rank(a.use);
  const [rb, nb, cb] = rank(b.use);
  return ra - rb || na - nb || ca.localeCompare(cb);
}

/**
 * Checks, before anything is written, that every `gs://` input the schemas say must exist
 * (samplesheet cells and params, as nf-schema's `exists` does) is there and readable by the
 * platform; throws 400 listing each one that is not, by row and column or by param. Each
 * distinct object is checked once, at most CHECK_CONCURRENCY at a time. Params elsewhere
 * (https://, ftp://) cannot be checked: they come back as warnings. A samplesheet cell elsewhere
 * was already warned about (or refused) by the samplesheet's validation, by row and column.
 */
export async function checkInputFiles(files: InputFiles, inputs: InputPaths): Promise<CheckedInputs> {
  const uses = new Map<string, { kind: PathKind; uses: Use[] }>();
  const unchecked = new Set<string>();
  // A samplesheet input outside Cloud Storage has no size here: the sheet's bytes are then unknown.
  let remoteCell = false;
  const note = (value: unknown, kind: PathKind, use: Use) => {
    if (typeof value !== 'string' || value === '') return;
    if (!GS_URI.test(value)) {
      if ('param' in use) unchecked.add(value);
      else remoteCell = true;
      return;
    }
    const key = `${kind} ${value}`;
    const entry = uses.get(key) ?? { kind, uses: [] };
    entry.uses.push(use);
    uses.set(key, entry);
  };
  for (const { name, kind } of inputs.paramFields) note(inputs.params[name], kind, { param: name });
  inputs.rows.forEach((values, index) => {
    for (const { name, kind } of inputs.columns) note(values[name], kind, { row: index + 1, column: name });
  });

  const limit = pLimit(CHECK_CONCURRENCY);
  let states: [string, InputFileState, number | null][];
  try {
    states = await Promise.all(
      [...uses.entries()].map(([key, { kind }]) =>
        limit(async (): Promise<[string, InputFileState, number | null]> => {
          const [, bucket, name] = GS_URI.exec(key.slice(kind.length + 1))!;
          const { state, bytes } = await files.stat(bucket!, name!, kind);
          return [key, state, bytes];
        }),
      ),
    );
  } catch (error) {
    limit.clearQueue();
    if (error instanceof UpstreamError) throw error;
    throw new UpstreamError("The run's input files could not be checked; nothing was launched. Try again.", {
      cause: error,
    });
  }

  const missing: MissingFile[] = [];
  for (const [key, state] of states) {
    if (state === 'found') continue;
    const { kind, uses: found } = uses.get(key)!;
    const uri = key.slice(kind.length + 1);
    for (const use of found) missing.push({ use, uri, kind, state });
  }
  if (missing.length > 0) {
    missing.sort(order);
    const describe = (m: MissingFile) =>
      `${where(m.use)}: ${m.uri} ${m.state === 'missing' ? MISSING[m.kind] : 'is not readable by the platform'}`;
    const forbidden = missing.some((m) => m.state === 'forbidden');
    throw new ValidationError(
      `${missing.length} input(s) the run needs cannot be read: ${missing
        .slice(0, 3)
        .map(describe)
        .join(
          '; ',
        )}${missing.length > 3 ? '; …' : ''}. Fix the paths${forbidden ? ", or grant the platform's service account read access to those buckets" : ''}, then launch again.`,
      missing.slice(0, 200).map((m) => ({
        ...('param' in m.use
          ? { field: `params.${m.use.param}` }
          : { field: 'samplesheet_csv', row: m.use.row, column: m.use.column }),
        rule: m.state === 'missing' ? 'file_exists' : 'file_readable',
        message: describe(m),
      })),
      'missing_input_files',
    );
  }
  // The samplesheet's input bytes: every cell the schema checks, each object once.
  let inputBytes: number | null = null;
  for (const [key, , bytes] of remoteCell ? [] : states) {
    if (!uses.get(key)!.uses.some((use) => 'row' in use)) continue;
    if (bytes === null) {
      inputBytes = null;
      break;
    }
    inputBytes = (inputBytes ?? 0) + bytes;
  }
  return {
    unchecked: [...unchecked]
      .slice(0, 5)
      .map((uri) => `input ${uri} is not in Cloud Storage, so it was not checked before launch`),
    inputBytes,
  };
}
