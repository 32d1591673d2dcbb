import type { Request, Response } from 'express';
import { httpFunction } from './bootstrap/http';
import { createApiAuthenticator } from './deps/access';
import { createApiDeps } from './deps/api';
import { createPage } from './deps/page';
import { createApiHandler } from './http/api-app';
import { withPage } from './http/web-page';

// The authenticator and the page are built at load: AUTH_MODE=dev on Google Cloud, iap without
// an audience, or a WEB_DIR without the page, stop the instance before it serves anything.
// The API's clients are built on the first API request, so loading the page builds none.
httpFunction('api', (config) => {
  const authenticator = createApiAuthenticator(config);
  const page = createPage(config);
  let api: ((req: Request, res: Response) => Promise<void>) | undefined;
  return () =>
    withPage((req, res) => {
      api ??= createApiHandler(createApiDeps(config, { authenticator }));
      return api(req, res);
    }, page);
});
