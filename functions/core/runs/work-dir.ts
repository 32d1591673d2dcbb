/**
 * A recovery chain's work dir (`work/{root}/`, `cache/{root}/`): measured when a run of the
 * chain ends, shown with what it costs to keep and until when it resumes, listed largest first,
 * and freed on request (ARCHITECTURE §3b′). Freeing claims the chain as a recovery does, so a
 * recovery and a free never overlap: the one that comes second sees the other and is refused.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import { runPaths } from '../shared/bucket-layout';
import type { Caller } from '../shared/caller';
import { ConflictError, ForbiddenError } from '../shared/errors';
import { formatBytes, plural } from '../shared/format';
import type { Clock, ObjectStore } from '../shared/ports';
import { isTerminal } from '../shared/run-status';
import { parseOrThrow } from '../shared/validation';
import type { RunStore } from './ports';
import type { Run } from './run-model';
import { getAccessibleRun } from './run-service';
import {
  describeWorkDir,
  MAX_MEASURED_OBJECTS,
  type StorageSettings,
  storageBasis,
  WorkDirState,
  workDirFigures,
} from './work-dir-model';

export interface WorkDirDeps {
  runs: RunStore;
  objects: ObjectStore;
  clock: Clock;
  storage: StorageSettings;
  /** Objects one call of freeWorkDir deletes (default FREE_BATCH_OBJECTS): tests make it small. */
  freeBatchObjects?: number;
}

const PAGE_SIZE = 1000;
/** Objects one call of freeWorkDir deletes before it answers (and is called again). */
export const FREE_BATCH_OBJECTS = 2000;
const DELETE_CONCURRENCY = 16;
/** Most chains one list answers. */
export const WORK_DIR_LIST_MAX = 200;

/** Counts the bytes under the chain's two prefixes, a page at a time, up to MAX_MEASURED_OBJECTS. */
export async function measureWorkDir(
  objects: ObjectStore,
  rootRunId: string,
  now: Date,
): Promise<WorkDirState> {
  const paths = runPaths(objects.bucket, rootRunId);
  const sums = { work: 0, cache: 0 };
  let count = 0;
  let oldest: string | null = null;
  let newest: string | null = null;
  let complete = true;
  for (const [part, prefix] of [
    ['work', paths.workDir],
    ['cache', paths.cacheDir],
  ] as const) {
    let token: string | null = null;
    do {
      const page = await objects.listPage(prefix, token, PAGE_SIZE);
      for (const object of page.objects) {
        sums[part] += object.size;
        count += 1;
        const written = object.updated ? new Date(object.updated).toISOString() : null;
        if (written && (oldest === null || written < oldest)) oldest = written;
        if (written && (newest === null || written > newest)) newest = written;
      }
      token = page.nextPageToken;
      if (count >= MAX_MEASURED_OBJECTS && token) {
        complete = false;
        token = null;
      }
    } while (token);
    if (!complete) break;
  }
  return {
    bytes: sums.work + sums.cache,
    objects: count,
    work_bytes: sums.work,
    cache_bytes: sums.cache,
    oldest_at: oldest,
    newest_at: newest,
    measured_at: now.toISOString(),
    complete,
    freeing_since: null,
    freed_at: null,
    freed_by: null,
    expiry_noticed_at: null,
  };
}

/**
 * When a Nextflow run ends: measures its chain's work dir and keeps it on the root run, once per
 * event (`key`). A work dir being freed or freed is left as that says.
 */
export async function recordWorkDirAtEnd(
  deps: Pick<WorkDirDeps, 'runs' | 'objects' | 'clock'>,
  runId: string,
  key: string,
): Promise<WorkDirState | null> {
  const run = await deps.runs.get(runId);
  if (!run) return null;
  const measured = await measureWorkDir(deps.objects, run.root_run_id, deps.clock.now());
  await deps.runs.applyOnce(run.root_run_id, `work-dir:${key}`, (root) =>
    root.work_dir?.freeing_since || root.work_dir?.freed_at ? null : { work_dir: measured },
  );
  return measured;
}

