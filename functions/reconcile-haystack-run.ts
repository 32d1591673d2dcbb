import { httpFunction } from './bootstrap/http';
import { createHaystackExecutionDeps } from './deps/haystack';
import { createReconcileHaystackRunHandler } from './http/haystack-steps';

httpFunction(
  'reconcileHaystackRun',
  (config) => () => createReconcileHaystackRunHandler(createHaystackExecutionDeps(config)),
);
