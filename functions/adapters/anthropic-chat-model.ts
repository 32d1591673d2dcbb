/**
 * Claude through the official SDK (`@anthropic-ai/sdk`, pinned to 0.137.x). The SDK retries 429, 529 and 5xx itself
 * (maxRetries, honouring retry-after); nothing here loops on top of it. Errors become
 * ModelErrors in the assistant's words; the key never appears in them.
 */
import type Anthropic from '@anthropic-ai/sdk';
import {
  type ChatModel,
  ModelError,
  type ModelEvent,
  type ModelMessage,
  type ModelRequest,
} from '../core/assistant/ports';

export interface AnthropicSettings {
  apiKey: () => Promise<string>;
  model: string;
  /** Sent only when set (models after Claude Opus 4.6 refuse one). */
  temperature?: number;
  maxTokens: number;
  /** The local twin, or a proxy; default api.anthropic.com. */
  baseUrl?: string;
  maxRetries: number;
  /** Per request, ms. */
  timeoutMs: number;
  /** How long a successful model check is trusted. */
  checkTtlMs: number;
}

/**
 * The SDK, loaded with the first client: an instance that never calls Claude never loads its
 * 340 KB (issue 22, cold starts). An error can only be the SDK's once it is loaded.
 */
let loadedSdk: typeof Anthropic | undefined;
async function anthropicSdk(): Promise<typeof Anthropic> {
  loadedSdk ??= (await import('@anthropic-ai/sdk')).default;
  return loadedSdk;
}

const PROMPT_TOO_LONG = /prompt is too long|too many tokens|context (window|length)/i;

/** The status, the error type Anthropic named, and our words for the user. */
export function modelErrorFrom(error: unknown): ModelError {
  if (error instanceof ModelError) return error;
  const Sdk = loadedSdk;
  if (!Sdk) return unreachable(error);
  if (error instanceof Sdk.APIUserAbortError) {
    return new ModelError('unavailable', 'The answer was stopped.', null, { cause: error });
  }
  if (error instanceof Sdk.APIConnectionError) {
    return new ModelError(
      'unavailable',
      'Claude could not be reached (the connection failed or dropped); try again.',
      null,
      {
        cause: error,
      },
    );
  }
  if (error instanceof Sdk.APIError) {
    const status = error.status ?? null;
    const body = error.error as { error?: { type?: string; message?: string } } | undefined;
    const type = body?.error?.type ?? null;
    const text = body?.error?.message ?? '';
    if (status === 400 && PROMPT_TOO_LONG.test(text)) {
      return new ModelError('context_too_long', 'Conversation too long for the model.', status, {
        cause: error,
      });
    }
    if (status === 401 || status === 403) {
      return new ModelError(
        'refused',
        'Claude refused the API key: replace the secret anthropic-api-key (ANTHROPIC_API_KEY locally) with a valid key.',
        status,
        { cause: error },
      );
    }
    if (status === 404) {
      return new ModelError(
        'refused',
        'The configured model does not exist: set ANTHROPIC_MODEL to a model your key can use.',
        status,
        {
          cause: error,
        },
      );
    }
    if (status === null || status === 429 || status === 529 || status >= 500 || type === 'overloaded_error') {
      const why =
        status === 429
          ? 'rate limited'
          : status === 529 || type === 'overloaded_error'
            ? 'overloaded'
            : 'unavailable';
      return new ModelError('unavailable', `Claude is ${why} right now; try again in a minute.`, status, {
        cause: error,
      });
    }
    return new ModelError(
      'refused',
      `Claude refused the request (${status}${type ? ` ${type}` : ''}).`,
      status,
      {
        cause: error,
      },
    );
  }
  return unreachable(error);
}

const unreachable = (error: unknown) =>
  new ModelError('unavailable', 'Claude could not be reached; try again.', null, { cause: error });

function toAnthropic(messages: ModelMessage[]): Anthropic.MessageParam[] {
  return messages.map((message) => ({
    role: message.role,
    content: message.content.map((block): Anthropic.ContentBlockParam => {
      if (block.type === 'text') return { type: 'text', text: block.text };
      if (block.type === 'tool_use')
        return {
          type: 'tool_use',
          id: block.id,
          name: block.name,
          input: block.input as Record<string, unknown>,
        };
      return {
        type: 'tool_result',
        tool_use_id: block.tool_use_id,
        content: block.content,
        is_error: block.is_error,
      };
    }),
  }));
}

