import { httpFunction } from './bootstrap/http';
import { createSweepDeps } from './deps/run-kinds';
import { createSweepStaleRunsHandler } from './http/sweep-endpoint';

httpFunction('sweepStaleRuns', (config) => () => createSweepStaleRunsHandler(createSweepDeps(config)));
