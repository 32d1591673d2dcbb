import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Run, RunStatus } from '../../functions/core/runs/run-model';
import { STATUS_RANK } from '../../functions/core/shared/run-status';
import { waitFor } from '../../scripts/lib/net';
import type { CloudEvent } from '../../scripts/local/event-bridge';
import { request } from '../helpers/api-server';
import { subscribeToRunEvents } from '../helpers/pubsub';
import { runBody, samplesheet } from '../helpers/samplesheets';
import { getRun, isFinal, settled, startTestStack, type TestStack, waitForRun } from '../helpers/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

async function launch(overrides: Record<string, unknown> = {}): Promise<Run> {
  const response = await request<Run>(`${stack.url}/api/runs`, { method: 'POST', json: runBody(overrides) });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

async function objects(prefix: string): Promise<string[]> {
  const [files] = await (await import('../../functions/deps'))
    .createStorage(stack.config)
    .bucket(stack.config.runsBucket)
    .getFiles({ prefix });
  return files.map((f) => f.name).sort();
}

async function read(name: string): Promise<string> {
  const [content] = await (await import('../../functions/deps'))
    .createStorage(stack.config)
    .bucket(stack.config.runsBucket)
    .file(name)
    .download();
  return content.toString('utf8');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a run on the local stack', () => {
  it('goes pending → submitted → running → completed, with inputs and logs at the documented paths', async () => {
    const created = await launch({ samplesheet_csv: samplesheet(2, 2) });
    expect(created.status).toBe('pending');
    expect(created.workflow_execution).toMatch(/^projects\/.+\/workflows\/run-pipeline\/executions\/.+/);

    const run = await waitForRun(stack, created.run_id, isFinal);
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    const final = await getRun(stack, created.run_id);
    expect(run.status).toBe('completed');
    expect(final).toMatchObject({
      status: 'completed',
      exit_code: 0,
      error_message: null,
      executor: 'replay',
      batch_job_name: `projects/${stack.config.project}/locations/us-central1/jobs/nf-${created.run_id}`,
    });
    for (const field of ['submitted_at', 'started_at', 'completed_at'] as const)
      expect(final[field]).toEqual(expect.any(String));
    expect(final.submitted_at! <= final.started_at!).toBe(true);
    expect(final.started_at! <= final.completed_at!).toBe(true);

    const prefix = `runs/${created.run_id}/`;
    const stored = await objects(prefix);
    expect(stored).toEqual(
      expect.arrayContaining([
        `${prefix}request/samplesheet.csv`,
        `${prefix}inputs/samplesheet.csv`,
        `${prefix}inputs/params.yaml`,
        `${prefix}inputs/nextflow.config`,
        `${prefix}logs/nextflow.log`,
        `${prefix}logs/trace.txt`,
        `${prefix}logs/timeline.html`,
        `${prefix}logs/report.html`,
        `${prefix}logs/exit.json`,
        `${prefix}logs/live/trace.01-000001.tsv`,
        `${prefix}logs/live/nextflow.01-000001.log`,
        `${prefix}results/multiqc/multiqc_report.html`,
      ]),
    );
    const params = parse(await read(`${prefix}inputs/params.yaml`)) as Record<string, unknown>;
    expect(params).toMatchObject({
      input: `gs://${stack.config.runsBucket}/${prefix}inputs/samplesheet.csv`,
      outdir: `gs://${stack.config.runsBucket}/${prefix}results`,
      aligner: 'star',
      genome: 'GRCh38',
    });
    expect(await read(`${prefix}inputs/nextflow.config`)).toContain("executor      = 'google-batch'");
    const trace = await read(`${prefix}logs/trace.txt`);
    expect(trace.split('\n')[0]).toMatch(/^task_id\thash\tnative_id\tprocess\ttag\tname\tstatus/);
    expect(trace).toContain('NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN (SAMPLE_2)');
    // The reports are of this run: every task in the execution report and on the timeline,
    // resources per process, each said to come from a replay; a tool's report says it did not run.
    const report = await read(`${prefix}logs/report.html`);
    expect(report).toContain('Workflow execution completed successfully!');
    expect(report).toContain('Made by the replay executor');
    const taskCount = trace.trim().split('\n').length - 1;
    expect(
      report.match(/<tr><td class="n">\d+<\/td><td class="mono nowrap">[0-9a-f]{2}\/[0-9a-f]{6}<\/td>/g),
    ).toHaveLength(taskCount);
    expect(report).toMatch(/<td class="mono">STAR_ALIGN<\/td><td class="n">2<\/td><td class="n">2<\/td>/);
    const timeline = await read(`${prefix}logs/timeline.html`);
    expect(timeline.match(/<rect [^>]*fill="(?!#dde1e8)[^"]+"><title>/g)).toHaveLength(taskCount);
    const multiqc = await read(`${prefix}results/multiqc/multiqc_report.html`);
    expect(multiqc).toContain("Placeholder, not MULTIQC's report.");
    expect(multiqc).not.toContain('<script');
    expect(JSON.parse(await read(`${prefix}logs/exit.json`))).toMatchObject({
      exit_code: 0,
      session_id: created.session_id,
      executor: 'replay',
    });

    const execution = stack.workflows.get(created.workflow_execution!)!;
    await settled(stack, execution.done, 'the workflow execution ending');
    expect(execution.state, JSON.stringify(execution.error ?? execution)).toBe('SUCCEEDED');
  });

  it('fails at the chosen process with the exit code, the failed task and the error from the log', async () => {
    const created = await launch({
      params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3', replay_fail_process: 'STAR_ALIGN' },
    });
    const run = await waitForRun(stack, created.run_id, isFinal);
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    const final = await getRun(stack, created.run_id);
    expect(run.status).toBe('failed');
    expect(final).toMatchObject({
      status: 'failed',
      exit_code: 1,
      error_task: 'NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN (SAMPLE_1)',
      error_message:
        'Process `NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN (SAMPLE_1)` terminated with an error exit status (1)',
    });
    expect(final.error_detail).toContain('Command error:');
    expect(final.error_detail).toContain('EXITING because of FATAL ERROR in reads input');
    // Exit 1 (a corrupt FASTQ) fails the same way every time: no retry.
    const trace = await read(`runs/${created.run_id}/logs/trace.txt`);
    expect(trace.match(/STAR_ALIGN \(SAMPLE_1\)\tFAILED/g)).toHaveLength(1);
  });

  it('retries a task killed for memory (137) three times before the run fails', async () => {
    const created = await launch({
      params: {
        aligner: 'star',
        genome: 'GRCh38',
        protocol: '10XV3',
        replay_fail_process: 'STAR_ALIGN',
        replay_fail_exit_code: 137,
      },
    });
    await waitForRun(stack, created.run_id, isFinal);
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    expect(await getRun(stack, created.run_id)).toMatchObject({
      status: 'failed',
      error_message: expect.stringContaining('terminated with an error exit status (137)'),
    });
    const trace = await read(`runs/${created.run_id}/logs/trace.txt`);
    expect(trace.match(/STAR_ALIGN \(SAMPLE_1\)\tFAILED/g)).toHaveLength(4);
  });

  it('fails an nf-core/rnaseq run at once, saying the replay has no recording of it and how to run it for real', async () => {
    const [header, ...rows] = samplesheet(2).trim().split('\n');
    const rnaseqSheet = [
      `${header!.replace(',expected_cells', '')},strandedness`,
      ...rows.map((r) => `${r.replace(/,5000$/, '')},auto`),
    ].join('\n');
    const created = await launch({
      pipeline: 'nf-core/rnaseq',
      pipeline_version: '3.24.0',
      samplesheet_csv: rnaseqSheet,
      params: { genome: 'GRCh38' },
    });
    await waitForRun(stack, created.run_id, isFinal);
    // Batch's FAILED event may be first; the reason from nextflow.log follows with exit.json.
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    const run = await getRun(stack, created.run_id);
    expect(run).toMatchObject({
      status: 'failed',
      pipeline: 'nf-core/rnaseq',
      error_task: null,
      error_message: expect.stringContaining(
        'The replay executor has a recording of nf-core/scrnaseq only; nf-core/rnaseq has none, so this run cannot be replayed. Install Nextflow',
      ),
    });
    // Nothing of scrnaseq's was replayed for it.
    const trace = await objects(`runs/${created.run_id}/logs/live/trace.`);
    expect(trace).toEqual([]);
  });

  it('cancels a running run: the task process is gone and later Batch events do not change it', async () => {
    const created = await launch();
    await waitForRun(stack, created.run_id, (r) => r.status === 'running');
    const jobName = (await getRun(stack, created.run_id)).batch_job_name!;
    await waitFor(() => stack.batch.processOf(jobName) !== null, {
      timeoutMs: 10_000,
      what: 'the task process',
    });
    const pid = stack.batch.processOf(jobName)!.pid!;

    const cancelled = await request<Run>(`${stack.url}/api/runs/${created.run_id}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');

    await waitFor(async () => (await stack.batch.getJob(jobName))?.status.state === 'CANCELLED', {
      timeoutMs: 15_000,
      what: 'the job to be cancelled',
    });
    expect(processAlive(pid)).toBe(false);
    await settled(
      stack,
      stack.workflows.get(created.workflow_execution!)!.done,
      'the workflow execution ending',
    );
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    const final = await getRun(stack, created.run_id);
    expect(final.status).toBe('cancelled');
    expect(final.cancelled_at).toBe(cancelled.body.cancelled_at);
    const history = (
      await request<Run & { events: { source: string; to: string; applied: boolean }[] }>(
        `${stack.url}/api/runs/${created.run_id}?include=events`,
      )
    ).body.events;
    expect(history.filter((e) => e.source === 'batch-event' && e.to === 'cancelled')).not.toEqual([]);
  });

  it('cancelled before submission: the workflow never creates the Batch job', async () => {
    stack.workflows.holdNext();
    const created = await launch();
    const cancelled = await request<Run>(`${stack.url}/api/runs/${created.run_id}`, { method: 'DELETE' });
    expect(cancelled.body.status).toBe('cancelled');
    stack.workflows.release(created.workflow_execution!);
    const execution = stack.workflows.get(created.workflow_execution!)!;
    await settled(stack, execution.done, 'the workflow execution ending');
    expect(execution.state).toBe('SUCCEEDED');
    expect(JSON.parse(execution.result!)).toMatchObject({ outcome: 'not submitted' });
    expect(stack.batch.createCalls.filter((c) => c.name.endsWith(`nf-${created.run_id}`))).toEqual([]);
    expect((await getRun(stack, created.run_id)).status).toBe('cancelled');
  });

  it('ends failed with Batch’s message when the job cannot be created', async () => {
    stack.batch.failNextCreate(403, "Quota 'CPUS' exceeded. Limit: 24.0 in region us-central1.");
    const created = await launch();
    const run = await waitForRun(stack, created.run_id, isFinal);
    expect(run.status).toBe('failed');
    expect(run.error_message).toContain("Quota 'CPUS' exceeded");
    expect(run.error_message).toMatch(/^The run-pipeline workflow stopped:/);
    const execution = stack.workflows.get(created.workflow_execution!)!;
    await settled(stack, execution.done, 'the workflow execution ending');
    expect(execution.state).toBe('FAILED');
  });

  it('reaches the same run document when Batch and GCS events arrive duplicated and shuffled', async () => {
    const created = await launch({
      params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3', replay_fail_process: 'MTX_TO_H5AD' },
    });
    const subscriber = await subscribeToRunEvents(
      stack.pubsubHost,
      stack.config.project,
      stack.config.runEventsTopic,
    );
    const isThisRun = (event: CloudEvent) =>
      (event.subject ?? '').includes(created.run_id) ||
      JSON.stringify(event.data).includes(`nf-${created.run_id}`);
    const captured = stack.bridge.capture(isThisRun);
    const reconciled = await waitForRun(stack, created.run_id, isFinal);
    await settled(
      stack,
      stack.workflows.get(created.workflow_execution!)!.done,
      'the workflow execution ending',
    );
    stack.bridge.stopCapturing();
    expect(reconciled.status).toBe('failed');
    expect(captured.length, JSON.stringify(reconciled)).toBeGreaterThan(5);

    const shuffled = (seed: number) =>
      [...captured, ...captured]
        .map((item, i) => ({ item, key: Math.sin(seed * 1000 + i) }))
        .sort((a, b) => a.key - b.key)
        .map(({ item }) => item);
    await stack.bridge.deliverInOrder(shuffled(1));
    const first = await getRun(stack, created.run_id);
    await stack.bridge.deliverInOrder(shuffled(2));
    const second = await getRun(stack, created.run_id);
    expect(second).toEqual(first);
    expect(first).toMatchObject({
      status: 'failed',
      exit_code: 1,
      error_task: 'NFCORE_SCRNASEQ:SCRNASEQ:MTX_TO_H5AD (SAMPLE_1)',
      error_message:
        'Process `NFCORE_SCRNASEQ:SCRNASEQ:MTX_TO_H5AD (SAMPLE_1)` terminated with an error exit status (1)',
    });
    expect(first.started_at).toEqual(expect.any(String));

    // What went out of the platform: one event per applied status change, in order, however
    // duplicated and shuffled the events that came in were.
    const history = await request<
      Run & { events: { from: RunStatus | null; to: RunStatus; applied: boolean }[] }
    >(`${stack.url}/api/runs/${created.run_id}?include=events`);
    const transitions = history.body.events
      .filter((e) => e.applied && e.from !== null && STATUS_RANK[e.to] > STATUS_RANK[e.from])
      .map((e) => `${e.from}→${e.to}`);
    expect(transitions).toEqual(['pending→submitted', 'submitted→running', 'running→failed']);
    const ofThisRun = () => subscriber.received.filter((r) => r.event.subject === created.run_id);
    await waitFor(() => ofThisRun().length >= transitions.length, {
      timeoutMs: 15_000,
      what: 'the run events',
    });
    // Anything late or repeated would have arrived by now: the emulator delivers within milliseconds.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await subscriber.close();
    const out = ofThisRun();
    expect(out.map((r) => `${r.event.data.from}→${r.event.data.to}`)).toEqual(transitions);
    expect(new Set(out.map((r) => r.event.id)).size).toBe(out.length);
    const failed = out.at(-1)!;
    expect(failed.event).toMatchObject({
      specversion: '1.0',
      type: 'com.arcreactor.run.status.changed.v1',
      id: `${created.run_id}/failed`,
      data: {
        kind: 'nextflow',
        pipeline: 'nf-core/scrnaseq',
        user_email: 'dev@example.com',
        duration_seconds: expect.any(Number),
      },
    });
    expect(failed.attributes).toMatchObject({
      status: 'failed',
      pipeline: 'nf-core/scrnaseq',
      user: 'dev@example.com',
      kind: 'nextflow',
    });
    expect(failed.orderingKey).toBe(created.run_id);
  });
});

describe('the README', () => {
  it("launches its curl example's run and it completes", async () => {
    const readme = (await import('node:fs')).readFileSync('README.md', 'utf8');
    const body =
      /curl -s -X POST localhost:8080\/api\/runs -H 'content-type: application\/json' -d '(\{[\s\S]*?\})'/.exec(
        readme,
      )?.[1];
    expect(body, 'the README shows a POST /api/runs curl with a JSON body').toBeDefined();
    const response = await request<Run>(`${stack.url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body!,
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    expect((await waitForRun(stack, response.body.run_id, isFinal)).status).toBe('completed');
  });
});
