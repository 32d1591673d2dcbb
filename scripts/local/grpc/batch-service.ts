/**
 * google.cloud.batch.v1.BatchService over gRPC, backed by the LocalBatch twin: the real
 * @google-cloud/batch client (BatchJobRunner) talks to it exactly as it talks to Batch.
 */
import { randomUUID } from 'node:crypto';
import { grpc } from 'google-gax';
import {
  type BatchJob,
  JobExistsError,
  JobRunnerError,
  type JobSpec,
} from '../../../functions/core/shared/batch';
import type { LocalBatch } from '../local-batch';
import { GrpcStatusError, loadService, serve, timestamp, unary, unimplemented } from './proto';

const GRPC_FOR_HTTP: Record<number, grpc.status> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  403: grpc.status.PERMISSION_DENIED,
  404: grpc.status.NOT_FOUND,
  409: grpc.status.ALREADY_EXISTS,
  429: grpc.status.RESOURCE_EXHAUSTED,
  500: grpc.status.INTERNAL,
  503: grpc.status.UNAVAILABLE,
  504: grpc.status.DEADLINE_EXCEEDED,
};

function toStatus(error: unknown): never {
  if (error instanceof JobExistsError)
    throw new GrpcStatusError(grpc.status.ALREADY_EXISTS, `Job ${error.jobName} already exists`);
  if (error instanceof JobRunnerError)
    throw new GrpcStatusError(GRPC_FOR_HTTP[error.status] ?? grpc.status.INTERNAL, error.message);
  throw error;
}

interface ProtoDuration {
  seconds?: string | number;
  nanos?: number;
}

/** A CreateJob request's job (proto shape) as the REST-shaped spec the twin keeps. */
function specFromProto(job: Record<string, unknown>): JobSpec {
  const spec = job as unknown as JobSpec & { taskGroups: { taskSpec: { maxRunDuration: unknown } }[] };
  return {
    ...spec,
    taskGroups: spec.taskGroups.map((group) => {
      const duration = group.taskSpec.maxRunDuration as ProtoDuration | null;
      return {
        ...group,
        taskSpec: { ...group.taskSpec, maxRunDuration: `${Number(duration?.seconds ?? 0)}s` },
      };
    }),
  } as JobSpec;
}

function jobToProto(job: BatchJob): Record<string, unknown> {
  return {
    name: job.name,
    uid: job.uid ?? '',
    labels: job.labels,
    createTime: timestamp(job.createTime),
    updateTime: timestamp(job.updateTime),
    status: {
      state: job.status.state,
      statusEvents: job.status.statusEvents.map((event) => ({
        type: event.type ?? '',
        description: event.description ?? '',
        eventTime: timestamp(event.eventTime),
        taskState: event.taskState ?? 'STATE_UNSPECIFIED',
        ...(event.taskExecution ? { taskExecution: { exitCode: event.taskExecution.exitCode ?? 0 } } : {}),
      })),
    },
  };
}

function operation(name: string): Record<string, unknown> {
  return { name: `${name.split('/jobs/')[0]}/operations/${randomUUID()}`, done: false };
}

export async function serveBatch(batch: LocalBatch): Promise<{ host: string; stop(): Promise<void> }> {
  const service = loadService(
    '@google-cloud/batch',
    'google/cloud/batch/v1/batch.proto',
    'google.cloud.batch.v1.BatchService',
  );
  return serve(service, {
    CreateJob: unary(
      async (request: { parent: string; jobId: string; requestId: string; job: Record<string, unknown> }) => {
        try {
          return jobToProto(
            await batch.createJob({
              parent: request.parent,
              jobId: request.jobId,
              requestId: request.requestId,
              job: specFromProto(request.job),
              // The service answers ALREADY_EXISTS like Batch; adopting is the client's choice.
              adoptExisting: false,
            }),
          );
        } catch (error) {
          return toStatus(error);
        }
      },
    ),
    GetJob: unary(async (request: { name: string }) => {
      const job = await batch.getJob(request.name).catch(toStatus);
      if (!job) throw new GrpcStatusError(grpc.status.NOT_FOUND, `Job ${request.name} not found`);
      return jobToProto(job);
    }),
    CancelJob: unary(async (request: { name: string }) => {
      if (!(await batch.getJob(request.name)))
        throw new GrpcStatusError(grpc.status.NOT_FOUND, `Job ${request.name} not found`);
      await batch.cancelJob(request.name);
      return operation(request.name);
    }),
    DeleteJob: unary(async (request: { name: string }) => {
      if (!(await batch.getJob(request.name)))
        throw new GrpcStatusError(grpc.status.NOT_FOUND, `Job ${request.name} not found`);
      await batch.deleteJob(request.name);
      return operation(request.name);
    }),
    ListJobs: unary(async (request: { parent: string }) => ({
      jobs: batch
        .list()
        .filter((job) => job.name.startsWith(`${request.parent}/`))
        .map(jobToProto),
      nextPageToken: '',
      unreachable: [],
    })),
    GetTask: unimplemented('GetTask'),
    ListTasks: unimplemented('ListTasks'),
  });
}
