/**
 * The local twin of SendGrid's v3 Mail Send API (`POST /v3/mail/send`), as the docs describe
 * it: a Bearer key or 401, a body checked field by field (400 with `errors: [{message, field,
 * help}]`), 413 over 30 MB, and 202 with an `X-Message-Id` when accepted. Accepted mail is
 * kept in memory (`messages`) for tests and shown in `npm start`'s log; nothing is sent.
 * `failNext(status)` answers the next requests with an error, as an outage would.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SentMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  messageId: string;
}

const MAX_BYTES = 30 * 1024 * 1024;

interface SendGridError {
  message: string;
  field: string | null;
  help: string | null;
}

function problemsOf(body: unknown): SendGridError[] {
  const problems: SendGridError[] = [];
  const b = (body ?? {}) as Record<string, unknown>;
  const email = (value: unknown) =>
    typeof value === 'object' &&
    value !== null &&
    /^[^@\s]+@[^@\s]+$/.test(String((value as { email?: unknown }).email));
  const personalizations = b.personalizations;
  if (!Array.isArray(personalizations) || personalizations.length === 0)
    problems.push({
      message: 'The personalizations field is required and must have at least one personalization.',
      field: 'personalizations',
      help: null,
    });
  else
    personalizations.forEach((p, i) => {
      const to = (p as { to?: unknown }).to;
      if (!Array.isArray(to) || to.length === 0 || !to.every(email))
        problems.push({
          message: 'Each personalization must have a to array of email objects.',
          field: `personalizations.${i}.to`,
          help: null,
        });
    });
  if (!email(b.from))
    problems.push({
      message: 'The from object must be provided for every email send.',
      field: 'from',
      help: null,
    });
  if (typeof b.subject !== 'string' || b.subject.length === 0)
    problems.push({ message: 'The subject is required.', field: 'subject', help: null });
  const content = b.content;
  if (
    !Array.isArray(content) ||
    content.length === 0 ||
    !content.every(
      (c) =>
        typeof (c as { type?: unknown }).type === 'string' &&
        typeof (c as { value?: unknown }).value === 'string',
    )
  )
    problems.push({
      message: 'Unless a valid template_id is provided, the content parameter is required.',
      field: 'content',
      help: null,
    });
  return problems;
}

export class SendGridTwin {
  readonly messages: SentMail[] = [];
  private server: Server | null = null;
  private failures: number[] = [];

  constructor(private readonly options: { apiKey: string; onMail?: (mail: SentMail) => void }) {}

  /** The next `count` requests answer `status` (500, 503, 429 …). */
  failNext(status: number, count = 1): void {
    for (let i = 0; i < count; i++) this.failures.push(status);
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    return `http://${host}:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private answer(
    res: ServerResponse,
    status: number,
    errors?: SendGridError[],
    headers: Record<string, string> = {},
  ) {
    res.writeHead(status, { ...(errors ? { 'content-type': 'application/json' } : {}), ...headers });
    res.end(errors ? JSON.stringify({ errors }) : undefined);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/v3/mail/send')
      return this.answer(res, 404, [{ message: 'resource not found', field: null, help: null }]);
    if (req.headers.authorization !== `Bearer ${this.options.apiKey}`)
      return this.answer(res, 401, [
        {
          message: 'The provided authorization grant is invalid, expired, or revoked',
          field: null,
          help: null,
        },
      ]);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BYTES)
        return this.answer(res, 413, [
          {
            message: 'The JSON payload you have included in your request is too large.',
            field: null,
            help: null,
          },
        ]);
      chunks.push(chunk as Buffer);
    }
    const failure = this.failures.shift();
    if (failure !== undefined)
      return this.answer(res, failure, [{ message: 'Service unavailable', field: null, help: null }]);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return this.answer(res, 400, [{ message: 'Bad Request', field: null, help: null }]);
    }
    const problems = problemsOf(body);
    if (problems.length > 0) return this.answer(res, 400, problems);
    const b = body as {
      personalizations: { to: { email: string }[] }[];
      from: { email: string };
      subject: string;
      content: { type: string; value: string }[];
    };
    const mail: SentMail = {
      to: b.personalizations.flatMap((p) => p.to.map((t) => t.email)),
      from: b.from.email,
      subject: b.subject,
      text: b.content.find((c) => c.type === 'text/plain')?.value ?? b.content[0]!.value,
      messageId: randomBytes(11).toString('base64url'),
    };
    this.messages.push(mail);
    this.options.onMail?.(mail);
    this.answer(res, 202, undefined, { 'x-message-id': mail.messageId });
  }
}
