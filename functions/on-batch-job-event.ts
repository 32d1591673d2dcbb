import { eventFunction } from './bootstrap/events';
import { createKernelDeps } from './deps/run-kinds';
import { createBatchJobEventHandler } from './events/batch-job-events';

eventFunction('onBatchJobEvent', (config) => () => createBatchJobEventHandler(createKernelDeps(config)));