export const WorkDirView = z.object({
  root_run_id: z.string().describe('the first run of the chain: the work dir is named after it'),
  work_dir: z.string().describe('gs:// URI of the tasks’ work directories'),
  cache_dir: z.string().describe('gs:// URI of the Nextflow session cache'),
  state: WorkDirState.nullable().describe(
    'the last measurement (or freeing); null before any run of the chain ended',
  ),
  monthly_usd: z
    .number()
    .nullable()
    .describe('USD a month to keep what was measured; null before a measurement'),
  resumable_until: z
    .string()
    .nullable()
    .describe('until when every object is still there (oldest write + retention)'),
  gone_by: z
    .string()
    .nullable()
    .describe('when the lifecycle will have deleted the last object (newest write + retention)'),
  basis: z.string().describe('the formula, with its price and the retention'),
  summary: z.string().describe('one line for a person'),
  active_run_id: z
    .string()
    .nullable()
    .describe('a run of the chain that is active now: freeing is refused meanwhile'),
  owner: z.string(),
  pipeline: z.string(),
  status: z.string().describe("the status of the chain's root run"),
});
export type WorkDirView = z.infer<typeof WorkDirView>;

function viewOf(
  root: Run,
  deps: Pick<WorkDirDeps, 'objects' | 'storage' | 'clock'>,
  active: Run | null,
): WorkDirView {
  const paths = runPaths(deps.objects.bucket, root.run_id);
  const state = root.work_dir;
  const figures = state ? workDirFigures(state, deps.storage) : null;
  return {
    root_run_id: root.run_id,
    work_dir: `gs://${deps.objects.bucket}/${paths.workDir}`,
    cache_dir: `gs://${deps.objects.bucket}/${paths.cacheDir}`,
    state,
    monthly_usd: figures?.monthlyUsd ?? null,
    resumable_until: figures?.resumableUntil ?? null,
    gone_by: figures?.goneBy ?? null,
    basis: figures?.basis ?? storageBasis(deps.storage),
    summary: state
      ? describeWorkDir(state, deps.storage, deps.clock.now())
      : 'Not measured yet: it is measured when a run of the chain ends.',
    active_run_id: active?.run_id ?? null,
    owner: root.user_email,
    pipeline: `${root.pipeline} ${root.pipeline_version}`,
    status: root.status,
  };
}

function emptyState(now: Date): WorkDirState {
  return {
    bytes: 0,
    objects: 0,
    work_bytes: 0,
    cache_bytes: 0,
    oldest_at: null,
    newest_at: null,
    measured_at: now.toISOString(),
    complete: true,
    freeing_since: null,
    freed_at: null,
    freed_by: null,
    expiry_noticed_at: null,
  };
}

/** A run of the chain that is pending, submitted or running (the root itself included); null if none. */
async function activeRunOf(deps: Pick<WorkDirDeps, 'runs'>, root: Run): Promise<Run | null> {
  if (!isTerminal(root.status)) return root;
  const [active] = await deps.runs.findActive('root_run_id', root.run_id);
  return active ?? null;
}

async function chainRoot(deps: Pick<WorkDirDeps, 'runs'>, caller: Caller, runId: string): Promise<Run> {
  const run = await getAccessibleRun(deps, caller, runId);
  if (run.root_run_id === run.run_id) return run;
  const root = await deps.runs.get(run.root_run_id);
  if (!root) throw new ConflictError(`Run ${run.run_id}'s chain root ${run.root_run_id} no longer exists.`);
  return root;
}

/** GET /api/runs/{id}/work-dir: the work dir of the run's chain. */
export async function getWorkDir(deps: WorkDirDeps, caller: Caller, runId: string): Promise<WorkDirView> {
  const root = await chainRoot(deps, caller, runId);
  return viewOf(root, deps, await activeRunOf(deps, root));
}

export const ListWorkDirsQuery = z.strictObject({
  scope: z.enum(['mine', 'all']).default('mine').describe("all: everyone's (administrators only)"),
  limit: z.coerce.number().int().min(1).max(WORK_DIR_LIST_MAX).default(50),
});
export const WorkDirList = z.object({
  work_dirs: z.array(WorkDirView),
  total_bytes: z.number().describe('bytes of the chains listed'),
  monthly_usd: z.number().describe('USD a month to keep the chains listed'),
  basis: z.string().describe('the price and retention every figure uses'),
});

