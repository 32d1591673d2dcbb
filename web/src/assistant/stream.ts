/**
 * The assistant's answer as it streams: POST /api/chat, read as the AI SDK UI message stream
 * (server-sent events, one JSON part each, ending [DONE]) and folded into a message the drawer
 * renders. Parsing SSE is eventsource-parser's job, not ours.
 */
import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { Conversation } from '../../../functions/core/assistant/ports';
import type { Notice, Proposal, ToolOutput, UIStreamPart } from '../../../functions/core/assistant/ui-stream';
import { ApiError, api } from '../api';

/** A piece of a message as the drawer shows it. */
export type ChatPiece =
  | { kind: 'text'; text: string }
  | { kind: 'tool'; id: string; name: string; summary: string | null; ok: boolean | null }
  | { kind: 'proposal'; id: string; proposal: Proposal }
  | { kind: 'notice'; notice: Notice }
  | { kind: 'error'; text: string };

export interface ChatMessage {
  id: string;
  role: 'user' | 'assistant';
  pieces: ChatPiece[];
}

export interface ChatContext {
  page: 'wizard' | 'run';
  run_id?: string;
  draft?: Record<string, unknown>;
}

/** What the API is sent: the UI messages useChat would send (text parts only are read). */
function toUiMessages(messages: ChatMessage[]) {
  return messages.map((m) => ({
    id: m.id,
    role: m.role,
    parts: m.pieces.flatMap((p) => (p.kind === 'text' && p.text ? [{ type: 'text', text: p.text }] : [])),
  }));
}

/** Folds one stream part into the message being built (a new array each time, for Preact). */
export function applyPart(pieces: ChatPiece[], part: UIStreamPart): ChatPiece[] {
  switch (part.type) {
    case 'text-start':
      return [...pieces, { kind: 'text', text: '' }];
    case 'text-delta': {
      const last = pieces.at(-1);
      if (last?.kind !== 'text') return [...pieces, { kind: 'text', text: part.delta }];
      return [...pieces.slice(0, -1), { kind: 'text', text: last.text + part.delta }];
    }
    case 'tool-input-available':
      return [...pieces, { kind: 'tool', id: part.toolCallId, name: part.toolName, summary: null, ok: null }];
    case 'tool-output-available': {
      const output = part.output as ToolOutput;
      return pieces.map((p) =>
        p.kind === 'tool' && p.id === part.toolCallId ? { ...p, summary: output.summary, ok: output.ok } : p,
      );
    }
    case 'data-proposal':
      return [...pieces, { kind: 'proposal', id: part.id, proposal: part.data }];
    case 'data-notice':
      return [...pieces, { kind: 'notice', notice: part.data }];
    case 'error':
      return [...pieces, { kind: 'error', text: part.errorText }];
    default:
      return pieces;
  }
}

/** Sends the conversation; `onPieces` sees the answer grow. Resolves when the stream ends. */
export async function sendChat(
  conversationId: string,
  messages: ChatMessage[],
  context: ChatContext,
  onPieces: (pieces: ChatPiece[]) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch('/api/chat', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ id: conversationId, messages: toUiMessages(messages), context }),
    signal,
  });
  if (!response.ok || !response.body) {
    const body = (await response.json().catch(() => null)) as {
      error?: { code: string; message: string };
    } | null;
    const retry = response.headers.get('retry-after');
    throw new ApiError(
      `${body?.error?.message ?? `The assistant answered ${response.status}.`}${retry && response.status === 429 && !body?.error?.message.includes('try again') ? ` Try again in ${retry} s.` : ''}`,
      response.status,
      body?.error?.code ?? `http_${response.status}`,
      null,
    );
  }
  let pieces: ChatPiece[] = [];
  const events = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream());
  const reader = events.getReader();
  for (;;) {
    const { done, value: event } = await reader.read();
    if (done || event.data === '[DONE]') break;
    let part: UIStreamPart;
    try {
      part = JSON.parse(event.data) as UIStreamPart;
    } catch {
      continue;
    }
    pieces = applyPart(pieces, part);
    onPieces(pieces);
  }
}

/** GET /api/chat/conversations/{id}: a stored conversation, as the API answers it. */
export type StoredConversation = Conversation;

/** A stored conversation's messages as the drawer shows them. */
export function fromStored(conversation: StoredConversation): ChatMessage[] {
  return conversation.messages
    .filter(
      (m): m is StoredConversation['messages'][number] & { role: 'user' | 'assistant' } =>
        m.role !== 'system',
    )
    .map((m) => ({
      id: m.id,
      role: m.role,
      pieces: m.parts.flatMap((part): ChatPiece[] => {
        const type = String(part.type);
        if (type === 'text') return [{ kind: 'text', text: String(part.text ?? '') }];
        if (type === 'data-proposal')
          return [{ kind: 'proposal', id: String(part.id), proposal: part.data as Proposal }];
        if (type === 'data-error')
          return [{ kind: 'error', text: String((part.data as { text: string }).text) }];
        if (type.startsWith('tool-')) {
          const output = part.output as { summary?: string; ok?: boolean } | undefined;
          return [
            {
              kind: 'tool',
              id: String(part.toolCallId),
              name: type.slice(5),
              summary: output?.summary ?? null,
              ok: output?.ok ?? null,
            },
          ];
        }
        return [];
      }),
    }));
}

export const loadConversation = (id: string) =>
  api<StoredConversation>(`/api/chat/conversations/${encodeURIComponent(id)}`);
