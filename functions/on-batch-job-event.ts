import { eventFunction } from './bootstrap/events';
import { createExecutionDeps } from './deps/runs';
import { createBatchJobEventHandler } from './events/event-handlers';

eventFunction('onBatchJobEvent', (config) => () => createBatchJobEventHandler(createExecutionDeps(config)));