/** GET /api/work-dirs: the chains' work dirs that cost most to keep, largest first. */
export async function listWorkDirs(
  deps: WorkDirDeps,
  caller: Caller,
  query: z.infer<typeof ListWorkDirsQuery>,
): Promise<z.infer<typeof WorkDirList>> {
  if (query.scope === 'all' && !caller.is_admin)
    throw new ForbiddenError(
      'Only administrators can list everyone’s work dirs (scope=all); drop scope to list your own.',
    );
  const roots = await deps.runs.listWorkDirs(
    query.scope === 'all' ? {} : { user_email: caller.email },
    query.limit,
  );
  // The active flag is what the page needs to offer freeing; one query per chain listed.
  const views = await Promise.all(
    roots.map(async (root) => viewOf(root, deps, await activeRunOf(deps, root))),
  );
  return {
    work_dirs: views,
    total_bytes: views.reduce((sum, v) => sum + (v.state?.bytes ?? 0), 0),
    monthly_usd: views.reduce((sum, v) => sum + (v.monthly_usd ?? 0), 0),
    basis: storageBasis(deps.storage),
  };
}

export const FreeWorkDirRequest = z.strictObject({
  confirm: z.literal(true, {
    error:
      'Send "confirm": true: freeing deletes the chain’s work dir and cache, and no run of it can be recovered with -resume afterwards.',
  }),
});

export const FreeWorkDirResult = z.object({
  done: z.boolean().describe('false: more is left; call again to go on'),
  deleted_objects: z.number().int().describe('objects this call deleted'),
  deleted_bytes: z.number().describe('bytes this call deleted'),
  work_dir: WorkDirView,
});
export type FreeWorkDirResult = z.infer<typeof FreeWorkDirResult>;

/**
 * POST /api/runs/{id}/work-dir/free: deletes the chain's work dir and cache, at most
 * FREE_BATCH_OBJECTS objects per call (call again until `done`; a call that stopped halfway
 * is simply called again). The first call claims the chain, refused while a run of it is
 * active; the last records the freeing in the root run's history. The run's inputs, logs and
 * results (under runs/) are never touched.
 */
export async function freeWorkDir(
  deps: WorkDirDeps,
  caller: Caller,
  runId: string,
  body: unknown,
): Promise<FreeWorkDirResult> {
  // Someone else's run is missing (404) before anything about the request is said.
  let root = await chainRoot(deps, caller, runId);
  parseOrThrow(FreeWorkDirRequest, body ?? {}, 'request to free a work dir');
  const now = () => deps.clock.now().toISOString();
  if (root.work_dir?.freed_at) {
    return { done: true, deleted_objects: 0, deleted_bytes: 0, work_dir: viewOf(root, deps, null) };
  }
  if (!root.work_dir?.freeing_since) {
    const before = root.work_dir ?? emptyState(deps.clock.now());
    const at = now();
    await deps.runs.claimChain(
      root.run_id,
      { work_dir: { ...before, freeing_since: at, freed_by: caller.email } },
      {
        source: 'api',
        at,
        detail: `${caller.email} started freeing the work dir (work/${root.run_id}/, cache/${root.run_id}/): no run of this chain can be recovered with -resume from now on`,
      },
      async () => {
        // The chain's runs as they are now (the root's root_run_id is its own: it is among them).
        const [active] = await deps.runs.findActive('root_run_id', root.run_id);
        if (active)
          throw new ConflictError(
            `Run ${active.run_id} (${active.status}) is using the work dir of run ${root.run_id}; wait for it to end or cancel it before freeing the work dir.`,
            { active_run_id: active.run_id, status: active.status },
          );
      },
    );
  }

  const paths = runPaths(deps.objects.bucket, root.run_id);
  const limit = pLimit(DELETE_CONCURRENCY);
  const batch = deps.freeBatchObjects ?? FREE_BATCH_OBJECTS;
  let deletedObjects = 0;
  let deletedBytes = 0;
  let more = false;
  for (const prefix of [paths.workDir, paths.cacheDir]) {
    while (deletedObjects < batch) {
      // Deleted objects leave the listing: the first page is always what is left.
      const page = await deps.objects.listPage(prefix, null, Math.min(PAGE_SIZE, batch - deletedObjects));
      if (page.objects.length === 0) break;
      await Promise.all(page.objects.map((object) => limit(() => deps.objects.delete(object.name))));
      deletedObjects += page.objects.length;
      deletedBytes += page.objects.reduce((sum, object) => sum + object.size, 0);
    }
    if (deletedObjects >= batch) {
      more = true;
      break;
    }
  }
  if (!more) {
    const at = now();
    await deps.runs.applyOnce(
      root.run_id,
      'work-dir-freed',
      (current) => ({
        work_dir: {
          ...emptyState(new Date(at)),
          freeing_since: current.work_dir?.freeing_since ?? at,
          freed_by: current.work_dir?.freed_by ?? caller.email,
          freed_at: at,
        },
      }),
      (current) => ({
        source: 'api',
        at,
        detail: `Work dir freed (asked by ${current.work_dir?.freed_by ?? caller.email})${current.work_dir && current.work_dir.objects > 0 ? `: ${plural(current.work_dir.objects, 'object')}, ${formatBytes(current.work_dir.bytes)} as last measured` : ''}; the run's inputs, logs and results are kept`,
      }),
    );
  }
  root = (await deps.runs.get(root.run_id)) ?? root;
  return {
    done: !more,
    deleted_objects: deletedObjects,
    deleted_bytes: deletedBytes,
    work_dir: viewOf(root, deps, null),
  };
}

