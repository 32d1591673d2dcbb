import * as functions from '@google-cloud/functions-framework';
import type { Request, Response } from 'express';
import { loadConfig } from './config';
import { createApiDeps } from './deps';
import { createApiHandler } from './http/api-app';
import { answerFrameworkErrorsAsJson } from './http/framework-errors';
import { jsonLogger } from './logging';

answerFrameworkErrorsAsJson(jsonLogger());

let handler: ((req: Request, res: Response) => Promise<void>) | undefined;

functions.http('api', (req, res) => {
  handler ??= createApiHandler(createApiDeps(loadConfig(process.env)));
  return handler(req, res);
});
