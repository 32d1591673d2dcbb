import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../functions/core/runs/run-model';
import { waitFor } from '../../scripts/lib/net';
import { request } from '../helpers/api-server';
import { runBody } from '../helpers/samplesheets';
import { getRun, isFinal, settled, startTestStack, type TestStack, waitForRun } from '../helpers/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

async function launch(): Promise<Run> {
  const response = await request<Run>(`${stack.url}/api/runs`, { method: 'POST', json: runBody() });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

function pubsubData(attributes: Record<string, string>) {
  return {
    message: {
      attributes,
      data: Buffer.from('Job state was updated.').toString('base64'),
      messageId: '1',
      publishTime: new Date().toISOString(),
    },
    subscription: 'projects/p/subscriptions/s',
  };
}

async function postBinary(fn: string, type: string, data: unknown, extra: Record<string, string> = {}) {
  return fetch(`${stack.functionsUrl}/${fn}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': `id-${Math.random()}`,
      'ce-type': type,
      'ce-source': '//test',
      ...extra,
    },
    body: JSON.stringify(data),
  });
}

async function postStructured(fn: string, type: string, data: unknown, subject?: string) {
  return fetch(`${stack.functionsUrl}/${fn}`, {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({
      specversion: '1.0',
      id: `id-${Math.random()}`,
      type,
      source: '//test',
      ...(subject ? { subject } : {}),
      datacontenttype: 'application/json',
      data,
    }),
  });
}

const PUBSUB = 'google.cloud.pubsub.topic.v1.messagePublished';
const FINALIZED = 'google.cloud.storage.object.v1.finalized';

describe('onBatchJobEvent', () => {
  it('reads the job for the authoritative state, from a binary-mode or a structured-mode CloudEvent', async () => {
    stack.workflows.holdNext();
    const created = await launch();
    // Nothing has run: prepare never ran, so create the job the way the workflow would.
    stack.workflows.release(created.workflow_execution!);
    const running = await waitForRun(stack, created.run_id, (r) => r.status === 'running' || isFinal(r));
    expect(['running', 'completed']).toContain(running.status);
    const attributes = {
      JobName: running.batch_job_name!,
      JobUID: 'uid',
      NewJobState: 'QUEUED',
      Region: 'us-central1',
    };
    // A stale notification (QUEUED) cannot move the run back: the job itself says RUNNING or later.
    const binary = await postBinary('onBatchJobEvent', PUBSUB, pubsubData(attributes));
    expect(binary.status).toBe(204);
    const structured = await postStructured('onBatchJobEvent', PUBSUB, pubsubData(attributes));
    expect(structured.status).toBe(204);
    const after = await getRun(stack, created.run_id);
    expect(['running', 'completed']).toContain(after.status);
    await waitForRun(stack, created.run_id, isFinal);
  });

  it('acknowledges a message that is not about an Arc Reactor job, or has no job name', async () => {
    for (const data of [
      pubsubData({ JobName: 'projects/p/locations/r/jobs/someone-elses-job' }),
      pubsubData({}),
      { not: 'pubsub' },
    ]) {
      const response = await postBinary('onBatchJobEvent', PUBSUB, data);
      expect(response.status).toBe(204);
    }
    expect(stack.logs.entries.some((e) => e.message === 'batch_event_malformed')).toBe(true);
  });

  it('answers 500 while Batch cannot be read, so that Eventarc delivers the event again', async () => {
    stack.workflows.holdNext();
    const created = await launch();
    await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
    const jobName = `projects/${stack.config.project}/locations/us-central1/jobs/nf-${created.run_id}`;
    // Only this job's read fails: other runs' workflows, still polling Batch, must not take the fault.
    stack.batch.failNextGets(1, 500, 'Internal error encountered.', jobName);
    const response = await postBinary('onBatchJobEvent', PUBSUB, pubsubData({ JobName: jobName }));
    expect(response.status).toBe(500);
    // The same event again, Batch reachable: acknowledged (the job does not exist yet, nothing changes).
    expect((await postBinary('onBatchJobEvent', PUBSUB, pubsubData({ JobName: jobName }))).status).toBe(204);
    stack.workflows.release(created.workflow_execution!);
    await waitForRun(stack, created.run_id, isFinal);
  });

  it('gets through when Batch is briefly unavailable: the bridge retries and the run still finishes', async () => {
    stack.batch.failNextGets(3, 500, 'Internal error encountered.');
    const created = await launch();
    const run = await waitForRun(stack, created.run_id, isFinal);
    expect(run.status).toBe('completed');
    expect(stack.bridge.deliveries.some((d) => d.attempts > 1 && d.outcome === 'delivered')).toBe(true);
  });
});

describe('onRunArtifact', () => {
  it('ignores objects it does not read and malformed payloads, in either mode', async () => {
    const object = {
      bucket: stack.config.runsBucket,
      name: 'runs/run-aaaaaaaaaaaa/logs/live/whatever.txt',
      generation: '1',
      size: '1',
    };
    expect((await postBinary('onRunArtifact', FINALIZED, object)).status).toBe(204);
    expect((await postStructured('onRunArtifact', FINALIZED, object, `objects/${object.name}`)).status).toBe(
      204,
    );
    expect((await postBinary('onRunArtifact', FINALIZED, { name: 42 })).status).toBe(204);
    expect(
      (
        await postBinary('onRunArtifact', FINALIZED, {
          ...object,
          name: 'runs/run-zzzzzzzzzzzz/logs/exit.json',
        })
      ).status,
    ).toBe(204);
  });

  it('applies exit.json delivered in structured mode, and a malformed exit.json is acknowledged and logged', async () => {
    stack.workflows.holdNext();
    const created = await launch();
    const name = `runs/${created.run_id}/logs/exit.json`;
    const put = async (content: string) => {
      const object = await stack.gcs.putObject(stack.config.runsBucket, name, content, 'application/json');
      return postStructured('onRunArtifact', FINALIZED, object, `objects/${name}`);
    };
    expect((await put('{"exit_code": "not a number"}')).status).toBe(204);
    expect(
      stack.logs.entries.some(
        (e) => e.message === 'artifact_ignored' && String(e.fields.reason).startsWith('malformed exit.json'),
      ),
    ).toBe(true);
    const report = {
      exit_code: 137,
      error_message: 'Killed',
      error_task: 'X (S1)',
      error_detail: null,
      session_id: created.session_id,
      finished_at: new Date().toISOString(),
    };
    expect((await put(JSON.stringify(report))).status).toBe(204);
    await waitFor(async () => (await getRun(stack, created.run_id)).status === 'failed', {
      timeoutMs: 5_000,
      what: 'the run to fail',
    });
    expect(await getRun(stack, created.run_id)).toMatchObject({
      exit_code: 137,
      error_task: 'X (S1)',
      error_message: 'Killed',
    });
    stack.workflows.release(created.workflow_execution!);
  });
});

describe('Batch create idempotency', () => {
  it('a create whose reply was lost is retried with the same requestId and adopts the first job', async () => {
    stack.batch.loseNextCreateReply();
    const created = await launch();
    const run = await waitForRun(stack, created.run_id, isFinal);
    expect(run.status).toBe('completed');
    const calls = stack.batch.createCalls.filter((c) => c.name.endsWith(`nf-${created.run_id}`));
    expect(calls.map((c) => c.outcome)).toEqual(['created, reply lost', 'same request']);
    expect(new Set(calls.map((c) => c.requestId)).size).toBe(1);
    expect(stack.batch.list().filter((j) => j.name.endsWith(`nf-${created.run_id}`))).toHaveLength(1);
  });
});
