import { type EmailSender, SEND_TIMEOUT_MS, type SendResult } from '../core/notifications/ports';
import type { Secrets } from '../core/shared/ports';

/**
 * Email through SendGrid's v3 Mail Send API (`POST /v3/mail/send`, 202 when accepted), with
 * the key from Secret Manager (`sendgrid-api-key`) — the channel the HAYSTACK spec names.
 * Locally the base URL points at the SendGrid twin.
 */
export class SendGridEmailSender implements EmailSender {
  constructor(
    private readonly secrets: Secrets,
    private readonly settings: { baseUrl: string; secretName: string; from: string },
  ) {}

  async send(message: { to: string; subject: string; text: string }): Promise<SendResult> {
    let key: string;
    try {
      key = await this.secrets.get(this.settings.secretName);
    } catch (error) {
      // No key: a configuration problem, not worth redelivering the event for.
      return { error: (error as Error).message, permanent: true };
    }
    try {
      const response = await fetch(`${this.settings.baseUrl.replace(/\/$/, '')}/v3/mail/send`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          personalizations: [{ to: [{ email: message.to }] }],
          from: { email: this.settings.from, name: 'Arc Reactor' },
          subject: message.subject,
          content: [{ type: 'text/plain', value: message.text }],
        }),
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      return { status: response.status };
    } catch (error) {
      // A request that timed out may have been accepted: sending it again could email twice.
      if ((error as Error).name === 'TimeoutError')
        return { unanswered: `SendGrid did not answer within ${SEND_TIMEOUT_MS / 1000} s` };
      return { error: `SendGrid could not be reached (${(error as Error).name})`, permanent: false };
    }
  }
}
