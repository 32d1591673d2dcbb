import { httpFunction } from './bootstrap/http';
import { createApiAuthenticator } from './deps/access';
import { createHaystackDeps } from './deps/haystack';
import { createHaystackHandler } from './http/haystack-app';

// As for `api`: a misconfigured identity stops the instance at load.
httpFunction('haystack', (config) => {
  const authenticator = createApiAuthenticator(config);
  return () => createHaystackHandler(createHaystackDeps(config, { authenticator }));
});
