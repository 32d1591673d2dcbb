import * as functions from '@google-cloud/functions-framework';
import { loadConfig } from './config';
import { createExecutionDeps } from './deps';
import { createRunArtifactHandler, type IncomingCloudEvent } from './events/event-handlers';

// Read once at start: a misconfigured instance stops here, with the reason, before serving.
const config = loadConfig(process.env);

let handler: ((event: IncomingCloudEvent) => Promise<void>) | undefined;

functions.cloudEvent('onRunArtifact', (event: Parameters<functions.CloudEventFunction>[0]) => {
  handler ??= createRunArtifactHandler(createExecutionDeps(config));
  return handler(event);
});
