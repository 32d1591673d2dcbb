import { httpFunction } from './bootstrap/http';
import { createKernelDeps } from './deps/run-kinds';
import { createPrepareRunHandler } from './http/workflow-steps';

httpFunction('prepareRun', (config) => () => createPrepareRunHandler(createKernelDeps(config)));
