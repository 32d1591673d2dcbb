/**
 * What keeping a recovery chain's work dir costs (ARCHITECTURE §3b′, issue 33 item 4): the bytes
 * under `work/{root}/` and `cache/{root}/`, what they cost a month in Standard storage, and until
 * when `-resume` can use them (the bucket's lifecycle deletes each object `WORK_RETENTION_DAYS`
 * after it was written). Kept on the chain's root run as `work_dir`. Free of any library but zod,
 * so the page shows the same figures from the same functions.
 */
import { z } from 'zod';
import { formatBytes, formatUsd, plural } from '../shared/format';

const IsoTime = z.iso.datetime({ offset: false });

/** Objects counted at most per measurement; past it the figure is a lower bound, and says so. */
export const MAX_MEASURED_OBJECTS = 1_000_000;

/** Bytes in a GiB: Cloud Storage prices storage per GiB (2^30 bytes) and month. */
export const GIB = 1024 ** 3;

export const WorkDirState = z.object({
  bytes: z.number().nonnegative().describe('bytes under work/{root}/ and cache/{root}/ when measured'),
  objects: z.number().int().nonnegative(),
  work_bytes: z.number().nonnegative().describe('bytes under work/{root}/: the tasks’ work directories'),
  cache_bytes: z.number().nonnegative().describe('bytes under cache/{root}/: the Nextflow session cache'),
  oldest_at: IsoTime.nullable().describe(
    'when the oldest object was written: the lifecycle deletes it first',
  ),
  newest_at: IsoTime.nullable().describe('when the newest object was written: the lifecycle deletes it last'),
  measured_at: IsoTime,
  complete: z
    .boolean()
    .describe(
      `false: counting stopped at ${MAX_MEASURED_OBJECTS.toLocaleString('en')} objects, so bytes is a lower bound`,
    ),
  freeing_since: IsoTime.nullable().describe('when someone started freeing it (deleting it now, on request)'),
  freed_at: IsoTime.nullable().describe('when freeing it finished: nothing of it is left to resume from'),
  freed_by: z.string().nullable().describe('who asked for it to be freed'),
  expiry_noticed_at: IsoTime.nullable()
    .default(null)
    .describe('when its owner was told it will soon be deleted (for the measurement it carries)'),
});
export type WorkDirState = z.infer<typeof WorkDirState>;

export interface StorageSettings {
  /** USD per GiB and month of Standard storage in the bucket's region. */
  priceGibMonth: number;
  /** Days the bucket's lifecycle keeps work/ and cache/ objects. */
  retentionDays: number;
}

const DAY_MS = 86_400_000;

function plusDays(iso: string | null, days: number): string | null {
  return iso ? new Date(Date.parse(iso) + days * DAY_MS).toISOString() : null;
}

/** What a chain's work dir costs and allows, computed from its last measurement. */
export interface WorkDirFigures {
  /** USD per month to keep what was measured (bytes ÷ 2^30 × price); 0 once freed. */
  monthlyUsd: number;
  /** Until when every object is still there: the oldest object's write + retention. */
  resumableUntil: string | null;
  /** When the lifecycle will have deleted the last object: the newest object's write + retention. */
  goneBy: string | null;
  /** The formula, in words with its prices. */
  basis: string;
}

/** The price and the retention every work dir is figured with, in words. */
export function storageBasis(settings: StorageSettings): string {
  return `$${settings.priceGibMonth} per GiB-month (Cloud Storage Standard storage); the bucket deletes a work dir's objects ${settings.retentionDays} days after they are written`;
}

export function workDirFigures(state: WorkDirState, settings: StorageSettings): WorkDirFigures {
  const freed = state.freed_at !== null;
  const gib = state.bytes / GIB;
  return {
    monthlyUsd: freed ? 0 : gib * settings.priceGibMonth,
    resumableUntil: freed ? null : plusDays(state.oldest_at, settings.retentionDays),
    goneBy: freed ? null : plusDays(state.newest_at, settings.retentionDays),
    basis: `${gib.toFixed(3)} GiB × ${storageBasis(settings)}`,
  };
}

/** One line for a person: what it holds, what it costs, until when it resumes. */
export function describeWorkDir(state: WorkDirState, settings: StorageSettings, now: Date): string {
  if (state.freed_at) return `Freed by ${state.freed_by ?? 'someone'}: nothing is left to resume from.`;
  if (state.freeing_since)
    return `Being freed since ${state.freeing_since.slice(0, 16).replace('T', ' ')} UTC: -resume can no longer use it.`;
  if (state.objects === 0) return 'Empty: the run wrote no work files, or they were deleted.';
  const figures = workDirFigures(state, settings);
  const size = `${state.complete ? '' : 'at least '}${formatBytes(state.bytes)} in ${plural(state.objects, 'object')}`;
  const until = figures.resumableUntil
    ? Date.parse(figures.resumableUntil) > now.getTime()
      ? `can be resumed in full until ${figures.resumableUntil.slice(0, 10)}`
      : `its oldest objects were deleted after ${figures.resumableUntil.slice(0, 10)}, so -resume reruns their tasks`
    : '';
  return `${size}, ${formatUsd(figures.monthlyUsd)} a month to keep; ${until}.`;
}
