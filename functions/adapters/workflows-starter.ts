import type { ExecutionsClient } from '@google-cloud/workflows';
import type { WorkflowArgument, WorkflowExecutionState, WorkflowStarter } from '../core/shared/run-kind';
import { GrpcCode, grpcCodeOf, missingCredentials } from './grpc-status';

const STATES = ['ACTIVE', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'UNAVAILABLE', 'QUEUED'] as const;

/** Cloud Workflows executions of the run-pipeline workflow. */
export class CloudWorkflowsStarter implements WorkflowStarter {
  constructor(
    private readonly client: ExecutionsClient,
    /** projects/{project}/locations/{region}/workflows/{name} */
    private readonly workflow: string,
  ) {}

  /** No call is made without credentials (see missingCredentials). */
  private async credentials(action: string): Promise<void> {
    const missing = await missingCredentials(this.client);
    if (missing) throw new Error(`Workflows ${action} failed: ${missing}`);
  }

  async start(argument: WorkflowArgument): Promise<string> {
    await this.credentials('executions.create');
    const [execution] = await this.client.createExecution({
      parent: this.workflow,
      execution: { argument: JSON.stringify(argument) },
    });
    if (!execution.name)
      throw new Error(`Workflows did not name the execution it created for ${argument.run_id}`);
    return execution.name;
  }

  async describe(name: string): Promise<WorkflowExecutionState | null> {
    await this.credentials('executions.get');
    try {
      const [execution] = await this.client.getExecution({ name });
      const state = String(execution.state ?? '');
      return {
        state: (STATES as readonly string[]).includes(state)
          ? (state as WorkflowExecutionState['state'])
          : 'UNKNOWN',
        error: execution.error?.payload ? String(execution.error.payload) : null,
      };
    } catch (error) {
      if (grpcCodeOf(error) === GrpcCode.NOT_FOUND) return null;
      throw error;
    }
  }
}
