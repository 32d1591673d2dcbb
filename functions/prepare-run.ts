import { httpFunction } from './bootstrap/http';
import { createExecutionDeps } from './deps/runs';
import { createPrepareRunHandler } from './http/workflow-steps';

httpFunction('prepareRun', (config) => () => createPrepareRunHandler(createExecutionDeps(config)));
