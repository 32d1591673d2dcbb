import { Logging } from '@google-cloud/logging';
import { grpc } from 'google-gax';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudLoggingTaskLogs } from '../../functions/adapters/cloud-logging-task-logs';
import type { TraceTask } from '../../functions/core/nextflow/trace';
import { readTaskLogs } from '../../functions/core/runs/task-logs';
import type { JobSpec } from '../../functions/core/shared/batch';
import { LocalLogging, serveLogging } from '../../scripts/local/grpc/logging-service';
import { LocalBatch } from '../../scripts/local/local-batch';
import { tempDir } from '../helpers/env';

const spec = {
  taskGroups: [
    {
      taskCount: 1,
      taskSpec: {
        runnables: [],
        computeResource: { cpuMilli: 1, memoryMib: 1 },
        maxRunDuration: '60s',
        maxRetryCount: 0,
        lifecyclePolicies: [],
        environment: { variables: {} },
      },
    },
  ],
  allocationPolicy: { instances: [], serviceAccount: { email: 'x@y' } },
  labels: {},
  logsPolicy: { destination: 'CLOUD_LOGGING' },
  notifications: [],
} as unknown as JobSpec;

let dir: Awaited<ReturnType<typeof tempDir>>;
let batch: LocalBatch;
const logging = new LocalLogging();
let service: Awaited<ReturnType<typeof serveLogging>>;
let reader: CloudLoggingTaskLogs;

beforeAll(async () => {
  dir = await tempDir('arc-logging-');
  batch = new LocalBatch({
    command: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'],
    env: {},
    publish: () => {},
    logDir: dir.path,
    queuedMs: 60_000,
  });
  service = await serveLogging(logging);
  const [host, port] = service.host.split(':');
  const options = {
    projectId: 'lab',
    apiEndpoint: host,
    port: Number(port),
    sslCreds: grpc.credentials.createInsecure(),
    credentials: { client_email: 'x@y', private_key: 'z' },
  };
  const client = new Logging(options);
  reader = new CloudLoggingTaskLogs(client, batch, 'lab', 'us-central1');
});
afterAll(async () => {
  await batch?.shutdown();
  await service?.stop();
  await dir?.remove();
});

function task(nativeId: string | null, workdir: string | null = null): TraceTask {
  return {
    native_id: nativeId,
    workdir,
    task_id: 7,
    name: 'NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN (S1)',
    submit: '2026-11-23T10:00:00.000Z',
  } as TraceTask;
}

describe('task logs from Cloud Logging', () => {
  it("reads a Batch task's stdout and stderr by its job uid, in order", async () => {
    const job = await batch.createJob({
      parent: 'projects/lab/locations/us-central1',
      jobId: 'nf-7f3a9c21-1700000000000',
      requestId: '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed',
      job: spec,
    });
    const other = await batch.createJob({
      parent: 'projects/lab/locations/us-central1',
      jobId: 'nf-other-1700000000001',
      requestId: '2b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed',
      job: spec,
    });
    const write = (uid: string, severity: string, text: string, at: string) =>
      logging.write({
        logName: 'projects/lab/logs/batch_task_logs',
        severity,
        textPayload: text,
        labels: { job_uid: uid },
        timestamp: at,
      });
    write(job.uid!, 'INFO', '..... started STAR run', '2026-11-23T10:00:02.000Z');
    write(job.uid!, 'ERROR', 'EXITING because of FATAL ERROR', '2026-11-23T10:00:03.000Z');
    write(job.uid!, 'INFO', '..... loading genome', '2026-11-23T10:00:01.000Z');
    write(other.uid!, 'INFO', 'not this task', '2026-11-23T10:00:01.500Z');
    write(job.uid!, 'INFO', 'an older attempt, before the task was submitted', '2026-11-23T08:00:00.000Z');
    logging.write({
      logName: 'projects/lab/logs/batch_agent_logs',
      severity: 'INFO',
      textPayload: 'agent noise',
      labels: { job_uid: job.uid! },
    });

    const logs = await reader.read(task('nf-7f3a9c21-1700000000000'));
    expect(logs).toMatchObject({
      source: 'cloud-logging',
      stdout: '..... loading genome\n..... started STAR run',
      stderr: 'EXITING because of FATAL ERROR',
      truncated: false,
    });
    expect(logs!.locations[0]).toBe(
      `Cloud Logging: logName="projects/lab/logs/batch_task_logs" AND labels.job_uid="${job.uid}" AND timestamp>="2026-11-23T09:00:00.000Z"`,
    );
  });

  it('has nothing for a task without a Batch job, so the next source is tried', async () => {
    expect(await reader.read(task(null))).toBeNull();
    expect(await reader.read(task('nf-not-a-job'))).toBeNull();
    await expect(
      readTaskLogs([reader], 'run-aaaaaaaaaaaa', task('nf-not-a-job', 'gs://runs/work/ab/cdef')),
    ).rejects.toMatchObject({
      name: 'NotFoundError',
      message: expect.stringContaining('gs://runs/work/ab/cdef/.command.out and .command.err'),
    });
  });
});
