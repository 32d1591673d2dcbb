import * as functions from '@google-cloud/functions-framework';
import type { Request, Response } from 'express';
import { loadConfig } from './config';
import { createExecutionDeps } from './deps';
import { answerFrameworkErrorsAsJson } from './http/framework-errors';
import { createPrepareRunHandler } from './http/workflow-steps';
import { jsonLogger } from './logging';

answerFrameworkErrorsAsJson(jsonLogger());

// Read once at start: a misconfigured instance stops here, with the reason, before serving.
const config = loadConfig(process.env);

let handler: ((req: Request, res: Response) => Promise<void>) | undefined;

functions.http('prepareRun', (req, res) => {
  handler ??= createPrepareRunHandler(createExecutionDeps(config));
  return handler(req, res);
});
