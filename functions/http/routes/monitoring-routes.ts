import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createSession, type Session } from 'better-sse';
import yazl from 'yazl';
import { z } from 'zod';
import type { RunStore } from '../../core/runs/ports';
import { listRunFiles, runObjectName } from '../../core/runs/run-files';
import { locateRunLog, readLogPage, readLogTail } from '../../core/runs/run-logs';
import { isTerminal, type Run } from '../../core/runs/run-model';
import { RunSamplesQuery, RunSamplesView, runSamples } from '../../core/runs/run-samples';
import { getAccessibleRun } from '../../core/runs/run-service';
import { type TaskCatalog, TasksQuery, taskView } from '../../core/runs/run-tasks';
import { readTaskLogs, type TaskLogSource } from '../../core/runs/task-logs';
import { LogPage, RunFiles, runView, type TaskLogsView, type TaskPageView } from '../../core/runs/views';
import { runPaths } from '../../core/shared/bucket-layout';
import { NotFoundError, ValidationError } from '../../core/shared/errors';
import type { ObjectStore } from '../../core/shared/ports';
import { describeError, type Logger } from '../../logging';
import { defineRoute, NoQuery, type Route, type RouteContext, requireCaller } from '../router';
import type { StreamSlots } from '../stream-slots';
import { RunParams, runMissing } from './run-routes';

const TaskParams = RunParams.extend({ task_id: z.string().max(20) });

export interface MonitoringDeps {
  runs: RunStore;
  objects: ObjectStore;
  tasks: TaskCatalog;
  taskLogs: TaskLogSource[];
  logger: Logger;
  signedUrlTtlSeconds: number;
  /** How often the log stream looks for new lines. */
  logPollMs: number;
  /** SSE keep-alive comment interval. */
  heartbeatMs: number;
  /** How many live views an instance holds, per user and in all, and for how long each. */
  streams: StreamSlots;
}

