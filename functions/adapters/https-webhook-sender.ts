import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { SEND_TIMEOUT_MS, type SendResult, type WebhookSender } from '../core/notifications/ports';
import { webhookUrlProblem } from '../core/notifications/preferences';
import { addressProblem } from '../core/shared/addresses';

/**
 * POSTs a notification to a user's webhook. The address is checked when the name resolves,
 * inside the connection itself (the `lookup` hook), so a name that resolves to a private
 * address — at save time or only later (DNS rebinding) — is never connected to. Redirects are
 * not followed (a 3xx is the receiver's final answer). The URL is never put in an error or a log line: it is the user's secret.
 */
export class HttpsWebhookSender implements WebhookSender {
  /** `allowLoopback`: the local stack's sinks on 127.0.0.1 / ::1 (over http too); nothing else private. */
  constructor(
    private readonly allowLoopback: boolean,
    private readonly timeoutMs = SEND_TIMEOUT_MS,
  ) {}

  post(url: string, body: string, headers: Record<string, string>): Promise<SendResult> {
    // An IP literal never reaches the lookup hook: this check is the one that refuses it.
    const problem = webhookUrlProblem(url, this.allowLoopback);
    if (problem) return Promise.resolve({ error: `webhook URL ${problem}`, permanent: true });
    const target = new URL(url);
    const allowLoopback = this.allowLoopback;
    const timeoutMs = this.timeoutMs;
    const lookup = (
      hostname: string,
      options: object,
      callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
    ) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
        if (error) return callback(error, []);
        const list = addresses as LookupAddress[];
        const refused = list.some((a) => addressProblem(a.address, allowLoopback) !== null);
        if (refused) return callback(new Error('the webhook host resolves to a private address'), []);
        const wantsAll = (options as { all?: boolean }).all === true;
        if (wantsAll) return callback(null, list);
        return callback(null, list[0]!.address, list[0]!.family);
      });
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      // Set once the whole request has been handed to the connection: a timeout after that
      // is an unanswered request the receiver may well have, not one that never arrived.
      let sent = false;
      const req = send(
        target,
        {
          method: 'POST',
          headers: {
            ...headers,
            'user-agent': 'arc-reactor-notifier/1',
            'content-length': Buffer.byteLength(body),
          },
          lookup: lookup as never,
          timeout: timeoutMs,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
          res.on('error', () => resolve({ status: res.statusCode ?? 0 }));
        },
      );
      req.on('finish', () => {
        sent = true;
      });
      req.on('timeout', () => {
        if (sent) resolve({ unanswered: `no answer within ${timeoutMs / 1000} s` });
        req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`));
      });
      req.on('error', (error) =>
        resolve({
          error: /private address/.test(error.message)
            ? 'the webhook host resolves to a private address'
            : `the webhook could not be reached (${(error as NodeJS.ErrnoException).code ?? error.message})`,
          permanent: /private address/.test(error.message),
        }),
      );
      req.end(body);
    });
  }
}
