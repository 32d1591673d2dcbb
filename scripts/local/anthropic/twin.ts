/**
 * A local Anthropic Messages API: a real HTTP server the official SDK talks to through its
 * `baseURL`. It checks what the real API checks (x-api-key, anthropic-version, model,
 * max_tokens, messages, alternating roles, tool_result ids), streams the documented SSE events
 * (message_start, content_block_start/delta/stop with text_delta and input_json_delta, ping,
 * message_delta, message_stop), answers GET /v1/models/{id}, and can be told to fail the way
 * the real one does: 429 with retry-after, 529 overloaded, 500, 400 "prompt is too long", an
 * error event mid-stream, or a dropped connection.
 *
 * What it answers: scripted turns when a test queued them, otherwise the offline demo model
 * (demo-model.ts), which is a stand-in for Claude and says so.
 */

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_CLAUDE_MODEL, modelTakesTemperature } from '../../../functions/core/shared/claude-models';
import { type DemoRequest, demoReply, type Reply } from './demo-model';

export const DEMO_MODEL_LABEL = 'Offline demo model (a stand-in for Claude)';

export type Fault =
  | { kind: 'status'; status: 429 | 500 | 503 | 529; retryAfterSeconds?: number }
  | { kind: 'prompt_too_long' }
  /** An `error` event after `afterText` characters of text (0: before any). */
  | { kind: 'stream_error'; afterText: number }
  /** The connection closes after `afterText` characters of text (0: before the first event). */
  | { kind: 'drop'; afterText: number }
  /** The request is read and never answered: no status, no event, the connection left open. */
  | { kind: 'hang' };

export interface RecordedRequest {
  method: string;
  path: string;
  /** Headers as sent, the key replaced by whether it matched. */
  headers: Record<string, string>;
  body: DemoRequest | null;
  answered: number;
  /** The client went away before the answer ended (a Stop, an abort). */
  closedEarly: boolean;
}

/** A scripted reply; `chunkDelayMs` slows its stream (to stop it halfway, say). */
export type ScriptedReply = Reply & { chunkDelayMs?: number };

export interface TwinOptions {
  /** The key requests must carry (x-api-key). */
  apiKey: string;
  models?: string[];
  /** A prompt (system + messages, as JSON) longer than this is refused as too long. */
  maxPromptChars?: number;
  /** Pause between streamed chunks, ms (the demo feels typed; tests use 0). */
  chunkDelayMs?: number;
}

const VERSION = /^\d{4}-\d{2}-\d{2}$/;

