import * as functions from '@google-cloud/functions-framework';
import type { Request, Response } from 'express';
import { loadConfig } from './config';
import { createExecutionDeps } from './deps';
import { answerFrameworkErrorsAsJson } from './http/framework-errors';
import { createReconcileRunHandler } from './http/workflow-steps';
import { jsonLogger } from './logging';

answerFrameworkErrorsAsJson(jsonLogger());

let handler: ((req: Request, res: Response) => Promise<void>) | undefined;

functions.http('reconcileRun', (req, res) => {
  handler ??= createReconcileRunHandler(createExecutionDeps(loadConfig(process.env)));
  return handler(req, res);
});
