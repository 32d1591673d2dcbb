import * as functions from '@google-cloud/functions-framework';
import type { Request, Response } from 'express';
import { loadConfig } from './config';
import { createSweepDeps } from './deps';
import { answerFrameworkErrorsAsJson } from './http/framework-errors';
import { createSweepStaleRunsHandler } from './http/sweep-endpoint';
import { jsonLogger } from './logging';

answerFrameworkErrorsAsJson(jsonLogger());

// Read once at start: a misconfigured instance stops here, with the reason, before serving.
const config = loadConfig(process.env);

let handler: ((req: Request, res: Response) => Promise<void>) | undefined;

functions.http('sweepStaleRuns', (req, res) => {
  handler ??= createSweepStaleRunsHandler(createSweepDeps(config));
  return handler(req, res);
});