function id(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

export class AnthropicTwin {
  readonly requests: RecordedRequest[] = [];
  private readonly faults: Fault[] = [];
  private readonly scripted: ScriptedReply[] = [];
  private server: Server | null = null;
  private readonly models: string[];
  maxPromptChars: number;

  constructor(private readonly options: TwinOptions) {
    // The platform's default and the model it replaced (which still takes a temperature).
    this.models = options.models ?? [DEFAULT_CLAUDE_MODEL, 'claude-sonnet-4-5-20250929'];
    this.maxPromptChars = options.maxPromptChars ?? 600_000;
  }

  /** Faults for the next requests to /v1/messages, one each, in order. */
  failNext(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  /** Replies for the next successful /v1/messages requests, in order; then the demo model. */
  script(...replies: ScriptedReply[]): void {
    this.scripted.push(...replies);
  }

  /** Forgets queued faults and replies (between tests). */
  reset(): void {
    this.faults.length = 0;
    this.scripted.length = 0;
  }

  /** Requests to /v1/messages so far. */
  messageRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === '/v1/messages');
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.error(res, 500, 'api_error', `twin failure: ${(error as Error).message}`);
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  private error(
    res: ServerResponse,
    status: number,
    type: string,
    message: string,
    headers: Record<string, string> = {},
  ) {
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req'), ...headers });
    res.end(JSON.stringify({ type: 'error', error: { type, message } }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://twin');
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [
        k,
        k === 'x-api-key' ? (v === this.options.apiKey ? '[matches]' : '[wrong]') : String(v),
      ]),
    );
    let body: DemoRequest | null = null;
    try {
      body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as DemoRequest) : null;
    } catch {
      body = null;
    }
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: url.pathname,
      headers,
      body,
      answered: 0,
      closedEarly: false,
    };
    res.on('close', () => {
      if (!res.writableFinished) recorded.closedEarly = true;
    });
    this.requests.push(recorded);
    const answer = (status: number) => {
      recorded.answered = status;
    };

    if (req.headers['x-api-key'] !== this.options.apiKey) {
      answer(401);
      return this.error(res, 401, 'authentication_error', 'invalid x-api-key');
    }
    if (!VERSION.test(String(req.headers['anthropic-version'] ?? ''))) {
      answer(400);
      return this.error(res, 400, 'invalid_request_error', 'anthropic-version: header is required');
    }
    const model = /^\/v1\/models\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && model) {
      const name = decodeURIComponent(model[1]!);
      if (!this.models.includes(name)) {
        answer(404);
        return this.error(res, 404, 'not_found_error', `model: ${name}`);
      }
      answer(200);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          type: 'model',
          id: name,
          display_name: DEMO_MODEL_LABEL,
          created_at: '2025-09-29T00:00:00Z',
        }),
      );
      return;
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/messages') {
      answer(404);
      return this.error(res, 404, 'not_found_error', `${req.method} ${url.pathname} does not exist`);
    }
    // A model the API does not have is 404 not_found_error, as Anthropic answers it.
    if (body && typeof body.model === 'string' && !this.models.includes(body.model)) {
      answer(404);
      return this.error(res, 404, 'not_found_error', `model: ${body.model}`);
    }
    const problem = this.invalid(body);
    if (problem) {
      answer(400);
      return this.error(res, 400, 'invalid_request_error', problem);
    }
    const request = body!;
    const fault = this.faults.shift();
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'status') {
      answer(fault.status);
      const type =
        fault.status === 429 ? 'rate_limit_error' : fault.status === 529 ? 'overloaded_error' : 'api_error';
      return this.error(
        res,
        fault.status,
        type,
        type === 'rate_limit_error' ? 'Number of requests has exceeded your rate limit' : 'Overloaded',
        {
          ...(fault.retryAfterSeconds !== undefined
            ? { 'retry-after': String(fault.retryAfterSeconds) }
            : {}),
        },
      );
    }
    const promptChars = JSON.stringify(request.system ?? '').length + JSON.stringify(request.messages).length;
    if (fault?.kind === 'prompt_too_long' || promptChars > this.maxPromptChars) {
      answer(400);
      return this.error(
        res,
        400,
        'invalid_request_error',
        `prompt is too long: ${Math.ceil(promptChars / 4)} tokens > ${Math.floor(this.maxPromptChars / 4)} maximum`,
      );
    }
    const reply = this.scripted.shift() ?? demoReply(request);
    answer(200);
    if (request.stream) await this.stream(res, request, reply, fault);
    else this.json(res, request, reply);
  }

  /** What the real API refuses with invalid_request_error. */
  private invalid(body: DemoRequest | null): string | null {
    if (!body || typeof body !== 'object') return 'body: must be a JSON object';
    if (typeof body.model !== 'string') return 'model: Field required';
    if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) return 'max_tokens: Field required';
    if (
      body.temperature !== undefined &&
      (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 1)
    )
      return 'temperature: must be between 0 and 1';
    // Models released after Claude Opus 4.6 accept only the default (1.0).
    if (body.temperature !== undefined && body.temperature !== 1 && !modelTakesTemperature(body.model))
      return `temperature: ${body.model} does not support setting temperature; omit it or send 1.0`;
    if (!Array.isArray(body.messages) || body.messages.length === 0)
      return 'messages: at least one message is required';
    let previous: string | null = null;
    const toolUses = new Set<string>();
    for (const [index, message] of body.messages.entries()) {
      if (message.role !== 'user' && message.role !== 'assistant')
        return `messages.${index}.role: must be user or assistant`;
      if (index === 0 && message.role !== 'user') return 'messages: first message must use the "user" role';
      if (message.role === previous)
        return `messages: roles must alternate between "user" and "assistant" (at ${index})`;
      previous = message.role;
      const blocks = typeof message.content === 'string' ? [] : message.content;
      for (const block of blocks) {
        if (block.type === 'tool_use') toolUses.add(block.id);
        if (block.type === 'tool_result' && !toolUses.has(block.tool_use_id))
          return `messages.${index}: tool_result block(s) provided when previous message does not have a corresponding tool_use block`;
        if (block.type === 'text' && block.text === '')
          return `messages.${index}: text content blocks must be non-empty`;
      }
    }
    return null;
  }

  private json(res: ServerResponse, request: DemoRequest, reply: Reply) {
    const content = [
      ...(reply.text ? [{ type: 'text', text: reply.text }] : []),
      ...(reply.tools ?? []).map((t) => ({
        type: 'tool_use',
        id: id('toolu'),
        name: t.name,
        input: t.input,
      })),
    ];
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': id('req') });
    res.end(
      JSON.stringify({
        id: id('msg'),
        type: 'message',
        role: 'assistant',
        model: request.model,
        content,
        stop_reason: reply.tools?.length ? 'tool_use' : 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 10 },
      }),
    );
  }

  private async stream(
    res: ServerResponse,
    request: DemoRequest,
    reply: ScriptedReply,
    fault: Fault | undefined,
  ) {
    const delay = reply.chunkDelayMs ?? this.options.chunkDelayMs ?? 0;
    const pause = () =>
      delay > 0 ? new Promise((resolve) => setTimeout(resolve, delay)) : Promise.resolve();
    if (fault?.kind === 'drop' && fault.afterText === 0) {
      res.socket?.destroy();
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'request-id': id('req'),
    });
    const send = (event: string, data: unknown) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    // A drop after text must come after that text reached the client, as a real one would.
    const flushed = () => new Promise<void>((resolve) => res.write('', () => resolve()));
    send('message_start', {
      type: 'message_start',
      message: {
        id: id('msg'),
        type: 'message',
        role: 'assistant',
        model: request.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 1 },
      },
    });
    let index = 0;
    let sent = 0;
    if (fault?.kind === 'stream_error' && fault.afterText === 0) {
      send('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
      res.end();
      return;
    }
    if (reply.text) {
      send('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      send('ping', { type: 'ping' });
      for (const piece of reply.text.match(/\S+\s*|\s+/g) ?? []) {
        send('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'text_delta', text: piece },
        });
        sent += piece.length;
        if (fault && (fault.kind === 'stream_error' || fault.kind === 'drop') && sent >= fault.afterText) {
          if (fault.kind === 'drop') {
            await flushed();
            res.socket?.destroy();
            return;
          }
          send('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
          res.end();
          return;
        }
        await pause();
        if (res.destroyed) return;
      }
      send('content_block_stop', { type: 'content_block_stop', index });
      index += 1;
    }
    for (const tool of reply.tools ?? []) {
      send('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: id('toolu'), name: tool.name, input: {} },
      });
      const json = JSON.stringify(tool.input);
      for (let at = 0; at < json.length; at += 24) {
        send('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: json.slice(at, at + 24) },
        });
      }
      send('content_block_stop', { type: 'content_block_stop', index });
      index += 1;
    }
    send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: reply.tools?.length ? 'tool_use' : 'end_turn', stop_sequence: null },
      usage: { output_tokens: 20 },
    });
    send('message_stop', { type: 'message_stop' });
    res.end();
  }
}
