import * as functions from '@google-cloud/functions-framework';
import type { Request, Response } from 'express';
import { loadConfig } from './config';
import { createApiAuthenticator, createApiDeps } from './deps';
import { createApiHandler } from './http/api-app';
import { answerFrameworkErrorsAsJson } from './http/framework-errors';
import { jsonLogger } from './logging';

answerFrameworkErrorsAsJson(jsonLogger());

// Read once at start: a misconfigured instance (AUTH_MODE=dev on Google Cloud, no IAP_AUDIENCE)
// stops here with the reason, before it serves anything.
const config = loadConfig(process.env);
const authenticator = createApiAuthenticator(config);

let handler: ((req: Request, res: Response) => Promise<void>) | undefined;

functions.http('api', (req, res) => {
  handler ??= createApiHandler(createApiDeps(config, { authenticator }));
  return handler(req, res);
});
