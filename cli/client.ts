/**
 * The `arc` command line's HTTP client: the platform's API only. Identity: with an IAP audience
 * (ARC_IAP_AUDIENCE), an OIDC ID token for it from google-auth-library (a service account, or
 * gcloud user credentials) as `Authorization: Bearer`, the way a request passes IAP; without,
 * the local stack's development identity (ARC_USER picks a user, as the IAP header would).
 */
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { GoogleAuth } from 'google-auth-library';
import type { FieldProblem } from '../functions/core/shared/errors';

export const EXIT = { completed: 0, failed: 1, usage: 2, cancelled: 3, unreachable: 4 } as const;

/** A failure the CLI reports and exits with: the platform's words, and each problem by row and column. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

export interface ClientOptions {
  url: string;
  audience?: string;
  user?: string;
}

type Problem = FieldProblem;

export class ArcClient {
  private tokenClient: Promise<{ getRequestHeaders(): Promise<Headers | Record<string, string>> }> | null =
    null;

  constructor(private readonly options: ClientOptions) {}

  private async headers(): Promise<Record<string, string>> {
    if (this.options.audience) {
      this.tokenClient ??= new GoogleAuth().getIdTokenClient(this.options.audience) as never;
      const headers = await (await this.tokenClient!).getRequestHeaders();
      return headers instanceof Headers ? Object.fromEntries(headers.entries()) : headers;
    }
    return this.options.user
      ? { 'x-goog-authenticated-user-email': `accounts.google.com:${this.options.user}` }
      : {};
  }

  /**
   * Reads a Server-Sent Events stream (the log stream) until it ends or `onEvent` answers
   * false; errors are reported like request()'s.
   */
  async stream(
    path: string,
    onEvent: (event: { event?: string; id?: string; data: string }) => boolean,
  ): Promise<void> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.options.url), {
        headers: { accept: 'text/event-stream', ...(await this.headers()) },
      });
    } catch (error) {
      throw this.unreachable(error);
    }
    if (!response.ok || !response.body) this.fail(response, await response.text());
    const events = response
      .body!.pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream());
    for await (const event of events) {
      if (!onEvent(event)) break;
    }
  }

  private unreachable(error: unknown): CliError {
    return new CliError(
      `Could not reach Arc Reactor at ${this.options.url} (${(error as Error).message}). Is it running? Set --url or ARC_URL.`,
      EXIT.unreachable,
    );
  }

  private fail(response: Response, text: string): never {
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | null)
      ?.error;
    // Each problem exactly as the API words it (it names the row and column itself).
    const problems = Array.isArray(error?.details) ? (error.details as Problem[]).map((p) => p.message) : [];
    const retry = response.headers.get('retry-after');
    // The API's message lists the first problems itself: each is printed once, in the list.
    const message = error?.message ?? `Arc Reactor answered ${response.status}.`;
    const listed = problems.length > 0 ? message.indexOf(problems[0]!) : -1;
    throw new CliError(
      `${listed > 0 ? message.slice(0, listed).trimEnd() : message}${response.status === 429 && retry ? ` (retry in ${retry} s)` : ''}`,
      EXIT.unreachable,
      problems,
    );
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.options.url), {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(await this.headers()),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw this.unreachable(error);
    }
    const text = await response.text();
    if (!response.ok) this.fail(response, text);
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return parsed as T;
  }
}
