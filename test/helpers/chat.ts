import {
  parseJsonEventStream,
  readUIMessageStream,
  type UIMessage,
  type UIMessageChunk,
  uiMessageChunkSchema,
} from 'ai';
import { asUser } from './api-server';

export interface ChatAnswer {
  status: number;
  headers: Headers;
  /** The raw text of the response. */
  raw: string;
  /** Each `data:` JSON part as sent (null for a non-stream answer). */
  parts: Record<string, unknown>[];
  /** The assistant message as the AI SDK's own reader assembles it (useChat does the same). */
  message: UIMessage | null;
  /** The JSON body of a non-stream answer (an error). */
  json: { error: { code: string; message: string } } | null;
}

let counter = 0;

export function userMessage(text: string): UIMessage {
  counter += 1;
  return { id: `m${counter}`, role: 'user', parts: [{ type: 'text', text }] };
}

/** POST /api/chat, read back with the `ai` package's UI message stream parser and reader. */
export async function chat(
  url: string,
  user: string,
  body: { id: string; messages: UIMessage[]; context?: unknown },
  init: { signal?: AbortSignal } = {},
): Promise<ChatAnswer> {
  const response = await fetch(`${url}/api/chat`, {
    method: 'POST',
    headers: { ...asUser(user), 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: init.signal,
  });
  const raw = await response.text();
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
    return {
      status: response.status,
      headers: response.headers,
      raw,
      parts: [],
      message: null,
      json: JSON.parse(raw),
    };
  }
  const parts = raw
    .split('\n\n')
    .filter((frame) => frame.startsWith('data: ') && frame !== 'data: [DONE]')
    .map((frame) => JSON.parse(frame.slice('data: '.length)) as Record<string, unknown>);
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(raw));
      controller.close();
    },
  });
  const chunks = parseJsonEventStream({ stream: source, schema: uiMessageChunkSchema }).pipeThrough(
    new TransformStream({
      transform(result, controller) {
        if (!result.success) throw result.error;
        controller.enqueue(result.value as UIMessageChunk);
      },
    }),
  );
  let message: UIMessage | null = null;
  for await (const snapshot of readUIMessageStream({ stream: chunks, terminateOnError: false }))
    message = snapshot;
  return { status: response.status, headers: response.headers, raw, parts, message, json: null };
}

export function textOf(message: UIMessage | null): string {
  return (message?.parts ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('');
}
