import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchServiceClient } from '@google-cloud/batch';
import { Storage } from '@google-cloud/storage';
import { grpc } from 'google-gax';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchJobRunner } from '../../functions/adapters/batch-job-runner';
import { JobExistsError, JobRunnerError, type JobSpec } from '../../functions/core/shared/batch';
import { gcsUploader } from '../../orchestrator/src/uploads';
import { waitForValue } from '../../scripts/lib/net';
import { serveBatch } from '../../scripts/local/grpc/batch-service';
import { LocalBatch, type PubSubMessage } from '../../scripts/local/local-batch';
import { tempDir } from '../helpers/env';

const PARENT = 'projects/arc-test/locations/us-central1';
const spec = (command = 'process.exit(0)'): JobSpec => ({
  taskGroups: [
    {
      taskCount: 1,
      taskSpec: {
        runnables: [{ container: { imageUri: 'orchestrator:test' } }],
        computeResource: { cpuMilli: 2000, memoryMib: 4096 },
        maxRunDuration: '604800s',
        maxRetryCount: 2,
        lifecyclePolicies: [
          { action: 'RETRY_TASK', actionCondition: { exitCodes: [50001] } },
          { action: 'FAIL_TASK', actionCondition: { exitCodes: [1] } },
        ],
        environment: { variables: { SCRIPT: command } },
      },
    },
  ],
  allocationPolicy: {
    instances: [{ policy: { machineType: 'e2-standard-2', provisioningModel: 'SPOT' } }],
    serviceAccount: { email: 'sa@arc-test.iam.gserviceaccount.com' },
  },
  labels: { app: 'arc-reactor' },
  logsPolicy: { destination: 'CLOUD_LOGGING' },
  notifications: [
    { pubsubTopic: 'projects/arc-test/topics/arc-batch-events', message: { type: 'JOB_STATE_CHANGED' } },
  ],
});

let dir: Awaited<ReturnType<typeof tempDir>>;
let batch: LocalBatch;
let service: Awaited<ReturnType<typeof serveBatch>>;
let client: BatchServiceClient;
let runner: BatchJobRunner;
const published: PubSubMessage[] = [];
let counter = 0;
const jobId = () => `nf-run-adapter${String(++counter).padStart(5, '0')}`;
const requestId = () =>
  `0b5d7c9e-1f2a-4b3c-8d4e-${String(Date.now()).slice(-6)}${String(++counter).padStart(6, '0')}`;

beforeAll(async () => {
  dir = await tempDir('arc-batch-');
  // The task runs `node -e "$SCRIPT"`: the job's own environment decides how it exits.
  batch = new LocalBatch({
    command: [process.execPath, '-e', 'eval(process.env.SCRIPT)'],
    // The inference image runs its own program, with the container's commands as arguments.
    programs: [
      {
        image: 'stack-inference',
        command: [process.execPath, '-e', 'process.exit(Number(process.argv.at(-1)))'],
      },
    ],
    env: {},
    publish: (m) => published.push(m),
    logDir: dir.path,
    queuedMs: 20,
    scheduledMs: 20,
  });
  service = await serveBatch(batch);
  const [host, port] = service.host.split(':');
  client = new BatchServiceClient({
    apiEndpoint: host!,
    port: Number(port),
    sslCreds: grpc.credentials.createInsecure(),
    projectId: 'arc-test',
    credentials: { client_email: 'x@y', private_key: 'z' },
  });
  runner = new BatchJobRunner(client);
});
afterAll(async () => {
  await client?.close();
  await batch?.shutdown();
  await service?.stop();
  await dir?.remove();
});

function waitForState(name: string, state: string) {
  return waitForValue(
    async () => {
      const job = await runner.getJob(name);
      return job?.status.state === state ? job : null;
    },
    { timeoutMs: 5_000, intervalMs: 50, what: `job ${name} to reach ${state}` },
  );
}

