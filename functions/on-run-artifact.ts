import { eventFunction } from './bootstrap/events';
import { createExecutionDeps } from './deps/runs';
import { createRunArtifactHandler } from './events/batch-job-events';

eventFunction('onRunArtifact', (config) => () => createRunArtifactHandler(createExecutionDeps(config)));
