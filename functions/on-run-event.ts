import { eventFunction } from './bootstrap/events';
import { createNotifierDeps } from './deps/notifications';
import { createRunEventNotifierHandler } from './events/run-status-notifier';

eventFunction('onRunEvent', (config) => () => createRunEventNotifierHandler(createNotifierDeps(config)));
