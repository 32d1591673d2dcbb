/**
 * The assistant's ports: the language model it talks to (Claude, or the local twin) and where
 * conversations are kept. Shaped after the Anthropic Messages API, which is what both speak,
 * but free of its SDK.
 */
import type { UIMessage } from './chat-request';

/** A content block of a model message. */
export type ModelBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content: string; is_error?: boolean };

export interface ModelMessage {
  role: 'user' | 'assistant';
  content: ModelBlock[];
}

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the tool's input. */
  input_schema: Record<string, unknown>;
}

export interface ModelRequest {
  system: string;
  messages: ModelMessage[];
  tools: ToolSpec[];
  /** Defaults to the configured limit. */
  maxTokens?: number;
  signal?: AbortSignal;
}

/** What a streamed model turn yields, in order. */
export type ModelEvent =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'end'; stopReason: string | null };

/**
 * Why a model call failed, in the assistant's terms. `context_too_long`: the prompt exceeds the
 * model's window (Anthropic answers 400 "prompt is too long"). `unavailable`: overloaded, rate
 * limited or down after the client's own retries, or the connection dropped. `refused`: any
 * other 4xx (a bad request, a bad key): retrying will not help.
 */
export class ModelError extends Error {
  constructor(
    /** timeout: the turn's own clock stopped it (nothing came in time, or the turn ran out). */
    readonly kind: 'context_too_long' | 'unavailable' | 'refused' | 'timeout',
    message: string,
    readonly status: number | null = null,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'ModelError';
  }
}

export interface ChatModel {
  /** The model's id, as configured. */
  readonly model: string;
  /** Streams one model turn; throws ModelError. */
  stream(request: ModelRequest): AsyncIterable<ModelEvent>;
  /** One non-streamed answer (used to summarize older turns); throws ModelError. */
  complete(request: Omit<ModelRequest, 'tools'>): Promise<string>;
  /** Resolves when the configured model exists and the key works. */
  check(): Promise<void>;
}

export interface Conversation {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  /** Where the conversation was held. */
  page: 'wizard' | 'run' | null;
  run_id: string | null;
  messages: UIMessage[];
}

export type ConversationSummary = Omit<Conversation, 'messages'> & { message_count: number };

/** GET /api/chat/status: whether the assistant answers, and with what. */
export interface AssistantStatus {
  enabled: boolean;
  model: string;
  /** What the page calls the model (the local stand-in says it is one). */
  label: string;
  stand_in: boolean;
  reason: string | null;
}

/** A user's conversations; every method is scoped to its owner, so no user reaches another's. */
export interface ConversationStore {
  get(owner: string, id: string): Promise<Conversation | null>;
  save(owner: string, conversation: Conversation): Promise<void>;
  list(owner: string, limit: number): Promise<ConversationSummary[]>;
  /** False when there was none. */
  delete(owner: string, id: string): Promise<boolean>;
}
