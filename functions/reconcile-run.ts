import { httpFunction } from './bootstrap/http';
import { createExecutionDeps } from './deps/runs';
import { createReconcileRunHandler } from './http/workflow-steps';

httpFunction('reconcileRun', (config) => () => createReconcileRunHandler(createExecutionDeps(config)));
