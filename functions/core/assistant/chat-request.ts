/**
 * POST /api/chat's body: what the AI SDK's `useChat` sends (`{id, messages}`), plus what the
 * user is looking at. Only text parts are read from the client: tool results come from the
 * server's own tools, never from a message the client could have written.
 */
import { z } from 'zod';
import { RunId } from '../runs/run-model';
import { ValidationError } from '../shared/errors';
import { byteLength, checkSize, parseOrThrow } from '../shared/validation';

export const CHAT_MAX_BODY_BYTES = 512 * 1024;
export const MAX_MESSAGES = 200;
export const MAX_TEXT_CHARS = 20_000;
export const DRAFT_MAX_BYTES = 256 * 1024;

export const ConversationId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64')
  .describe("the conversation's id (useChat's chat id)");

const Part = z.looseObject({ type: z.string().max(100) });

export const UIMessage = z.object({
  id: z.string().min(1).max(100),
  role: z.enum(['user', 'assistant', 'system']),
  parts: z.array(Part).max(200),
});
export type UIMessage = z.infer<typeof UIMessage>;

export const ChatDraft = z
  .object({
    pipeline: z.string().max(200).optional(),
    pipeline_version: z.string().max(100).optional(),
    params: z.record(z.string(), z.unknown()).optional(),
    samplesheet_csv: z.string().optional(),
    config_content: z.string().optional(),
  })
  .describe('the new-run wizard as the user has filled it in so far');
export type ChatDraft = z.infer<typeof ChatDraft>;

export const ChatContext = z.object({
  page: z.enum(['wizard', 'run']),
  run_id: RunId.optional(),
  draft: ChatDraft.optional(),
});
export type ChatContext = z.infer<typeof ChatContext>;

export const ChatRequest = z.object({
  id: ConversationId,
  messages: z.array(UIMessage).min(1).max(MAX_MESSAGES),
  context: ChatContext.optional(),
});
export type ChatRequest = z.infer<typeof ChatRequest>;

/** The text of a message's text parts. */
export function messageText(message: Pick<UIMessage, 'parts'>): string {
  return message.parts
    .filter((part) => part.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text as string)
    .join('');
}

/** Parses and bounds a chat request; every problem at once. */
export function parseChatRequest(body: unknown): ChatRequest {
  checkSize(
    'chat request',
    byteLength(JSON.stringify(body ?? null)),
    CHAT_MAX_BODY_BYTES,
    'Start a new conversation.',
  );
  const draft = (body as { context?: { draft?: unknown } } | null)?.context?.draft;
  if (draft !== undefined) {
    checkSize(
      'context.draft',
      byteLength(JSON.stringify(draft)),
      DRAFT_MAX_BYTES,
      'The draft is too large to send along.',
    );
  }
  const request = parseOrThrow(ChatRequest, body, 'chat request');
  const problems = request.messages.flatMap((message, index) => {
    const length = messageText(message).length;
    return length > MAX_TEXT_CHARS
      ? [
          {
            field: `messages.${index}`,
            rule: 'max_length',
            message: `message ${index + 1} has ${length} characters; at most ${MAX_TEXT_CHARS}`,
          },
        ]
      : [];
  });
  const last = request.messages.at(-1)!;
  if (last.role !== 'user' || messageText(last).trim() === '') {
    problems.push({
      field: `messages.${request.messages.length - 1}`,
      rule: 'last_user',
      message: 'the last message must be the user’s, with text',
    });
  }
  if (problems.length > 0) {
    throw new ValidationError(`Invalid chat request: ${problems.map((p) => p.message).join('; ')}`, problems);
  }
  return request;
}