/** Days before a resumable run's work dir starts being deleted that its owner is told. */
export const EXPIRY_NOTICE_DAYS = 3;
const DAY_MS = 86_400_000;

/**
 * A pass of the sweeper: tells the owner of each failed or cancelled chain that could still be
 * resumed (no run of it completed or active) that its work dir starts being deleted within
 * EXPIRY_NOTICE_DAYS, once per measurement, with the date and what to do. Answers how many it told.
 */
export async function noticeExpiringWorkDirs(
  deps: Pick<WorkDirDeps, 'runs' | 'clock' | 'storage'>,
  limit: number,
): Promise<number> {
  const now = deps.clock.now();
  const retention = deps.storage.retentionDays * DAY_MS;
  // oldest + retention falls within the next EXPIRY_NOTICE_DAYS (and has not passed).
  const roots = await deps.runs.findExpiringWorkDirs(
    new Date(now.getTime() - retention + EXPIRY_NOTICE_DAYS * DAY_MS).toISOString(),
    new Date(now.getTime() - retention).toISOString(),
    limit,
  );
  let told = 0;
  for (const root of roots) {
    const state = root.work_dir;
    if (!state?.oldest_at || state.expiry_noticed_at || state.freeing_since || state.freed_at) continue;
    if (state.objects === 0 || (root.status !== 'failed' && root.status !== 'cancelled')) continue;
    if (await activeRunOf(deps, root)) continue;
    const recoveries = await Promise.all((root.recovery_run_ids ?? []).map((id) => deps.runs.get(id)));
    if (recoveries.some((r) => r?.status === 'completed')) continue;
    const until = new Date(Date.parse(state.oldest_at) + retention).toISOString();
    const at = now.toISOString();
    const outcome = await deps.runs.applyOnce(
      root.run_id,
      `work-dir-expiring:${state.oldest_at}`,
      (current) =>
        current.work_dir && !current.work_dir.expiry_noticed_at && !current.work_dir.freeing_since
          ? { work_dir: { ...current.work_dir, expiry_noticed_at: at } }
          : null,
      () => ({
        source: 'sweeper',
        at,
        detail: `Owner told the work dir starts being deleted on ${until.slice(0, 10)}`,
      }),
      () => ({
        notice: 'work_dir_expiring',
        at,
        message: `Run ${root.run_id} ${root.status === 'failed' ? 'failed' : 'was cancelled'} and can be recovered with -resume until ${until.slice(0, 10)}: from then the bucket deletes its work dir (${formatBytes(state.bytes)}), ${deps.storage.retentionDays} days after it was written, and a recovery runs everything again. Recover it before then, or free the work dir now if you will not.`,
      }),
    );
    if (outcome === 'applied') told++;
  }
  return told;
}
