/**
 * The one way an HTTP entry file registers its function: the configuration is read when the
 * module loads, so a misconfigured instance stops there with the reason, before it serves
 * anything; `build(config)` runs then too (checks that must fail at start) and returns what
 * builds the handler and its clients on the first request.
 */
import * as functions from '@google-cloud/functions-framework';
import type { Request, Response } from 'express';
import { type Config, loadConfig } from '../config';
import { answerFrameworkErrorsAsJson } from '../http/framework-errors';
import { jsonLogger } from '../logging';

type HttpHandler = (req: Request, res: Response) => Promise<void>;

export function httpFunction(name: string, build: (config: Config) => () => HttpHandler): void {
  answerFrameworkErrorsAsJson(jsonLogger());
  const create = build(loadConfig(process.env));
  let handler: HttpHandler | undefined;
  functions.http(name, (req, res) => {
    // The framework runs each request in a Node `domain` (deprecated), and every async step of
    // a request in one pays for entering and leaving it: a sixth of the api's CPU under load,
    // 35% more requests a second without (issue 22, `npm run bench -- --only=load`). Our
    // handlers settle every promise and answer their own errors (http/app.ts); an exception
    // thrown outside any promise would now end the instance, which Cloud Run replaces, rather
    // than answer 500.
    (process as { domain?: { exit(): void } | null }).domain?.exit();
    handler ??= create();
    return handler(req, res);
  });
}
