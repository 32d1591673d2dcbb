import { eventFunction } from './bootstrap/events';
import { createNotifierDeps, createRunEventReactions } from './deps/notifications';
import { createRunEventNotifierHandler } from './events/run-status-notifier';

eventFunction('onRunEvent', (config) => () => {
  const deps = createNotifierDeps(config);
  return createRunEventNotifierHandler(deps, createRunEventReactions(config, deps.logger));
});
