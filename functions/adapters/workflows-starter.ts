import type { ExecutionsClient } from '@google-cloud/workflows';
import type { WorkflowArgument, WorkflowStarter } from '../core/ports';

/** Cloud Workflows executions of the run-pipeline workflow. */
export class CloudWorkflowsStarter implements WorkflowStarter {
  constructor(
    private readonly client: ExecutionsClient,
    /** projects/{project}/locations/{region}/workflows/{name} */
    private readonly workflow: string,
  ) {}

  async start(argument: WorkflowArgument): Promise<string> {
    const [execution] = await this.client.createExecution({
      parent: this.workflow,
      execution: { argument: JSON.stringify(argument) },
    });
    if (!execution.name)
      throw new Error(`Workflows did not name the execution it created for ${argument.run_id}`);
    return execution.name;
  }
}
