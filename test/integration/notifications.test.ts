import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationPreferences } from '../../functions/core/notifications/preferences';
import type { Run } from '../../functions/core/runs/run-model';
import type { RunStatusCloudEvent } from '../../functions/core/shared/run-events';
import { waitFor } from '../../scripts/lib/net';
import { emulatorPubSub } from '../../scripts/lib/pubsub-emulator';
import { request } from '../helpers/api-server';
import { runBody } from '../helpers/samplesheets';
import { isFinal, startTestStack, type TestStack, waitForRun } from '../helpers/stack';

let stack: TestStack;
let sink: Server;
let sinkUrl: string;
const received: { headers: IncomingHttpHeaders; body: string; answered: number }[] = [];
/** The sink answers these statuses first, then 200. */
const answers: number[] = [];

beforeAll(async () => {
  stack = await startTestStack({ env: { NOTIFY_RETRY_DELAYS_MS: '100,200' } });
  sink = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = answers.shift() ?? 200;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hooks/arc`;
});
afterAll(async () => {
  sink?.close();
  await stack?.close();
});

const verify = (secret: string, header: string, body: string) => {
  const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) ?? [];
  return v1 === createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
};

describe('notifications', () => {
  it('refuses a webhook URL it could not safely call, saying why', async () => {
    const bad = await request<{ error: { message: string } }>(`${stack.url}/api/me/preferences`, {
      method: 'PUT',
      json: { webhook_url: 'ftp://example.org/hook' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/webhook_url must be an http\(s\) URL/);
    const defaults = await request<NotificationPreferences>(`${stack.url}/api/me/preferences`);
    expect(defaults.body).toMatchObject({
      webhook_url: null,
      email: false,
      statuses: ['completed', 'failed', 'cancelled'],
    });
  });

  it('posts a signed message to the webhook when a run fails, retried after a 500, and emails through SendGrid once', async () => {
    const saved = await request<NotificationPreferences>(`${stack.url}/api/me/preferences`, {
      method: 'PUT',
      json: { webhook_url: sinkUrl, email: true, statuses: ['failed'] },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const secret = saved.body.webhook_secret!;
    expect(secret).toMatch(/^whsec_/);
    // The URL is the user's secret: it is in no log line.
    expect(JSON.stringify(stack.logs.entries)).not.toContain(sinkUrl);

    answers.push(500);
    const launched = await request<Run>(`${stack.url}/api/runs`, {
      method: 'POST',
      json: runBody({
        params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3', replay_fail_process: 'MTX_TO_H5AD' },
        labels: { team: 'genomics' },
      }),
    });
    expect(launched.status).toBe(201);
    const runId = launched.body.run_id;
    expect((await waitForRun(stack, runId, isFinal)).status).toBe('failed');
    await waitFor(() => received.some((r) => r.answered === 200), {
      timeoutMs: 20_000,
      what: 'the webhook delivery',
    });

    // Only the status asked for (failed), tried twice: the 500, then the 200.
    expect(received.map((r) => r.answered)).toEqual([500, 200]);
    const delivered = received[1]!;
    expect(received[0]!.body).toBe(delivered.body);
    expect(verify(secret, String(delivered.headers['x-arc-signature']), delivered.body)).toBe(true);
    expect(verify('whsec_wrong', String(delivered.headers['x-arc-signature']), delivered.body)).toBe(false);
    const { text, event } = JSON.parse(delivered.body) as { text: string; event: RunStatusCloudEvent };
    expect(event).toMatchObject({
      id: `${runId}/failed`,
      data: { to: 'failed', labels: { team: 'genomics' } },
    });
    expect(delivered.headers['x-arc-event-id']).toBe(`${runId}/failed`);
    expect(text).toContain(`${runId} failed after`);
    expect(text).toContain('nf-core/scrnaseq');
    expect(text).toContain(`${stack.url}/#/runs/${runId}`);

    await waitFor(() => (stack.sendgrid?.messages.length ?? 0) > 0, { timeoutMs: 10_000, what: 'the email' });
    expect(stack.sendgrid!.messages).toHaveLength(1);
    expect(stack.sendgrid!.messages[0]).toMatchObject({ to: ['dev@example.com'] });
    expect(stack.sendgrid!.messages[0]!.subject).toContain(`${runId} failed`);

    // The same event delivered again (Pub/Sub is at least once): nobody is told twice.
    const pubsub = emulatorPubSub(stack.pubsubHost, stack.config.project);
    await pubsub
      .topic(stack.config.runEventsTopic)
      .publishMessage({ data: Buffer.from(JSON.stringify(event)) });
    await waitFor(() => stack.logs.entries.filter((e) => e.message === 'notification_done').length >= 2, {
      timeoutMs: 10_000,
      what: 'the repeated event handled',
    });
    await pubsub.close();
    expect(received).toHaveLength(2);
    expect(stack.sendgrid!.messages).toHaveLength(1);
    const repeat = stack.logs.entries.filter((e) => e.message === 'notification_done').at(-1)!;
    expect(JSON.stringify(repeat)).toContain('already_delivered');
    expect(JSON.stringify(stack.logs.entries)).not.toContain(sinkUrl);
  });
});
