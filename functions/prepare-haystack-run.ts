import { httpFunction } from './bootstrap/http';
import { createHaystackExecutionDeps } from './deps/haystack';
import { createPrepareHaystackRunHandler } from './http/haystack-steps';

httpFunction(
  'prepareHaystackRun',
  (config) => () => createPrepareHaystackRunHandler(createHaystackExecutionDeps(config)),
);