const LogsQuery = z
  .strictObject({
    offset: z.coerce
      .number()
      .int()
      .min(0)
      .optional()
      .describe('byte offset from an earlier page (next_offset); default 0'),
    tail: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('the last N entries instead of a page'),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .refine((q) => q.offset === undefined || q.tail === undefined, {
    message: 'use offset or tail, not both',
    path: ['tail'],
  });

const StreamQuery = z.strictObject({
  offset: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .describe('start here (default: the current end of the log); Last-Event-ID wins'),
});

const DownloadQuery = z.strictObject({
  path: z.string().describe('relative to the run, e.g. results/multiqc/multiqc_report.html'),
  format: z.enum(['redirect', 'json']).default('redirect'),
  view: z
    .enum(['true', 'false'])
    .default('false')
    .describe(
      'true: an HTML report (MultiQC, Nextflow report and timeline) shown in the browser, from Cloud Storage’s own origin, not downloaded',
    ),
});

const ZIP_FILES = ['nextflow.log', 'trace.txt', 'timeline.html', 'report.html'];

function streamHeaders(ctx: RouteContext): void {
  // Proxies must not buffer the stream.
  ctx.res.setHeader('x-accel-buffering', 'no');
  ctx.res.setHeader('cache-control', 'no-cache, no-transform');
}

function endSession(session: Session, ctx: RouteContext): void {
  if (session.isConnected) ctx.res.end();
}

/**
 * A stream's slot and lifetime: the slot is given back when the response closes; at
 * `maxSeconds` the stream ends cleanly (`onExpiry`) and the client reconnects where it was.
 */
function holdStream(deps: MonitoringDeps, ctx: RouteContext, onExpiry: () => void): void {
  const release = deps.streams.take(requireCaller(ctx).email);
  const expiry = setTimeout(onExpiry, deps.streams.limits.maxSeconds * 1000);
  ctx.res.once('close', () => {
    clearTimeout(expiry);
    release();
  });
}

export function monitoringRoutes(deps: MonitoringDeps): Route[] {
  const run = (ctx: RouteContext<unknown, { id: string }>): Promise<Run> =>
    getAccessibleRun(deps, requireCaller(ctx), ctx.params.id);

  return [
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}/tasks',
      summary: 'The run’s tasks: live while it runs, from the final trace after; filter, sort, page',
      tags: ['monitoring'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: TasksQuery,
      responses: [{ status: 200, description: 'a page of tasks' }],
      handler: async (ctx) => {
        const current = await run(ctx);
        const { query } = ctx;
        // A recovery's tasks say why each ran again, against the run it recovers.
        const [page, parent] = await Promise.all([
          deps.tasks.page(current.run_id, query),
          current.is_recovery && current.parent_run_id
            ? deps.tasks.outcomes(current.parent_run_id)
            : Promise.resolve(null),
        ]);
        return {
          body: {
            run_id: current.run_id,
            source: page.source,
            total: page.total,
            page: query.page,
            page_size: query.page_size,
            tasks: page.tasks.map((t) => taskView(current, t, parent)),
          } satisfies TaskPageView,
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}/samples',
      summary:
        'The run sample by sample: rows, status, task counts, the failed task and its log tail, CPU-hours, cost share, result files',
      tags: ['monitoring'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: RunSamplesQuery,
      responses: [{ status: 200, description: 'every sample of the run', schema: RunSamplesView }],
      handler: async (ctx) => ({ body: await runSamples(deps, await run(ctx), ctx.query) }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}/tasks/{task_id}/logs',
      summary: 'stdout and stderr of one task (the end of them, 256 KB each)',
      tags: ['monitoring'],
      auth: true,
      params: TaskParams,
      missing: runMissing,
      query: NoQuery,
      responses: [
        { status: 200, description: 'the task’s output' },
        { status: 404, description: 'no such task, or its logs are gone (says where it looked)' },
      ],
      handler: async (ctx) => {
        const current = await run(ctx);
        const task = await deps.tasks.task(current.run_id, ctx.params.task_id);
        const logs = await readTaskLogs(deps.taskLogs, current.run_id, task);
        return {
          body: {
            task_id: task.task_id,
            name: task.name,
            status: task.status,
            exit: task.exit,
            ...logs,
          } satisfies TaskLogsView,
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}/logs',
      summary: 'nextflow.log as entries: a page from a byte offset, or the tail; ranged reads only',
      tags: ['monitoring'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: LogsQuery,
      responses: [{ status: 200, description: 'log entries', schema: LogPage }],
      handler: async (ctx) => {
        const current = await run(ctx);
        const { query } = ctx;
        const log = await locateRunLog(deps.objects, current.run_id);
        const page = query.tail
          ? await readLogTail(deps.objects, log, query.tail, current.created_at)
          : await readLogPage(deps.objects, log, query.offset ?? 0, query.limit, current.created_at);
        return { body: page };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}/logs/stream',
      summary:
        'Server-Sent Events: new nextflow.log entries as they are written (event "entries", id = byte offset), then "done"',
      tags: ['monitoring'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: StreamQuery,
      responses: [{ status: 200, description: 'text/event-stream' }],
      handler: async (ctx) => {
        const current = await run(ctx);
        const { query } = ctx;
        let expired = false;
        holdStream(deps, ctx, () => {
          expired = true;
        });
        streamHeaders(ctx);
        const session = await createSession(ctx.req, ctx.res, { keepAlive: deps.heartbeatMs, retry: 3_000 });
        const resumeFrom = /^\d+$/.test(session.lastId) ? Number(session.lastId) : undefined;
        let offset = resumeFrom ?? query.offset ?? (await locateRunLog(deps.objects, current.run_id)).size;
        const stopped = new Promise<void>((resolve) => session.once('disconnected', () => resolve()));
        let connected = true;
        void stopped.then(() => {
          connected = false;
        });
        while (connected) {
          if (expired) {
            // Its time is up: the client comes back with Last-Event-ID, the offset reached.
            endSession(session, ctx);
            break;
          }
          const latest = (await deps.runs.get(current.run_id)) ?? current;
          const log = await locateRunLog(deps.objects, current.run_id);
          offset = Math.min(offset, log.size);
          for (;;) {
            const page = await readLogPage(deps.objects, log, offset, 500, current.created_at);
            // The client may have gone while the page was read: pushing then throws (a 500 logged
            // as a failed request for what is only a closed tab).
            if (page.entries.length === 0 || !session.isConnected) break;
            session.push(page.entries, 'entries', String(page.next_offset));
            offset = page.next_offset;
          }
          if (!session.isConnected) break;
          if (isTerminal(latest.status) && log.source === 'final' && offset >= log.size) {
            session.push({ status: latest.status }, 'done', String(offset));
            endSession(session, ctx);
            break;
          }
          await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, deps.logPollMs))]);
        }
        return null;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}/events',
      summary:
        'Server-Sent Events: the run (status, timestamps, progress) each time it changes (event "run"), then "done"',
      tags: ['monitoring'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: NoQuery,
      responses: [{ status: 200, description: 'text/event-stream' }],
      handler: async (ctx) => {
        const first = await run(ctx);
        let expire = () => {};
        holdStream(deps, ctx, () => expire());
        streamHeaders(ctx);
        const session = await createSession(ctx.req, ctx.res, { keepAlive: deps.heartbeatMs, retry: 3_000 });
        let lastId = session.lastId;
        await new Promise<void>((resolve) => {
          // Its time is up: the client comes back with Last-Event-ID and gets only what changed.
          expire = () => finish();
          const stop = deps.runs.watch(
            first.run_id,
            (latest) => {
              if (!session.isConnected) return;
              if (!latest) {
                session.push({ message: `Run ${first.run_id} no longer exists.` }, 'gone');
                finish();
                return;
              }
              const view = runView(latest);
              const id = createHash('sha256').update(JSON.stringify(view)).digest('hex').slice(0, 20);
              if (id !== lastId) {
                session.push(view, 'run', id);
                lastId = id;
              }
              if (isTerminal(latest.status)) {
                session.push({ status: latest.status }, 'done', id);
                finish();
              }
            },
            (error) => {
              deps.logger.log('ERROR', 'run_watch_failed', {
                run_id: first.run_id,
                error: describeError(error),
              });
              if (session.isConnected)
                session.push({ message: 'The live view stopped; reconnect to resume.' }, 'error');
              finish();
            },
          );
          function finish() {
            stop();
            endSession(session, ctx);
            resolve();
          }
          session.once('disconnected', finish);
        });
        return null;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}/files',
      summary: 'The run’s files grouped as inputs, results and logs, with download links',
      tags: ['files'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: NoQuery,
      responses: [{ status: 200, description: 'files', schema: RunFiles.extend({ run_id: z.string() }) }],
      handler: async (ctx) => {
        const current = await run(ctx);
        return { body: { run_id: current.run_id, ...(await listRunFiles(deps.objects, current.run_id)) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}/download',
      summary: 'A short-lived signed URL for one file of the run (302 to it, or JSON with format=json)',
      tags: ['files'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: DownloadQuery,
      responses: [
        { status: 302, description: 'redirect to the signed URL' },
        { status: 200, description: '{url, expires_at} with format=json' },
      ],
      handler: async (ctx) => {
        const current = await run(ctx);
        const { query } = ctx;
        const name = runObjectName(current.run_id, query.path);
        if (!(await deps.objects.stat(name)))
          throw new NotFoundError(`Run ${current.run_id} has no file ${query.path}.`);
        const view = query.view === 'true';
        if (view && !/\.html?$/i.test(query.path))
          throw new ValidationError(
            `Only HTML reports open in the browser; download ${query.path} instead.`,
            [{ field: 'view', rule: 'html', message: 'view=true is for .html files' }],
          );
        // A report is served by Cloud Storage, on its own origin: its scripts never run with the
        // platform's cookies or IAP session.
        const url = await deps.objects.signedUrl(
          name,
          deps.signedUrlTtlSeconds,
          query.path.slice(query.path.lastIndexOf('/') + 1),
          view ? 'text/html; charset=utf-8' : undefined,
        );
        const expires_at = new Date(Date.now() + deps.signedUrlTtlSeconds * 1000).toISOString();
        if (query.format === 'json') return { body: { url, expires_at } };
        return {
          status: 302,
          headers: { location: url, 'cache-control': 'no-store' },
          body: { url, expires_at },
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/runs/{id}/logs/download',
      summary: 'A zip of nextflow.log, trace.txt, timeline.html and report.html, streamed',
      tags: ['files'],
      auth: true,
      params: RunParams,
      missing: runMissing,
      query: NoQuery,
      responses: [{ status: 200, description: 'application/zip', contentType: 'application/zip' }],
      handler: async (ctx) => {
        const current = await run(ctx);
        const present = (
          await Promise.all(
            ZIP_FILES.map(async (file) => ({
              file,
              stat: await deps.objects.stat(`${runPaths(deps.objects.bucket, current.run_id).logs}${file}`),
            })),
          )
        ).filter((p) => p.stat !== null);
        if (present.length === 0) {
          throw new NotFoundError(
            `Run ${current.run_id} has no final logs yet; they are written when Nextflow exits.`,
          );
        }
        const zip = new yazl.ZipFile();
        // yazl's output is a PassThrough (typed as a plain ReadableStream).
        const output = zip.outputStream as Readable;
        for (const { file, stat } of present) {
          const stream = deps.objects.readStream(stat!.name) as Readable;
          stream.on('error', (error) => output.destroy(error));
          zip.addReadStream(stream, `${current.run_id}/${file}`, { mtime: new Date(stat!.updated) });
        }
        zip.end();
        ctx.res.status(200).set({
          'content-type': 'application/zip',
          'content-disposition': `attachment; filename="${current.run_id}-logs.zip"`,
        });
        output.on('error', (error) => {
          deps.logger.log('ERROR', 'zip_failed', { run_id: current.run_id, error: describeError(error) });
          ctx.res.destroy(error);
        });
        ctx.res.on('close', () => output.destroy());
        output.pipe(ctx.res);
        return null;
      },
    }),
  ];
}
