import { httpFunction } from './bootstrap/http';
import { createKernelDeps } from './deps/run-kinds';
import { createReconcileRunHandler } from './http/workflow-steps';

httpFunction('reconcileRun', (config) => () => createReconcileRunHandler(createKernelDeps(config)));
