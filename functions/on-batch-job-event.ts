import * as functions from '@google-cloud/functions-framework';
import { loadConfig } from './config';
import { createExecutionDeps } from './deps';
import { createBatchJobEventHandler, type IncomingCloudEvent } from './events/event-handlers';

let handler: ((event: IncomingCloudEvent) => Promise<void>) | undefined;

functions.cloudEvent('onBatchJobEvent', (event: Parameters<functions.CloudEventFunction>[0]) => {
  handler ??= createBatchJobEventHandler(createExecutionDeps(loadConfig(process.env)));
  return handler(event);
});
