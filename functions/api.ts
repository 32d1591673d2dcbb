import { httpFunction } from './bootstrap/http';
import { createApiAuthenticator } from './deps/access';
import { createApiDeps } from './deps/api';
import { createApiHandler } from './http/api-app';

// The authenticator is built at load: AUTH_MODE=dev on Google Cloud, or iap without an
// audience, stops the instance before it serves anything.
httpFunction('api', (config) => {
  const authenticator = createApiAuthenticator(config);
  return () => createApiHandler(createApiDeps(config, { authenticator }));
});
