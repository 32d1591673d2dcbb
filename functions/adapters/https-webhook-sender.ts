import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SendResult, WebhookSender } from '../core/notifications/ports';
import { isPublicAddress, webhookUrlProblem } from '../core/notifications/preferences';

const TIMEOUT_MS = 10_000;

/**
 * POSTs a notification to a user's webhook. The address is checked when the name resolves,
 * inside the connection itself (the `lookup` hook), so a name that resolves to a private
 * address — at save time or only later (DNS rebinding) — is never connected to. Redirects are
 * not followed. The URL is never put in an error or a log line: it is the user's secret.
 */
export class HttpsWebhookSender implements WebhookSender {
  constructor(private readonly allowPrivate: boolean) {}

  post(url: string, body: string, headers: Record<string, string>): Promise<SendResult> {
    const problem = webhookUrlProblem(url, this.allowPrivate);
    if (problem) return Promise.resolve({ error: `webhook URL ${problem}`, permanent: true });
    const target = new URL(url);
    const allowPrivate = this.allowPrivate;
    const lookup = (
      hostname: string,
      options: object,
      callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
    ) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
        if (error) return callback(error, []);
        const list = addresses as LookupAddress[];
        const refused = !allowPrivate && list.some((a) => !isPublicAddress(a.address));
        if (refused) return callback(new Error('the webhook host resolves to a private address'), []);
        const wantsAll = (options as { all?: boolean }).all === true;
        if (wantsAll) return callback(null, list);
        return callback(null, list[0]!.address, list[0]!.family);
      });
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
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
          timeout: TIMEOUT_MS,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
          res.on('error', () => resolve({ status: res.statusCode ?? 0 }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
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
