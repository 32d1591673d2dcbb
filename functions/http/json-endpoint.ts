import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { parseOrThrow } from '../core/shared/validation';
import { describeError, type Logger } from '../logging';
import { toHttp } from './http-errors';

/**
 * A private JSON-over-POST function (the workflow's step functions): validates the body,
 * runs the step, answers JSON, and maps errors like the api function does.
 */
export function jsonEndpoint<T>(
  name: string,
  logger: Logger,
  schema: z.ZodType<T>,
  step: (body: T) => Promise<unknown>,
): (req: Request, res: Response) => Promise<void> {
  return async (req, res) => {
    const requestId = req.get('x-request-id') ?? randomUUID();
    try {
      if (req.method !== 'POST') {
        res
          .set('allow', 'POST')
          .status(405)
          .json({ error: { code: 'method_not_allowed', message: `${name} accepts POST only.` } });
        return;
      }
      const body = parseOrThrow(schema, req.body, `${name} request`);
      res.status(200).json(await step(body));
    } catch (error) {
      const http = toHttp(error, requestId);
      logger.log(http.status >= 500 ? 'ERROR' : 'WARNING', `${name}_failed`, {
        request_id: requestId,
        status: http.status,
        error: describeError(error),
      });
      res.status(http.status).set(http.headers).json(http.body);
    }
  };
}
