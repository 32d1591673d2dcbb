import pLimit from 'p-limit';
import type { SamplesheetRow } from '../nextflow/samplesheet';
import { UpstreamError, ValidationError } from '../shared/errors';

/** What the platform can tell about an input object before a run needs it. */
export type InputFileState = 'found' | 'missing' | 'forbidden';

/** Objects in any bucket (the FASTQs live outside the runs bucket). */
export interface InputFiles {
  state(bucket: string, name: string): Promise<InputFileState>;
}

/** The samplesheet columns that name input files. */
export const FILE_COLUMNS = ['fastq_1', 'fastq_2'] as const;

const GS_URI = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])\/(.+)$/;

/** How many existence checks run at once: enough to finish 1,000 files in seconds, few enough to be polite. */
export const CHECK_CONCURRENCY = 16;

export interface MissingFile {
  /** 1-based data row of the samplesheet. */
  row: number;
  column: string;
  uri: string;
  state: 'missing' | 'forbidden';
}

/**
 * Checks, before anything is written, that every `gs://` file the samplesheet names exists and
 * that the platform may read it; throws 400 listing each one that does not, by row and column.
 * Each distinct object is checked once, at most CHECK_CONCURRENCY at a time. Files elsewhere
 * (https://, s3://) cannot be checked: they come back as warnings.
 */
export async function checkInputFiles(files: InputFiles, rows: SamplesheetRow[]): Promise<string[]> {
  const uses = new Map<string, { row: number; column: string }[]>();
  const unchecked = new Set<string>();
  rows.forEach((values, index) => {
    for (const column of FILE_COLUMNS) {
      const uri = values[column];
      if (typeof uri !== 'string' || uri === '') continue;
      if (!GS_URI.test(uri)) {
        unchecked.add(uri);
        continue;
      }
      const list = uses.get(uri) ?? [];
      list.push({ row: index + 1, column });
      uses.set(uri, list);
    }
  });

  const limit = pLimit(CHECK_CONCURRENCY);
  let states: [string, InputFileState][];
  try {
    states = await Promise.all(
      [...uses.keys()].map((uri) =>
        limit(async (): Promise<[string, InputFileState]> => {
          const [, bucket, name] = GS_URI.exec(uri)!;
          return [uri, await files.state(bucket!, name!)];
        }),
      ),
    );
  } catch (error) {
    limit.clearQueue();
    if (error instanceof UpstreamError) throw error;
    throw new UpstreamError(
      "The samplesheet's input files could not be checked; nothing was launched. Try again.",
      {
        cause: error,
      },
    );
  }

  const missing: MissingFile[] = [];
  for (const [uri, state] of states) {
    if (state === 'found') continue;
    for (const use of uses.get(uri)!) missing.push({ ...use, uri, state });
  }
  if (missing.length > 0) {
    missing.sort((a, b) => a.row - b.row || a.column.localeCompare(b.column));
    const describe = (m: MissingFile) =>
      `row ${m.row} ${m.column}: ${m.uri} ${m.state === 'missing' ? 'does not exist' : 'is not readable by the platform'}`;
    const forbidden = missing.some((m) => m.state === 'forbidden');
    throw new ValidationError(
      `${missing.length} input file(s) named in the samplesheet cannot be read: ${missing
        .slice(0, 3)
        .map(describe)
        .join(
          '; ',
        )}${missing.length > 3 ? '; …' : ''}. Fix the paths${forbidden ? ", or grant the platform's service account read access to those buckets" : ''}, then launch again.`,
      missing.slice(0, 200).map((m) => ({
        field: 'samplesheet_csv',
        row: m.row,
        column: m.column,
        rule: m.state === 'missing' ? 'file_exists' : 'file_readable',
        message: describe(m),
      })),
      'missing_input_files',
    );
  }
  return [...unchecked]
    .slice(0, 5)
    .map((uri) => `input file ${uri} is not in Cloud Storage, so it was not checked before launch`);
}
