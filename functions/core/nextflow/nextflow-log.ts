import { z } from 'zod';
import { Executor } from './executors';

import { LOG_LINE } from './process-names';

export { LOG_LINE };

const PROCESS_ERROR = /Error executing process > '(.+)'\s*$/;
const MAX_DETAIL = 8 * 1024;

export interface NextflowFailure {
  /** The failed task, e.g. `NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN (S1)`; null for a pipeline-level error. */
  task: string | null;
  /** One line a person can act on: the cause Nextflow gives. */
  message: string;
  /** The whole error block (cause, command, exit status, output, work dir), capped at 8 KB. */
  detail: string;
}

function section(lines: string[], heading: string): string[] {
  const start = lines.findIndex((line) => line.trim() === heading);
  if (start === -1) return [];
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '' && body.length > 0) break;
    if (line.trim() !== '') body.push(line.trim());
  }
  return body;
}

/**
 * The last failure recorded in a nextflow.log: the `Error executing process > '…'` block
 * (everything up to the next timestamped line) or, failing that, the last ERROR line.
 */
export function findNextflowFailure(log: string): NextflowFailure | null {
  const lines = log.split(/\r?\n/);
  let blockStart = -1;
  let lastError = -1;
  for (let i = 0; i < lines.length; i++) {
    const match = LOG_LINE.exec(lines[i]!);
    if (match?.[3] !== 'ERROR') continue;
    lastError = i;
    if (PROCESS_ERROR.test(match[5]!)) blockStart = i;
  }
  if (blockStart === -1 && lastError === -1) return null;
  const start = blockStart === -1 ? lastError : blockStart;
  const header = LOG_LINE.exec(lines[start]!)!;
  const block = [header[5]!];
  for (const line of lines.slice(start + 1)) {
    if (LOG_LINE.test(line)) break;
    block.push(line);
  }
  const detail = block.join('\n').trim().slice(0, MAX_DETAIL);
  if (blockStart === -1) return { task: null, message: header[5]!.trim(), detail };
  const task = PROCESS_ERROR.exec(header[5]!)![1]!;
  const cause = section(block, 'Caused by:').join(' ');
  const exit = section(block, 'Command exit status:')[0];
  const exitNote = exit && /^\d+$/.test(exit) ? ` (exit status ${exit})` : '';
  return {
    task,
    message: `${cause || `Process ${task} failed`}${cause.includes('exit status') ? '' : exitNote}`,
    detail,
  };
}

/** What the orchestrator writes to logs/exit.json when Nextflow exits. */
export const ExitReport = z.object({
  exit_code: z.number().int(),
  error_message: z.string().nullable(),
  error_task: z.string().nullable(),
  error_detail: z.string().nullable().default(null),
  session_id: z.string(),
  run_name: z.string().optional(),
  executor: z.enum(Executor).optional(),
  finished_at: z.iso.datetime(),
});
export type ExitReport = z.infer<typeof ExitReport>;
