import type { Request, Response } from 'express';
import express from 'express';
import type { Logger } from '../logging';
import { apiSecurityHeaders } from './security-headers';

type Handle = (req: Request, res: Response, callback?: (err?: unknown) => void) => void;

interface BodyParserError {
  type?: string;
  status?: number;
  message?: string;
}

const BODY_ERRORS: Record<string, { status: number; code: string; hint: string }> = {
  'entity.parse.failed': {
    status: 400,
    code: 'malformed_json',
    hint: 'Send a JSON object with Content-Type: application/json.',
  },
  'entity.too.large': { status: 413, code: 'payload_too_large', hint: 'Send a smaller body.' },
  'encoding.unsupported': {
    status: 415,
    code: 'unsupported_media_type',
    hint: 'Send UTF-8 JSON, uncompressed or gzip.',
  },
  'charset.unsupported': { status: 415, code: 'unsupported_media_type', hint: 'Send UTF-8 JSON.' },
  'request.aborted': { status: 400, code: 'request_aborted', hint: 'Send the whole body.' },
};

let installed = false;

/**
 * The Functions Framework parses request bodies before our function runs and hands a
 * malformed body to Express's default final handler, which answers with an HTML page (and
 * a stack trace outside NODE_ENV=production). Upstream: GoogleCloudPlatform/functions-framework-nodejs#686.
 * Until it lets functions see those errors, every Express app created after this call ends
 * with a final handler that answers in our JSON error shape without internals. The
 * framework creates its app after loading the function's module, so calling this from
 * the entry file is early enough; test/integration/api-bad-input.test.ts guards it.
 */
export function answerFrameworkErrorsAsJson(logger: Logger): void {
  if (installed) return;
  installed = true;
  const application = express.application as unknown as { handle: Handle };
  const original = application.handle;
  application.handle = function handle(this: unknown, req, res, callback) {
    if (callback) return original.call(this, req, res, callback);
    return original.call(this, req, res, (err?: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      const known = err ? BODY_ERRORS[(err as BodyParserError).type ?? ''] : undefined;
      const status = err ? (known?.status ?? 500) : 404;
      const code = err ? (known?.code ?? 'internal') : 'not_found';
      const message = !err
        ? `No route for ${req.method} ${req.path}.`
        : known
          ? `The request body could not be read: ${(err as BodyParserError).message ?? 'invalid body'}. ${known.hint}`
          : 'Something went wrong on our side. Retry shortly.';
      if (err && !known)
        logger.log('ERROR', 'framework_error', { error: String((err as Error).stack ?? err) });
      const send = () =>
        res
          .status(status)
          .type('application/json')
          .send(JSON.stringify({ error: { code, message } }));
      // The same hardening headers as every answer of ours (CSP, nosniff, frame-ancestors…).
      apiSecurityHeaders(req, res).then(send, send);
    });
  };
}
