/**
 * Each event reaches a webhook once (issue 31): the delivery log's claim in the Firestore
 * emulator, the real HTTPS sender, and a receiver on loopback that counts what it gets.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreDeliveryLog } from '../../functions/adapters/firestore-notifications';
import { HttpsWebhookSender } from '../../functions/adapters/https-webhook-sender';
import { loadConfig } from '../../functions/config';
import { type NotifierDeps, notify, RetryLaterError } from '../../functions/core/notifications/notifier';
import { DEFAULT_PREFERENCES } from '../../functions/core/notifications/preferences';
import { nextflowEventView } from '../../functions/core/runs/run-model';
import { runStatusEvent } from '../../functions/core/shared/run-events';
import { createFirestore } from '../../functions/deps';
import { firestoreEmulatorHost, uniqueProjectId } from '../helpers/env';

const config = loadConfig({
  GOOGLE_CLOUD_PROJECT: uniqueProjectId('arc-deliveries'),
  FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost(),
});
const db = createFirestore(config);

let server: Server;
let url = '';
const received: string[] = [];
/** How the receiver answers the next POST: after `delayMs`, or never. */
let answer: { delayMs: number } | 'never' = { delayMs: 0 };

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      received.push(String(req.headers['x-arc-event-id']));
      if (answer === 'never') return;
      setTimeout(() => res.end('ok'), answer.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

let serial = 0;
function event() {
  serial += 1;
  const runId = `run-${String(serial).padStart(12, '0')}`;
  return runStatusEvent(
    nextflowEventView({ run_id: runId, pipeline: 'nf-core/scrnaseq', pipeline_version: '4.0.0' }),
    {
      run_id: runId,
      user_email: 'hooks@example.com',
      created_at: '2026-12-07T10:00:00.000Z',
      started_at: '2026-12-07T10:01:00.000Z',
      pipeline: 'nf-core/scrnaseq',
      pipeline_version: '4.0.0',
      labels: {},
      error_task: null,
      error_message: null,
    },
    { from: 'running', to: 'failed', at: '2026-12-07T10:05:00.000Z' },
    config.project,
  );
}

function deps(timeoutMs = 2_000): NotifierDeps {
  return {
    preferences: {
      get: async () => ({ ...DEFAULT_PREFERENCES, webhook_url: url, webhook_secret: 's' }),
      put: async () => {},
    },
    deliveries: new FirestoreDeliveryLog(db),
    webhooks: new HttpsWebhookSender(true, timeoutMs),
    email: null,
    clock: { now: () => new Date() },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    settings: { publicUrl: 'http://localhost:8080', retryDelaysMs: [50, 50], maxDeliveries: 5 },
  };
}

describe('webhook deliveries', () => {
  it('sends an event once when two deliveries of it arrive at the same moment', async () => {
    answer = { delayMs: 300 };
    const e = event();
    const outcomes = await Promise.allSettled([notify(deps(), e), notify(deps(), e), notify(deps(), e)]);
    expect(received.filter((id) => id === e.id)).toHaveLength(1);
    const delivered = outcomes.filter((o) => o.status === 'fulfilled');
    expect(delivered).toHaveLength(1);
    expect(
      (delivered[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof notify>>>).value.webhook?.outcome,
    ).toBe('delivered');
    // The others were told to come back; when they do, it is already delivered.
    for (const other of outcomes.filter((o) => o.status === 'rejected'))
      expect((other as PromiseRejectedResult).reason).toBeInstanceOf(RetryLaterError);
    expect((await notify(deps(), e)).webhook?.outcome).toBe('already_delivered');
    expect(received.filter((id) => id === e.id)).toHaveLength(1);
  });

  it('posts once to a receiver slower than the timeout, and records that it may have it', async () => {
    answer = 'never';
    const e = event();
    const first = await notify(deps(300), e);
    expect(first.webhook).toMatchObject({
      outcome: 'unknown',
      detail: expect.stringMatching(/no answer within 0.3 s/),
    });
    // Pub/Sub's redeliveries of the event send nothing more.
    for (let i = 0; i < 3; i++) expect((await notify(deps(300), e)).webhook?.outcome).toBe('unknown');
    expect(received.filter((id) => id === e.id)).toHaveLength(1);
    answer = { delayMs: 0 };
  });

  it('refuses every internal address form at send time, before connecting', async () => {
    const production = new HttpsWebhookSender(false);
    for (const target of [
      'https://[::169.254.169.254]/computeMetadata/v1/',
      'https://[::a9fe:a9fe]/',
      'https://[::127.0.0.1]/',
      'https://[fec0::1]/',
      'https://[::ffff:10.0.0.1]/',
      'https://169.254.169.254/',
    ])
      expect(await production.post(target, '{}', {})).toMatchObject({
        error: expect.stringMatching(/must be a public address/),
        permanent: true,
      });
    // The local stack's allowance is loopback only: the metadata server stays out of reach.
    const local = new HttpsWebhookSender(true);
    for (const target of [
      'http://169.254.169.254/computeMetadata/v1/',
      'http://[::a9fe:a9fe]/',
      'http://10.0.0.1/',
    ])
      expect(await local.post(target, '{}', {})).toMatchObject({ permanent: true });
    expect(await local.post(url, '{}', { 'x-arc-event-id': 'loopback-check' })).toEqual({ status: 200 });
  });
});