describe('BatchJobRunner against the Batch twin over gRPC', () => {
  it('creates a job, reads it back in the REST shape, and it runs to SUCCEEDED with notifications', async () => {
    const id = jobId();
    const created = await runner.createJob({
      parent: PARENT,
      jobId: id,
      requestId: requestId(),
      job: spec(),
    });
    expect(created).toMatchObject({
      name: `${PARENT}/jobs/${id}`,
      status: { state: 'QUEUED' },
      labels: { app: 'arc-reactor' },
    });
    const done = await waitForState(created.name, 'SUCCEEDED');
    expect(done.status.statusEvents.map((e) => e.description)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('to RUNNING'),
        expect.stringContaining('to SUCCEEDED'),
      ]),
    );
    expect(
      published.filter((m) => m.attributes.JobName === created.name).map((m) => m.attributes.NewJobState),
    ).toEqual(['QUEUED', 'SCHEDULED', 'RUNNING', 'SUCCEEDED']);
  });

  it("runs the program of the job's container image, with the container's commands", async () => {
    const inference = spec();
    inference.taskGroups[0]!.taskSpec.runnables = [
      { container: { imageUri: 'us-docker.pkg.dev/arc/stack-inference:1', commands: ['3'] } },
    ];
    const { name } = await runner.createJob({
      parent: PARENT,
      jobId: `stack-hs-adapter0000${++counter % 10}-i1-treat`,
      requestId: requestId(),
      job: inference,
    });
    const failed = await waitForState(name, 'FAILED');
    expect(failed.status.statusEvents.map((e) => e.description).join(' ')).toMatch(/exit code 3/);
    const { name: orchestrator } = await runner.createJob({
      parent: PARENT,
      jobId: jobId(),
      requestId: requestId(),
      job: spec('process.exit(0)'),
    });
    await waitForState(orchestrator, 'SUCCEEDED');
  });

  it('adopts the existing job on ALREADY_EXISTS, or reports it when asked not to', async () => {
    const id = jobId();
    const first = await runner.createJob({ parent: PARENT, jobId: id, requestId: requestId(), job: spec() });
    const adopted = await runner.createJob({
      parent: PARENT,
      jobId: id,
      requestId: requestId(),
      job: spec(),
    });
    expect(adopted.uid).toBe(first.uid);
    await expect(
      runner.createJob({
        parent: PARENT,
        jobId: id,
        requestId: requestId(),
        job: spec(),
        adoptExisting: false,
      }),
    ).rejects.toBeInstanceOf(JobExistsError);
  });

  it('returns the same job for a repeated requestId (a create whose reply was lost)', async () => {
    const id = jobId();
    const rid = requestId();
    const first = await runner.createJob({ parent: PARENT, jobId: id, requestId: rid, job: spec() });
    const again = await runner.createJob({
      parent: PARENT,
      jobId: id,
      requestId: rid,
      job: spec(),
      adoptExisting: false,
    });
    expect(again.uid).toBe(first.uid);
  });

  it('maps refusals to JobRunnerError with the HTTP status and Batch’s message', async () => {
    const bad = runner.createJob({
      parent: PARENT,
      jobId: 'nf-run_with_underscore',
      requestId: requestId(),
      job: spec(),
    });
    await expect(bad).rejects.toBeInstanceOf(JobRunnerError);
    await expect(bad).rejects.toMatchObject({ status: 400, message: expect.stringContaining('invalid') });
    batch.failNextCreate(403, "Quota 'CPUS' exceeded.");
    await expect(
      runner.createJob({ parent: PARENT, jobId: jobId(), requestId: requestId(), job: spec() }),
    ).rejects.toMatchObject({ status: 403 });
  });

  it('answers null for a job that does not exist, and cancelling it is not an error', async () => {
    expect(await runner.getJob(`${PARENT}/jobs/nf-run-doesnotexist`)).toBeNull();
    await expect(runner.cancelJob(`${PARENT}/jobs/nf-run-doesnotexist`)).resolves.toBeUndefined();
  });

  it('cancels a running job: its task process is killed and the job ends CANCELLED', async () => {
    const id = jobId();
    const created = await runner.createJob({
      parent: PARENT,
      jobId: id,
      requestId: requestId(),
      job: spec('setInterval(() => {}, 1000)'),
    });
    await waitForState(created.name, 'RUNNING');
    const pid = await waitForValue(async () => batch.processOf(created.name)?.pid ?? null, {
      timeoutMs: 1_000,
      intervalMs: 20,
      what: 'the task process',
    });
    await runner.cancelJob(created.name);
    await waitForState(created.name, 'CANCELLED');
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(runner.cancelJob(created.name)).resolves.toBeUndefined();
  });

  it('retries a task that exits 50001 (preemption) and fails for good on exit 1', async () => {
    const preempted = await runner.createJob({
      parent: PARENT,
      jobId: jobId(),
      requestId: requestId(),
      job: spec('process.exit(50001 % 256 === 81 ? 1 : 1)'),
    });
    const failed = await waitForState(preempted.name, 'FAILED');
    expect(failed.status.statusEvents.at(-1)).toMatchObject({ taskExecution: { exitCode: 1 } });
    expect(failed.status.statusEvents.filter((e) => e.description?.includes('retrying'))).toEqual([]);
    const flaky = await runner.createJob({
      parent: PARENT,
      jobId: jobId(),
      requestId: requestId(),
      job: spec('process.exit(3)'),
    });
    const retried = await waitForState(flaky.name, 'FAILED');
    expect(retried.status.statusEvents.filter((e) => e.description?.includes('retrying'))).toHaveLength(2);
  });
});

