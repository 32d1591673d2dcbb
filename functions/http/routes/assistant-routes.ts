/** The assistant: a streamed chat turn, its status, and the caller's stored conversations. */
import { z } from 'zod';
import { type AssistantDeps, streamChatTurn, takeKeyCall } from '../../core/assistant/agent';
import { ConversationId, parseChatRequest, UIMessage } from '../../core/assistant/chat-request';
import type { AssistantStatus } from '../../core/assistant/ports';
import {
  encodePart,
  KEEP_ALIVE,
  STREAM_END,
  UI_STREAM_HEADERS,
  type UIStreamWriter,
} from '../../core/assistant/ui-stream';
import { NotConfiguredError, NotFoundError } from '../../core/shared/errors';
import { defineRoute, NoQuery, type Route, requireCaller } from '../router';

export interface AssistantRouteDeps {
  assistant: AssistantDeps & {
    /** Resolves when a key is configured; NotConfiguredError (saying how) when not. */
    ready(): Promise<void>;
    label: string | null;
    standIn: boolean;
    /** How often a quiet stream gets a comment (`: keep-alive`), ms. */
    keepAliveMs: number;
  };
}

const ConversationParams = z.object({ conversation_id: ConversationId });
const conversationMissing = (raw: Record<string, string>) =>
  `Conversation ${raw.conversation_id} was not found.`;

const ConversationSummary = z.object({
  id: z.string(),
  title: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  page: z.enum(['wizard', 'run']).nullable(),
  run_id: z.string().nullable(),
  message_count: z.number().int(),
});

export function assistantRoutes(deps: AssistantRouteDeps): Route[] {
  const { assistant } = deps;
  const status = async (): Promise<AssistantStatus> => {
    const base = {
      model: assistant.model.model,
      label: assistant.label ?? assistant.model.model,
      stand_in: assistant.standIn,
    };
    try {
      await assistant.ready();
      return { enabled: true, ...base, reason: null };
    } catch (error) {
      if (error instanceof NotConfiguredError) return { enabled: false, ...base, reason: error.message };
      throw error;
    }
  };
  return [
    defineRoute({
      method: 'post',
      path: '/api/chat',
      summary:
        'One assistant turn, streamed as the AI SDK UI message stream v1 (useChat): text, tool calls and their results, proposals as data-proposal parts',
      tags: ['assistant'],
      auth: true,
      rateLimit: 'chat',
      query: NoQuery,
      body: z.object({
        id: ConversationId,
        messages: z.array(UIMessage),
        context: z
          .object({
            page: z.enum(['wizard', 'run']),
            run_id: z.string().optional(),
            draft: z.record(z.string(), z.unknown()).optional(),
          })
          .optional(),
      }),
      responses: [
        {
          status: 200,
          description: 'text/event-stream of UI message parts, ending data: [DONE]',
          contentType: 'text/event-stream',
        },
        { status: 400, description: 'an invalid request: details name each problem' },
        {
          status: 429,
          description:
            "the user's limit (60 turns in any 60 s), their share of the lab's model requests (ASSISTANT_USER_SHARE), or the lab's key limit; the message says which",
        },
        { status: 503, description: 'not_configured: no Anthropic key (the message says how to set one)' },
      ],
      handler: async (ctx) => {
        const caller = requireCaller(ctx);
        const request = parseChatRequest(ctx.body);
        await assistant.ready();
        // Paid before the stream starts, so that a refusal is a plain 429.
        await takeKeyCall(assistant, caller.email);
        const abort = new AbortController();
        let closed = false;
        ctx.res.on('close', () => {
          if (!ctx.res.writableFinished) {
            closed = true;
            abort.abort();
          }
        });
        ctx.res.status(200);
        for (const [name, value] of Object.entries(UI_STREAM_HEADERS)) ctx.res.setHeader(name, value);
        ctx.res.flushHeaders();
        const writer: UIStreamWriter = {
          write: (part) => {
            if (!closed) ctx.res.write(encodePart(part));
          },
          get aborted() {
            return closed;
          },
        };
        // While the model thinks or a tool runs nothing else is sent: a comment line keeps
        // proxies and load balancers from closing a quiet stream (SSE readers skip comments).
        const keepAlive = setInterval(() => {
          if (!closed) ctx.res.write(KEEP_ALIVE);
        }, assistant.keepAliveMs);
        try {
          await streamChatTurn(assistant, caller, request, writer, abort.signal);
        } finally {
          clearInterval(keepAlive);
        }
        if (!closed) ctx.res.end(STREAM_END);
        return null;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/chat/status',
      summary: 'Whether the assistant is configured, and which model answers (the local stand-in says so)',
      tags: ['assistant'],
      auth: true,
      query: NoQuery,
      responses: [
        {
          status: 200,
          description: 'the assistant’s state',
          schema: z.object({
            enabled: z.boolean(),
            model: z.string(),
            label: z.string(),
            stand_in: z.boolean(),
            reason: z.string().nullable(),
          }),
        },
      ],
      handler: async () => ({ body: await status() }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/chat/conversations',
      summary: "The caller's conversations, most recent first (50)",
      tags: ['assistant'],
      auth: true,
      query: NoQuery,
      responses: [
        {
          status: 200,
          description: 'conversations',
          schema: z.object({ conversations: z.array(ConversationSummary) }),
        },
      ],
      handler: async (ctx) => ({
        body: { conversations: await assistant.conversations.list(requireCaller(ctx).email, 50) },
      }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/chat/conversations/{conversation_id}',
      summary: 'One of the caller’s conversations with its messages (UIMessage[], as useChat keeps them)',
      tags: ['assistant'],
      auth: true,
      params: ConversationParams,
      missing: conversationMissing,
      query: NoQuery,
      responses: [
        { status: 200, description: 'the conversation' },
        { status: 404, description: 'no such conversation of the caller' },
      ],
      handler: async (ctx) => {
        const found = await assistant.conversations.get(requireCaller(ctx).email, ctx.params.conversation_id);
        if (!found) throw new NotFoundError(conversationMissing(ctx.params));
        return { body: found };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/chat/conversations/{conversation_id}',
      summary: 'Deletes one of the caller’s conversations',
      tags: ['assistant'],
      auth: true,
      params: ConversationParams,
      missing: conversationMissing,
      query: NoQuery,
      responses: [
        { status: 200, description: 'deleted' },
        { status: 404, description: 'no such conversation of the caller' },
      ],
      handler: async (ctx) => {
        const deleted = await assistant.conversations.delete(
          requireCaller(ctx).email,
          ctx.params.conversation_id,
        );
        if (!deleted) throw new NotFoundError(conversationMissing(ctx.params));
        return { body: { deleted: ctx.params.conversation_id } };
      },
    }),
  ];
}
