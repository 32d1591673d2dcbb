/**
 * The AI SDK's UI message stream, protocol v1 (what `useChat` reads): server-sent events, one
 * JSON part per `data:` line, ending `data: [DONE]`. Each part carries only the keys its type
 * requires (some clients reject extra keys).
 */

export const UI_STREAM_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-vercel-ai-ui-message-stream': 'v1',
  'x-accel-buffering': 'no',
} as const;

/** What the assistant proposes; the page renders it as a diff with Apply. */
export type Proposal =
  | {
      kind: 'params';
      pipeline: string;
      pipeline_version: string;
      /** JSON Merge Patch against `base`: a value sets, null removes. */
      changes: Record<string, unknown>;
      base: Record<string, unknown>;
      valid: boolean;
      problems: string[];
      reason: string;
    }
  | {
      kind: 'samplesheet';
      pipeline: string;
      pipeline_version: string;
      csv: string;
      valid: boolean;
      problems: string[];
      reason: string;
    }
  | {
      kind: 'config';
      /** The whole extra Nextflow config the draft would have (replaces the draft's). */
      config_content: string;
      valid: boolean;
      problems: string[];
      reason: string;
    }
  | {
      kind: 'recovery';
      run_id: string;
      override_params: Record<string, unknown>;
      config_content: string | null;
      reuse_work_dir: boolean;
      valid: boolean;
      problems: string[];
      reason: string;
    };

/** A tool's output as the client sees it: a line for its chip, and what the model was given. */
export interface ToolOutput {
  summary: string;
  ok: boolean;
  result: unknown;
}

export interface Notice {
  kind: 'summarized' | 'step_limit' | 'retried';
  text: string;
}

export type UIStreamPart =
  | { type: 'start'; messageId: string }
  | { type: 'start-step' }
  | { type: 'finish-step' }
  | { type: 'text-start'; id: string }
  | { type: 'text-delta'; id: string; delta: string }
  | { type: 'text-end'; id: string }
  | { type: 'tool-input-available'; toolCallId: string; toolName: string; input: unknown }
  | { type: 'tool-output-available'; toolCallId: string; output: ToolOutput }
  | { type: 'data-proposal'; id: string; data: Proposal }
  | { type: 'data-notice'; data: Notice }
  | { type: 'error'; errorText: string }
  | { type: 'abort' }
  | { type: 'finish' };

/** One part as a server-sent event. */
export function encodePart(part: UIStreamPart): string {
  return `data: ${JSON.stringify(part)}\n\n`;
}

export const STREAM_END = 'data: [DONE]\n\n';

/** A server-sent-events comment: keeps a quiet stream open; every SSE reader skips it. */
export const KEEP_ALIVE = ': keep-alive\n\n';

/** Where the stream goes: the HTTP response in production, an array in unit tests. */
export interface UIStreamWriter {
  write(part: UIStreamPart): void;
  /** True once the client went away (Stop, a closed tab). */
  readonly aborted: boolean;
}