describe('a retried task on the Batch twin', () => {
  it('starts its next attempt only once every process of the dead one is gone, as a new VM would', async () => {
    const marker = join(dir.path, `attempts-${counter}.txt`);
    // Attempt 0 starts a child that keeps writing (Nextflow under the orchestrator), then the
    // leader alone is killed; attempt 1 records whether that child is still there.
    const script = `
      const fs = require('node:fs');
      const { spawn } = require('node:child_process');
      const marker = ${JSON.stringify(marker)};
      if (process.env.BATCH_TASK_RETRY_ATTEMPT === '0') {
        const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
        fs.writeFileSync(marker, String(child.pid));
        setTimeout(() => process.kill(process.pid, 'SIGKILL'), 100);
      } else {
        const pid = Number(fs.readFileSync(marker, 'utf8'));
        let alive = true;
        try { process.kill(pid, 0); } catch { alive = false; }
        fs.writeFileSync(marker, alive ? 'left running' : 'gone');
      }`;
    const created = await runner.createJob({
      parent: PARENT,
      jobId: jobId(),
      requestId: requestId(),
      job: spec(script),
    });
    const done = await waitForState(created.name, 'SUCCEEDED');
    expect(done.status.statusEvents.filter((e) => e.description?.includes('retrying'))).toHaveLength(1);
    expect(readFileSync(marker, 'utf8')).toBe('gone');
  });
});

describe('orchestrator uploads', () => {
  it('retry with backoff and report failure instead of throwing when storage stays unreachable', async () => {
    const logged: string[] = [];
    const uploader = gcsUploader(
      new Storage({ apiEndpoint: 'http://127.0.0.1:9', projectId: 'x', retryOptions: { autoRetry: false } }),
      (m) => logged.push(m),
      3,
      5,
    );
    await expect(
      uploader.upload('gs://bucket/runs/run-aaaaaaaaaaaa/logs/live/trace.000001.tsv', 'x', 'text/plain'),
    ).resolves.toBe(false);
    expect(logged).toHaveLength(3);
    expect(logged[2]).toMatch(/attempt 3\/3/);
  });
});
