import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { computeMetrics } from '../../functions/core/nextflow/metrics';
import { parseTrace } from '../../functions/core/nextflow/trace';
import { countTraceTasks } from '../../functions/core/runs/progress';
import type { RunView } from '../../functions/core/runs/run-model';
import { createStorage } from '../../functions/deps';
import { waitFor } from '../../scripts/lib/net';
import type { CloudEvent } from '../../scripts/local/event-bridge';
import { asUser, request } from '../helpers/api-server';
import { runBody, samplesheet } from '../helpers/samplesheets';
import { readEvents } from '../helpers/sse';
import { getRun, isFinal, settled, startTestStack, type TestStack, waitForRun } from '../helpers/stack';

let stack: TestStack;
let finished: RunView;

async function launch(
  overrides: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<RunView> {
  const response = await request<RunView>(`${stack.url}/api/runs`, {
    method: 'POST',
    headers,
    json: runBody(overrides),
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

const bucket = () => createStorage(stack.config).bucket(stack.config.runsBucket);
const read = async (name: string) => (await bucket().file(name).download())[0].toString('utf8');

beforeAll(async () => {
  // A slower replay, so that a run is observably in progress for a few seconds.
  stack = await startTestStack({
    replaySpeed: 1_200,
    env: { CHUNK_INTERVAL_SECONDS: '0.5', LOG_POLL_SECONDS: '0.2' },
  });
});
afterAll(async () => {
  await stack?.close();
});

describe('a retried orchestrator (Batch retries the task after a preemption)', () => {
  it('completes with progress equal to the final task count, and the retry in the run and its history', async () => {
    const created = await launch({ samplesheet_csv: samplesheet(3) });
    // Mid-run: some tasks done and counted from the first attempt's chunks.
    const before = await waitForRun(
      stack,
      created.run_id,
      (run) => (run as unknown as RunView).progress.completed >= 3 || isFinal(run),
    );
    expect(before.status).toBe('running');
    // The replay saves its resume state after each task as Nextflow's cloud cache does, a moment
    // after the trace row: interrupt once three tasks are in it, so that three can be CACHED.
    await waitFor(
      async () => {
        const [files] = await bucket().getFiles({ prefix: `cache/${created.run_id}/replay/` });
        if (files.length === 0) return false;
        const state = JSON.parse((await files[0]!.download())[0].toString('utf8')) as {
          completed: Record<string, unknown>;
        };
        return Object.keys(state.completed).length >= 3;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the resume state to hold three tasks' },
    );
    const jobName = before.batch_job_name!;
    expect(stack.batch.interruptTask(jobName, 50001)).toBe(true);

    // What the page shows never goes backwards while the second attempt catches up.
    const finished: number[] = [];
    await waitFor(
      async () => {
        const seen = await getRun(stack, created.run_id);
        finished.push(seen.progress.completed + seen.progress.cached);
        return isFinal(seen as never);
      },
      { timeoutMs: 120_000, intervalMs: 100, what: 'the run to end' },
    );
    for (const [i, n] of finished.entries()) if (i > 0) expect(n).toBeGreaterThanOrEqual(finished[i - 1]!);
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    await waitFor(async () => (await getRun(stack, created.run_id)).metrics !== null, {
      timeoutMs: 10_000,
      what: 'the metrics',
    });
    const run = (await getRun(stack, created.run_id)) as unknown as RunView;
    expect(run.status).toBe('completed');
    expect(run).toMatchObject({
      orchestrator_attempt: 2,
      orchestrator_retries: [
        { attempt: 2, exit_code: 50001, reason: expect.stringContaining('Spot VM was preempted') },
      ],
    });

    // The second attempt resumed: what the first finished is cached, nothing is counted twice.
    const trace = parseTrace(await read(`runs/${created.run_id}/logs/trace.txt`));
    const cached = trace.tasks.filter((t) => t.status === 'CACHED').length;
    expect(cached).toBeGreaterThanOrEqual(3);
    expect(run.progress.total_known).toBe(trace.tasks.length);
    expect(run.progress.submitted).toBe(trace.tasks.length - cached);
    expect(run.progress.cached).toBe(cached);
    expect(run.ingest.progress_corrected).toBeUndefined();

    // What the first attempt ran is costed once: the tasks the second took as CACHED are in
    // earlier_attempts and in the totals, so the run costs more than its last attempt alone.
    const lastAttemptOnly = computeMetrics(trace.tasks, stack.config.prices, '1');
    expect(run.metrics!.earlier_attempts.tasks).toBeGreaterThanOrEqual(cached);
    expect(run.metrics!.cpu_hours).toBeGreaterThan(lastAttemptOnly.cpu_hours);
    expect(run.metrics!.cpu_hours).toBeCloseTo(
      lastAttemptOnly.cpu_hours + run.metrics!.earlier_attempts.cpu_hours,
      3,
    );
    expect(run.metrics!.tasks).toEqual(lastAttemptOnly.tasks);

    // Each attempt wrote chunks of its own.
    const [chunks] = await bucket().getFiles({ prefix: `runs/${created.run_id}/logs/live/trace.` });
    const names = chunks.map((c) => c.name.slice(c.name.lastIndexOf('/') + 1));
    expect(names.some((n) => n.startsWith('trace.01-'))).toBe(true);
    expect(names.some((n) => n.startsWith('trace.02-'))).toBe(true);

    const history = await request<{ events: { detail: string | null }[] }>(
      `${stack.url}/api/runs/${created.run_id}?include=events`,
    );
    expect(history.body.events.map((e) => e.detail)).toContainEqual(
      expect.stringMatching(/attempt 2 started because attempt 1 ended: the Spot VM was preempted/),
    );
  });
});

describe('live progress', () => {
  it('climbs while the run goes and matches the final trace exactly at the end', async () => {
    const created = await launch({ samplesheet_csv: samplesheet(3) });
    const seen: { completed: number; submitted: number; source: string }[] = [];
    await waitForRun(stack, created.run_id, (run) => {
      const view = run as unknown as RunView;
      if (view.status === 'running')
        seen.push({
          completed: view.progress.completed,
          submitted: view.progress.submitted,
          source: view.progress.source,
        });
      return isFinal(run);
    });
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    await waitFor(async () => (await getRun(stack, created.run_id)).metrics !== null, {
      timeoutMs: 10_000,
      what: 'the metrics',
    });
    finished = (await getRun(stack, created.run_id)) as unknown as RunView;

    const live = seen.filter((s) => s.source === 'live');
    const distinct = new Set(live.map((s) => s.completed));
    expect(distinct.size).toBeGreaterThan(2);
    expect(live.map((s) => s.completed)).toEqual([...live.map((s) => s.completed)].sort((a, b) => a - b));
    expect(live.some((s) => s.submitted > s.completed)).toBe(true);

    const trace = parseTrace(await read(`runs/${created.run_id}/logs/trace.txt`));
    const final = countTraceTasks(trace.tasks);
    expect(finished.ingest.progress_corrected).toBeUndefined();
    expect(finished.progress).toMatchObject({
      source: 'final',
      completed: final.completed,
      failed: 0,
      running: 0,
      total_known: trace.tasks.length,
    });
    expect(finished.progress.submitted).toBe(trace.tasks.length);
    for (const [process, counters] of Object.entries(final.processes)) {
      expect(finished.progress.processes[process]).toMatchObject({
        completed: counters.completed,
        running: 0,
      });
    }
    expect(finished.metrics).toMatchObject({
      tasks: { total: trace.tasks.length, completed: trace.tasks.length, cached: 0 },
      cost: { currency: 'USD' },
    });
    expect(finished.metrics!.cpu_hours).toBeGreaterThan(0);
    expect(finished.metrics!.cost.formula).toMatch(/vCPU-hours × \$0\.00698\/vCPU-hour/);
  });

  it("counts the user's stats once, when the run ends", async () => {
    const user = (await stack.firestore.collection('users').doc('dev@example.com').get()).data();
    expect(user?.stats.total_runs).toBeGreaterThanOrEqual(1);
    expect(user?.stats.total_samples_processed).toBeGreaterThanOrEqual(3);
    const before = user?.stats;
    // A late, duplicated terminal event changes nothing.
    await stack.batch.getJob(finished.batch_job_name!);
    await request(`${stack.functionsUrl}/onBatchJobEvent`, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'dup',
        'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
        'ce-source': '//t',
      },
      json: { message: { attributes: { JobName: finished.batch_job_name!, NewJobState: 'SUCCEEDED' } } },
    });
    expect((await stack.firestore.collection('users').doc('dev@example.com').get()).data()?.stats).toEqual(
      before,
    );
  });
});

describe('GET /api/runs/{id}/tasks', () => {
  it('pages, filters by status and process, and sorts by any numeric field', async () => {
    const all = await request<{
      source: string;
      total: number;
      tasks: {
        task_id: number;
        realtime: number;
        process: string;
        hash: string;
        work_dir: string;
        logs_url: string;
      }[];
    }>(`${stack.url}/api/runs/${finished.run_id}/tasks?page_size=500`);
    expect(all.status).toBe(200);
    expect(all.body.source).toBe('final');
    expect(all.body.total).toBe(finished.metrics!.tasks.total);
    expect(all.body.tasks[0]).toMatchObject({
      hash: expect.stringMatching(/^[0-9a-f]{2}\/[0-9a-f]{6}$/),
      work_dir: expect.stringMatching(/^gs:\/\/.+\/work\//),
      logs_url: expect.stringMatching(/\/tasks\/\d+\/logs$/),
    });

    const star = await request<{ total: number; tasks: { process: string }[] }>(
      `${stack.url}/api/runs/${finished.run_id}/tasks?process=STAR_ALIGN`,
    );
    expect(star.body.total).toBe(3);
    expect(star.body.tasks.every((t) => t.process.endsWith(':STAR_ALIGN'))).toBe(true);

    const slowest = await request<{ tasks: { realtime: number }[] }>(
      `${stack.url}/api/runs/${finished.run_id}/tasks?sort=realtime&order=desc&page_size=5`,
    );
    const times = slowest.body.tasks.map((t) => t.realtime);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(times[0]).toBe(Math.max(...all.body.tasks.map((t) => t.realtime)));

    const page2 = await request<{ tasks: { task_id: number }[] }>(
      `${stack.url}/api/runs/${finished.run_id}/tasks?page=2&page_size=4`,
    );
    expect(page2.body.tasks.map((t) => t.task_id)).toEqual(all.body.tasks.slice(4, 8).map((t) => t.task_id));
    expect(
      (await request(`${stack.url}/api/runs/${finished.run_id}/tasks?status=FAILED`)).body,
    ).toMatchObject({ total: 0 });
  });

  it('refuses unknown sort fields and bad statuses with 400', async () => {
    expect((await request(`${stack.url}/api/runs/${finished.run_id}/tasks?sort=name`)).status).toBe(400);
    expect((await request(`${stack.url}/api/runs/${finished.run_id}/tasks?status=FAIL;ED`)).status).toBe(400);
  });

  it("is 404 for another user's run", async () => {
    expect(
      (
        await request(`${stack.url}/api/runs/${finished.run_id}/tasks`, {
          headers: asUser('eve@example.com'),
        })
      ).status,
    ).toBe(404);
  });
});

describe('GET /api/runs/{id}/tasks/{task_id}/logs', () => {
  it('returns the stdout of a completed task from its work dir', async () => {
    const star = await request<{ tasks: { task_id: number }[] }>(
      `${stack.url}/api/runs/${finished.run_id}/tasks?process=STAR_ALIGN&page_size=1`,
    );
    const logs = await request<{ stdout: string; stderr: string; source: string; locations: string[] }>(
      `${stack.url}/api/runs/${finished.run_id}/tasks/${star.body.tasks[0]!.task_id}/logs`,
    );
    expect(logs.status).toBe(200);
    expect(logs.body).toMatchObject({ source: 'work-dir', stderr: '' });
    expect(logs.body.stdout).toContain('..... finished successfully');
    expect(logs.body.locations[0]).toMatch(/\/\.command\.out$/);
  });

  it('returns the stderr of a failed task', async () => {
    const created = await launch({
      params: { aligner: 'star', genome: 'GRCh38', replay_fail_process: 'STAR_ALIGN' },
    });
    await waitForRun(stack, created.run_id, isFinal);
    await waitFor(
      async () =>
        (await request<{ total: number }>(`${stack.url}/api/runs/${created.run_id}/tasks?status=FAILED`)).body
          .total > 0,
      {
        timeoutMs: 10_000,
        what: 'the failed tasks',
      },
    );
    const failedTasks = await request<{ tasks: { task_id: number }[] }>(
      `${stack.url}/api/runs/${created.run_id}/tasks?status=FAILED&page_size=1`,
    );
    const logs = await request<{ stderr: string }>(
      `${stack.url}/api/runs/${created.run_id}/tasks/${failedTasks.body.tasks[0]!.task_id}/logs`,
    );
    expect(logs.body.stderr).toContain('EXITING because of FATAL ERROR in reads input');
  });

  it('answers 404 for an unknown task, and 404 naming the path when the logs are gone', async () => {
    const unknown = await request<{ error: { message: string } }>(
      `${stack.url}/api/runs/${finished.run_id}/tasks/99999/logs`,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain('Task 99999 is not in run');
    const multiqc = await request<{ tasks: { task_id: number; work_dir: string }[] }>(
      `${stack.url}/api/runs/${finished.run_id}/tasks?process=MULTIQC`,
    );
    const task = multiqc.body.tasks[0]!;
    const dir = task.work_dir.replace(`gs://${stack.config.runsBucket}/`, '');
    await bucket().file(`${dir}/.command.out`).delete();
    await bucket().file(`${dir}/.command.err`).delete();
    const gone = await request<{ error: { message: string; details: { looked_for: string } } }>(
      `${stack.url}/api/runs/${finished.run_id}/tasks/${task.task_id}/logs`,
    );
    expect(gone.status).toBe(404);
    expect(gone.body.error.message).toContain(`${task.work_dir}/.command.out and .command.err`);
  });
});

describe('GET /api/runs/{id}/logs', () => {
  it('pages through nextflow.log by byte offset: the pages join up to the whole log', async () => {
    const full = await request<{ entries: { offset: number; message: string }[]; size: number }>(
      `${stack.url}/api/runs/${finished.run_id}/logs?limit=1000`,
    );
    expect(full.status).toBe(200);
    const entries: { offset: number }[] = [];
    let offset = 0;
    for (;;) {
      const page = await request<{
        entries: { offset: number }[];
        next_offset: number;
        size: number;
        source: string;
      }>(`${stack.url}/api/runs/${finished.run_id}/logs?offset=${offset}&limit=7`);
      expect(page.body.source).toBe('final');
      entries.push(...page.body.entries);
      if (page.body.entries.length === 0) break;
      offset = page.body.next_offset;
    }
    expect(entries.map((e) => e.offset)).toEqual(full.body.entries.map((e) => e.offset));
    expect(offset).toBe(full.body.size);
    expect(full.body.entries.some((e) => e.message.startsWith('Replay executor'))).toBe(true);
  });

  it('returns the tail', async () => {
    const tail = await request<{ entries: { message: string }[]; next_offset: number; size: number }>(
      `${stack.url}/api/runs/${finished.run_id}/logs?tail=3`,
    );
    expect(tail.body.entries).toHaveLength(3);
    expect(tail.body.entries.at(-1)!.message).toBe('> Execution complete -- Goodbye');
    expect(tail.body.next_offset).toBe(tail.body.size);
  });

  it('answers 400 for an offset past the end, or offset with tail', async () => {
    const past = await request<{ error: { message: string } }>(
      `${stack.url}/api/runs/${finished.run_id}/logs?offset=999999999`,
    );
    expect(past.status).toBe(400);
    expect(past.body.error.message).toMatch(/past the end of the log/);
    expect((await request(`${stack.url}/api/runs/${finished.run_id}/logs?offset=0&tail=5`)).status).toBe(400);
  });
});

describe('Server-Sent Events', () => {
  it('/events streams the run as it changes and ends with done', async () => {
    const created = await launch();
    const response = await fetch(`${stack.url}/api/runs/${created.run_id}/events`);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const { events, ended } = await readEvents(response, () => false);
    expect(ended).toBe(true);
    const statuses = events
      .filter((e) => e.event === 'run')
      .map((e) => (JSON.parse(e.data) as RunView).status);
    // The first event is the run as it is when the stream opens.
    expect(['pending', 'submitted', 'running']).toContain(statuses[0]);
    expect(statuses).toContain('running');
    expect(statuses.at(-1)).toBe('completed');
    expect(events.at(-1)).toMatchObject({ event: 'done', data: JSON.stringify({ status: 'completed' }) });
    const runs = events.filter((e) => e.event === 'run').map((e) => JSON.parse(e.data) as RunView);
    expect(runs.some((r) => r.progress.completed > 0 && r.status === 'running')).toBe(true);
  });

  it('/events resumes with Last-Event-ID without repeating what the client has', async () => {
    const first = await fetch(`${stack.url}/api/runs/${finished.run_id}/events`);
    const once = await readEvents(first, () => false);
    const lastRun = once.events.filter((e) => e.event === 'run').at(-1)!;
    const again = await fetch(`${stack.url}/api/runs/${finished.run_id}/events`, {
      headers: { 'last-event-id': lastRun.id! },
    });
    const resumed = await readEvents(again, () => false);
    expect(resumed.events.map((e) => e.event)).toEqual(['done']);
  });

  it('/logs/stream sends new entries as they are written, resumes from Last-Event-ID, and ends with done', async () => {
    const created = await launch();
    await waitForRun(stack, created.run_id, (r) => r.status === 'running');
    const controller = new AbortController();
    const firstPart = await readEvents(
      await fetch(`${stack.url}/api/runs/${created.run_id}/logs/stream?offset=0`, {
        signal: controller.signal,
      }),
      (e) => e.event === 'entries',
      controller,
    );
    const firstBatch = JSON.parse(firstPart.events[0]!.data) as { offset: number; message: string }[];
    expect(firstBatch[0]!.offset).toBe(0);
    const resumeAt = firstPart.events[0]!.id!;
    const rest = await readEvents(
      await fetch(`${stack.url}/api/runs/${created.run_id}/logs/stream`, {
        headers: { 'last-event-id': resumeAt },
      }),
      () => false,
    );
    expect(rest.ended).toBe(true);
    expect(rest.events.at(-1)!.event).toBe('done');
    const streamed = [
      ...firstBatch,
      ...rest.events
        .filter((e) => e.event === 'entries')
        .flatMap((e) => JSON.parse(e.data) as { offset: number }[]),
    ];
    const whole = await request<{ entries: { offset: number }[] }>(
      `${stack.url}/api/runs/${created.run_id}/logs?limit=1000`,
    );
    expect(streamed.map((e) => e.offset)).toEqual(whole.body.entries.map((e) => e.offset));
  });

  it('survives a client that disconnects mid-stream', async () => {
    const created = await launch();
    await waitForRun(stack, created.run_id, (r) => r.status === 'running');
    for (const path of ['events', 'logs/stream?offset=0']) {
      const controller = new AbortController();
      const response = await fetch(`${stack.url}/api/runs/${created.run_id}/${path}`, {
        signal: controller.signal,
      });
      await readEvents(response, () => true, controller);
    }
    expect((await request(`${stack.url}/api/health`)).status).toBe(200);
    await waitForRun(stack, created.run_id, isFinal);
    expect(
      stack.logs.entries.filter((e) => e.severity === 'ERROR' && String(e.message).includes('watch')),
    ).toEqual([]);
  });

  it("is 404 for another user's run, before any stream starts", async () => {
    const response = await fetch(`${stack.url}/api/runs/${finished.run_id}/events`, {
      headers: asUser('eve@example.com'),
    });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/json/);
  });
});

describe('files and downloads', () => {
  it('lists inputs, results and logs with download links that redirect to working signed URLs', async () => {
    const files = await request<{
      inputs: { path: string }[];
      results: { path: string }[];
      logs: { path: string; download_url: string }[];
      live_chunks: number;
    }>(`${stack.url}/api/runs/${finished.run_id}/files`);
    expect(files.status).toBe(200);
    expect(files.body.inputs.map((f) => f.path)).toEqual(
      expect.arrayContaining([
        'inputs/samplesheet.csv',
        'inputs/params.yaml',
        'inputs/nextflow.config',
        'request/samplesheet.csv',
      ]),
    );
    expect(files.body.results.map((f) => f.path)).toContain('results/multiqc/multiqc_report.html');
    expect(files.body.logs.map((f) => f.path)).toEqual(
      expect.arrayContaining(['logs/nextflow.log', 'logs/trace.txt', 'logs/exit.json']),
    );
    expect(files.body.live_chunks).toBeGreaterThan(0);

    const report = files.body.logs.find((f) => f.path === 'logs/trace.txt')!;
    const redirect = await fetch(`${stack.url}${report.download_url}`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const signed = redirect.headers.get('location')!;
    expect(signed).toContain('X-Goog-Signature=');
    const download = await fetch(signed);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toBe('attachment; filename="trace.txt"');
    expect(await download.text()).toBe(await read(`runs/${finished.run_id}/logs/trace.txt`));
    expect((await fetch(signed.replace('trace.txt', 'exit.json'))).status).toBe(403);
  });

  it('answers JSON with the URL and expiry on request', async () => {
    const json = await request<{ url: string; expires_at: string }>(
      `${stack.url}/api/runs/${finished.run_id}/download?path=inputs/params.yaml&format=json`,
    );
    expect(json.status).toBe(200);
    expect(Date.parse(json.body.expires_at) - Date.now()).toBeGreaterThan(50 * 60_000);
  });

  it.each([
    '../run-000000000000/inputs/params.yaml',
    'inputs/../../run-000000000000/inputs/params.yaml',
    '/runs/x/inputs/params.yaml',
    'inputs%2F..%2Fsecret',
    'inputs\\..\\x',
    'work/abc/.command.sh',
    'logs/live/trace.000001.tsv',
  ])('refuses the path %s', async (path) => {
    const response = await request(
      `${stack.url}/api/runs/${finished.run_id}/download?path=${encodeURIComponent(path)}`,
    );
    expect(response.status).toBe(400);
  });

  it('answers 404 for a file the run does not have', async () => {
    expect(
      (await request(`${stack.url}/api/runs/${finished.run_id}/download?path=results/nothing.html`)).status,
    ).toBe(404);
  });

  it('streams a zip of the final logs', async () => {
    const response = await fetch(`${stack.url}/api/runs/${finished.run_id}/logs/download`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/zip');
    expect(response.headers.get('content-disposition')).toBe(
      `attachment; filename="${finished.run_id}-logs.zip"`,
    );
    const zip = Buffer.from(await response.arrayBuffer());
    const names = await new Promise<string[]>((resolve, reject) => {
      yauzl.fromBuffer(zip, { lazyEntries: true }, (error, file) => {
        if (error) return reject(error);
        const found: string[] = [];
        file.on('entry', (entry: yauzl.Entry) => {
          found.push(entry.fileName);
          file.readEntry();
        });
        file.on('end', () => resolve(found));
        file.readEntry();
      });
    });
    expect(names.sort()).toEqual(
      ['nextflow.log', 'report.html', 'timeline.html', 'trace.txt'].map((n) => `${finished.run_id}/${n}`),
    );
  });
});

describe('artifact ingestion faults', () => {
  it('acknowledges a chunk for an unknown run and logs it', async () => {
    const object = await stack.gcs.putObject(
      stack.config.runsBucket,
      'runs/run-zzzzzzzzzzzz/logs/live/trace.000001.tsv',
      'task_id\tstatus\n1\tCOMPLETED\n',
    );
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    expect(
      stack.logs.entries.some(
        (e) => e.fields.run_id === 'run-zzzzzzzzzzzz' && e.fields.reason === 'no such run',
      ),
    ).toBe(true);
    expect(
      stack.bridge.deliveries
        .filter((d) => d.event.subject === `objects/${object.name}`)
        .map((d) => d.outcome),
    ).toEqual(['delivered']);
  });

  it('counts and skips malformed trace rows, reporting them in ingest.warnings', async () => {
    stack.workflows.holdNext();
    const created = await launch();
    await stack.gcs.putObject(
      stack.config.runsBucket,
      `runs/${created.run_id}/logs/live/trace.000001.tsv`,
      'task_id\tprocess\tstatus\n1\tA:B\tCOMPLETED\n2\tA:B\n3\tA:B\tCOMPLETED\textra\n4\tA:C\tCACHED\n',
    );
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    const run = (await getRun(stack, created.run_id)) as unknown as RunView;
    expect(run.progress).toMatchObject({ completed: 1, cached: 1 });
    expect(run.ingest.malformed_rows).toBe(2);
    expect(run.ingest.warnings).toEqual([
      'trace.000001.tsv line 3 skipped: has 2 cells, the header has 3',
      'trace.000001.tsv line 4 skipped: has 4 cells, the header has 3',
    ]);
    stack.workflows.release(created.workflow_execution!);
    await waitForRun(stack, created.run_id, isFinal);
  });

  it('reads a chunk at the generation its event names: a name written again is not counted twice', async () => {
    stack.workflows.holdNext();
    const created = await launch();
    const name = `runs/${created.run_id}/logs/live/trace.000001.tsv`;
    // Both events held back, as a slow or redelivering Eventarc would.
    const captured = stack.bridge.capture((event) => event.subject === `objects/${name}`);
    await stack.gcs.putObject(stack.config.runsBucket, name, 'task_id\tprocess\tstatus\n1\tA:B\tCOMPLETED\n');
    await stack.gcs.putObject(
      stack.config.runsBucket,
      name,
      'task_id\tprocess\tstatus\n2\tA:B\tCOMPLETED\n3\tA:B\tCOMPLETED\n',
    );
    stack.bridge.stopCapturing();
    expect(captured).toHaveLength(2);
    // The newer generation, then the older one (its content is gone; the name now holds the
    // newer content, already counted under its own generation), then the older one again.
    await stack.bridge.deliverInOrder([captured[1]!, captured[0]!, captured[0]!]);
    expect(((await getRun(stack, created.run_id)) as unknown as RunView).progress.completed).toBe(2);
    stack.workflows.release(created.workflow_execution!);
    await waitForRun(stack, created.run_id, isFinal);
  });

  it('ends with the same progress and metrics when chunk events arrive duplicated and shuffled', async () => {
    const created = await launch({ samplesheet_csv: samplesheet(2) });
    const ofThisRun = (event: CloudEvent) =>
      (event.subject ?? '').includes(`runs/${created.run_id}/logs/`) &&
      !(event.subject ?? '').endsWith('exit.json');
    const captured = stack.bridge.capture(ofThisRun);
    await waitForRun(stack, created.run_id, isFinal);
    await settled(
      stack,
      stack.workflows.get(created.workflow_execution!)!.done,
      'the workflow execution ending',
    );
    stack.bridge.stopCapturing();
    const chunks = captured.filter((c) => c.event.subject!.includes('/live/'));
    expect(chunks.length).toBeGreaterThan(4);
    const order = (seed: number) =>
      [...captured, ...chunks]
        .map((item, i) => ({ item, key: Math.sin(seed * 7919 + i) }))
        .sort((a, b) => a.key - b.key)
        .map(({ item }) => item);
    await stack.bridge.deliverInOrder(order(1));
    const first = (await getRun(stack, created.run_id)) as unknown as RunView;
    await stack.bridge.deliverInOrder(order(2));
    const second = (await getRun(stack, created.run_id)) as unknown as RunView;
    expect(second.progress).toEqual(first.progress);
    expect(second.metrics).toEqual(first.metrics);
    const trace = parseTrace(await read(`runs/${created.run_id}/logs/trace.txt`));
    expect(first.progress).toMatchObject({
      completed: trace.tasks.length,
      submitted: trace.tasks.length,
      source: 'final',
    });
  });
});
