/**
 * google.cloud.workflows.executions.v1.Executions over gRPC, backed by LocalWorkflows: the
 * real @google-cloud/workflows client (CloudWorkflowsStarter) starts executions here.
 */
import { grpc } from 'google-gax';
import type { LocalExecution, LocalWorkflows } from '../local-workflows';
import { GrpcStatusError, loadService, serve, timestamp, unary } from './proto';

function executionToProto(execution: LocalExecution): Record<string, unknown> {
  return {
    name: execution.name,
    argument: execution.argument,
    state: execution.state,
    startTime: timestamp(execution.startTime),
    endTime: timestamp(execution.endTime ?? undefined),
    result: execution.result ?? '',
    ...(execution.error ? { error: { payload: execution.error, context: '' } } : {}),
    workflowRevisionId: 'local-000001',
  };
}

const WORKFLOW = /^projects\/[^/]+\/locations\/[^/]+\/workflows\/[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

export async function serveWorkflows(
  workflows: LocalWorkflows,
): Promise<{ host: string; stop(): Promise<void> }> {
  const service = loadService(
    '@google-cloud/workflows',
    'google/cloud/workflows/executions/v1/executions.proto',
    'google.cloud.workflows.executions.v1.Executions',
  );
  const find = (name: string) => {
    const execution = workflows.get(name);
    if (!execution) throw new GrpcStatusError(grpc.status.NOT_FOUND, `Execution ${name} not found`);
    return execution;
  };
  return serve(service, {
    CreateExecution: unary(async (request: { parent: string; execution: { argument?: string } }) => {
      if (!WORKFLOW.test(request.parent)) {
        throw new GrpcStatusError(
          grpc.status.INVALID_ARGUMENT,
          `parent must be projects/{p}/locations/{l}/workflows/{w}, got ${request.parent}`,
        );
      }
      const argument = request.execution?.argument || 'null';
      try {
        JSON.parse(argument);
      } catch {
        throw new GrpcStatusError(grpc.status.INVALID_ARGUMENT, 'execution.argument must be a JSON string');
      }
      return executionToProto(workflows.start(request.parent, argument));
    }),
    GetExecution: unary(async (request: { name: string }) => executionToProto(find(request.name))),
    CancelExecution: unary(async (request: { name: string }) => {
      const execution = find(request.name);
      if (execution.state !== 'ACTIVE') {
        throw new GrpcStatusError(
          grpc.status.FAILED_PRECONDITION,
          `Execution ${request.name} is ${execution.state}`,
        );
      }
      workflows.cancel(request.name);
      return executionToProto(execution);
    }),
    ListExecutions: unary(async (request: { parent: string }) => ({
      executions: workflows
        .list()
        .filter((e) => e.name.startsWith(`${request.parent}/`))
        .map(executionToProto),
      nextPageToken: '',
    })),
  });
}
