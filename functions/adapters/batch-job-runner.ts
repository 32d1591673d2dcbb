import type { BatchServiceClient, protos } from '@google-cloud/batch';
import {
  BatchJob,
  type CreateJobInput,
  JobExistsError,
  type JobRunner,
  JobRunnerError,
  type JobSpec,
} from '../core/shared/batch';
import { GrpcCode, grpcCodeOf, httpStatusForGrpc, missingCredentials } from './grpc-status';

type ProtoJob = protos.google.cloud.batch.v1.IJob;

interface ProtoTimestamp {
  seconds?: string | number | null;
  nanos?: number | null;
}

function timestampToIso(value: unknown): string | undefined {
  const ts = value as ProtoTimestamp | null | undefined;
  if (!ts || ts.seconds === undefined || ts.seconds === null) return undefined;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

function durationToProto(value: string): { seconds: number; nanos: number } {
  const match = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(value);
  if (!match) throw new Error(`"${value}" is not a protobuf duration such as 604800s`);
  return { seconds: Number(match[1]), nanos: Number((match[2] ?? '').padEnd(9, '0')) };
}

/** The REST-shaped job spec, as the gRPC client wants it (durations as {seconds, nanos}). */
export function jobSpecToProto(spec: JobSpec): Record<string, unknown> {
  return {
    ...spec,
    taskGroups: spec.taskGroups.map((group) => ({
      ...group,
      taskSpec: { ...group.taskSpec, maxRunDuration: durationToProto(group.taskSpec.maxRunDuration) },
    })),
  };
}

/** A job from the gRPC client in the REST shape the rest of the code (and Workflows) uses. */
export function jobFromProto(job: ProtoJob): BatchJob {
  const status = job.status ?? {};
  return BatchJob.parse({
    name: job.name,
    uid: job.uid || undefined,
    status: {
      state: status.state || 'STATE_UNSPECIFIED',
      statusEvents: (status.statusEvents ?? []).map((event) => ({
        type: event.type || undefined,
        description: event.description || undefined,
        eventTime: timestampToIso(event.eventTime),
        taskState: event.taskState || undefined,
        ...(event.taskExecution
          ? { taskExecution: { exitCode: event.taskExecution.exitCode ?? undefined } }
          : {}),
      })),
      ...(status.runDuration ? { runDuration: `${Number(status.runDuration.seconds ?? 0)}s` } : {}),
    },
    labels: job.labels ?? {},
    createTime: timestampToIso(job.createTime),
    updateTime: timestampToIso(job.updateTime),
  });
}

function runnerError(error: unknown, action: string): JobRunnerError {
  const code = grpcCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return new JobRunnerError(
    `Batch ${action} failed: ${message}`,
    code === null ? 500 : httpStatusForGrpc(code),
  );
}

/** GCP Batch through @google-cloud/batch (gRPC). */
export class BatchJobRunner implements JobRunner {
  constructor(private readonly client: BatchServiceClient) {}

  /** No call is made without credentials (see missingCredentials). */
  private async credentials(action: string): Promise<void> {
    const missing = await missingCredentials(this.client);
    if (missing) throw new JobRunnerError(`Batch ${action} failed: ${missing}`, 503);
  }

  async createJob(input: CreateJobInput): Promise<BatchJob> {
    await this.credentials('jobs.create');
    try {
      const [job] = await this.client.createJob({
        parent: input.parent,
        jobId: input.jobId,
        requestId: input.requestId,
        job: jobSpecToProto(input.job),
      });
      return jobFromProto(job);
    } catch (error) {
      if (grpcCodeOf(error) !== GrpcCode.ALREADY_EXISTS) throw runnerError(error, 'jobs.create');
      const name = `${input.parent}/jobs/${input.jobId}`;
      const existing = input.adoptExisting === false ? null : await this.getJob(name);
      if (!existing) throw new JobExistsError(name);
      return existing;
    }
  }

  async getJob(name: string): Promise<BatchJob | null> {
    await this.credentials('jobs.get');
    try {
      const [job] = await this.client.getJob({ name });
      return jobFromProto(job);
    } catch (error) {
      if (grpcCodeOf(error) === GrpcCode.NOT_FOUND) return null;
      throw runnerError(error, 'jobs.get');
    }
  }

  /** Readiness: the cheapest authorised call, one job of the region listed, within `timeoutMs`. */
  async ping(parent: string, timeoutMs: number): Promise<void> {
    await this.credentials('jobs.list');
    try {
      await this.client.listJobs(
        { parent, pageSize: 1 },
        { autoPaginate: false, timeout: timeoutMs, retry: null },
      );
    } catch (error) {
      throw runnerError(error, 'jobs.list');
    }
  }

  async cancelJob(name: string): Promise<void> {
    await this.credentials('jobs.cancel');
    try {
      // The long-running operation is not awaited: the job's state says when it is done.
      await this.client.cancelJob({ name });
    } catch (error) {
      const code = grpcCodeOf(error);
      if (code === GrpcCode.NOT_FOUND || code === GrpcCode.FAILED_PRECONDITION) return;
      throw runnerError(error, 'jobs.cancel');
    }
  }
}
