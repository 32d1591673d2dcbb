import { eventFunction } from './bootstrap/events';
import { createExecutionDeps } from './deps/runs';
import { createRunArtifactHandler } from './events/event-handlers';

eventFunction('onRunArtifact', (config) => () => createRunArtifactHandler(createExecutionDeps(config)));