/**
 * One SDK client per key, made on first use (the key may come from Secret Manager); a failed
 * key lookup is not kept, so the next request tries again. The assistant and HAYSTACK's query
 * interpreter share this set-up.
 */
export class AnthropicClient {
  private client: Promise<Anthropic> | null = null;

  constructor(
    private readonly settings: Pick<AnthropicSettings, 'apiKey' | 'baseUrl' | 'maxRetries' | 'timeoutMs'>,
  ) {}

  get(): Promise<Anthropic> {
    this.client ??= Promise.all([this.settings.apiKey(), anthropicSdk()]).then(
      ([apiKey, Sdk]) =>
        new Sdk({
          apiKey,
          baseURL: this.settings.baseUrl,
          maxRetries: this.settings.maxRetries,
          timeout: this.settings.timeoutMs,
        }),
    );
    this.client.catch(() => {
      this.client = null;
    });
    return this.client;
  }
}

export class AnthropicChatModel implements ChatModel {
  private readonly client: AnthropicClient;
  private checkedAt = 0;

  constructor(private readonly settings: AnthropicSettings) {
    this.client = new AnthropicClient(settings);
  }

  get model(): string {
    return this.settings.model;
  }

  private sdk(): Promise<Anthropic> {
    return this.client.get();
  }

  async *stream(request: ModelRequest): AsyncIterable<ModelEvent> {
    const client = await this.sdk();
    const tools = new Map<number, { id: string; name: string; json: string }>();
    try {
      const stream = await client.messages.create(
        {
          model: this.settings.model,
          max_tokens: request.maxTokens ?? this.settings.maxTokens,
          ...(this.settings.temperature === undefined ? {} : { temperature: this.settings.temperature }),
          system: request.system,
          messages: toAnthropic(request.messages),
          tools: request.tools.map((t) => ({
            name: t.name,
            description: t.description,
            input_schema: t.input_schema as Anthropic.Tool.InputSchema,
          })),
          stream: true,
        },
        { signal: request.signal },
      );
      let stopReason: string | null = null;
      for await (const event of stream) {
        if (event.type === 'content_block_start' && event.content_block.type === 'tool_use') {
          tools.set(event.index, { id: event.content_block.id, name: event.content_block.name, json: '' });
        } else if (event.type === 'content_block_delta') {
          if (event.delta.type === 'text_delta') yield { type: 'text', text: event.delta.text };
          else if (event.delta.type === 'input_json_delta') {
            const tool = tools.get(event.index);
            if (tool) tool.json += event.delta.partial_json;
          }
        } else if (event.type === 'content_block_stop') {
          const tool = tools.get(event.index);
          if (tool) {
            let input: unknown = {};
            try {
              input = tool.json ? JSON.parse(tool.json) : {};
            } catch {
              input = { unparsable_input: tool.json.slice(0, 200) };
            }
            yield { type: 'tool_use', id: tool.id, name: tool.name, input };
          }
        } else if (event.type === 'message_delta') {
          stopReason = event.delta.stop_reason ?? stopReason;
        }
      }
      yield { type: 'end', stopReason };
    } catch (error) {
      throw modelErrorFrom(error);
    }
  }

  async complete(request: Omit<ModelRequest, 'tools'>): Promise<string> {
    const client = await this.sdk();
    try {
      const message = await client.messages.create(
        {
          model: this.settings.model,
          max_tokens: request.maxTokens ?? this.settings.maxTokens,
          ...(this.settings.temperature === undefined ? {} : { temperature: this.settings.temperature }),
          system: request.system,
          messages: toAnthropic(request.messages),
        },
        { signal: request.signal },
      );
      return message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
    } catch (error) {
      throw modelErrorFrom(error);
    }
  }

  async check(): Promise<void> {
    if (Date.now() - this.checkedAt < this.settings.checkTtlMs) return;
    const client = await this.sdk();
    try {
      await client.models.retrieve(this.settings.model, undefined, { maxRetries: 0, timeout: 2_500 });
      this.checkedAt = Date.now();
    } catch (error) {
      throw modelErrorFrom(error);
    }
  }
}
