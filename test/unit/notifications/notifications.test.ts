import { describe, expect, it } from 'vitest';
import { haystackEventView } from '../../../functions/core/haystack/run-model';
import { notificationText, runPageUrl } from '../../../functions/core/notifications/message';
import { type NotifierDeps, notify, RetryLaterError } from '../../../functions/core/notifications/notifier';
import type { DeliveryRecord, SendResult } from '../../../functions/core/notifications/ports';
import { DEFAULT_PREFERENCES, webhookUrlProblem } from '../../../functions/core/notifications/preferences';
import { nextflowEventView } from '../../../functions/core/runs/run-model';
import { runStatusEvent } from '../../../functions/core/shared/run-events';

describe('webhook URLs in production', () => {
  it.each([
    ['https://hooks.slack.com/services/T000/B000/XXXX', null],
    ['https://example.org:8443/arc', null],
    ['http://example.org/arc', /https:\/\//],
    ['https://user:pw@example.org/arc', /user name or password/],
    ['https://localhost/arc', /local or internal/],
    ['https://metadata.google.internal/computeMetadata', /local or internal/],
    ['https://127.0.0.1/arc', /loopback/],
    ['https://10.1.2.3/arc', /private/],
    ['https://169.254.169.254/latest', /linkLocal/],
    ['https://[::1]/arc', /loopback/],
    ['https://[::ffff:192.168.0.1]/arc', /private/],
    // IPv4-compatible IPv6 carries the metadata server and loopback past a naive check.
    ['https://[::169.254.169.254]/latest', /linkLocal/],
    ['https://[::a9fe:a9fe]/latest', /linkLocal/],
    ['https://[::127.0.0.1]/arc', /loopback/],
    ['https://[::7f00:1]/arc', /loopback/],
    ['https://[::]/arc', /unspecified/],
    ['https://0.0.0.0/arc', /unspecified/],
    // Site-local (deprecated, still routed inside some networks), unique-local, NAT64, 6to4, Teredo.
    ['https://[fec0::1]/arc', /non-global/],
    ['https://[fd00::1]/arc', /uniqueLocal/],
    ['https://[64:ff9b::a9fe:a9fe]/arc', /rfc6052/],
    ['https://[2002:a9fe:a9fe::1]/arc', /6to4/],
    ['https://[2001::1]/arc', /teredo/],
    ['https://[fe80::1]/arc', /linkLocal/],
    ['https://100.64.0.1/arc', /carrierGradeNat/],
    ['https://192.0.2.10/arc', /reserved/],
    // Numeric spellings the URL parser turns into 127.0.0.1.
    ['https://2130706433/arc', /loopback/],
    ['https://0x7f.1/arc', /loopback/],
    ['https://[2606:4700::1111]/arc', null],
    ['https://1.1.1.1/arc', null],
    ['not a url', /not a URL/],
  ])('%s', (url, problem) => {
    const found = webhookUrlProblem(url, false);
    if (problem === null) expect(found).toBeNull();
    else expect(found).toMatch(problem);
  });

  it('allows http and loopback only on a local stack, and no other private address', () => {
    expect(webhookUrlProblem('http://127.0.0.1:9000/hook', true)).toBeNull();
    expect(webhookUrlProblem('http://[::1]:9000/hook', true)).toBeNull();
    expect(webhookUrlProblem('http://localhost:9000/hook', true)).toBeNull();
    expect(webhookUrlProblem('file:///etc/passwd', true)).toMatch(/http\(s\)/);
    expect(webhookUrlProblem('http://169.254.169.254/computeMetadata/v1/', true)).toMatch(/linkLocal/);
    expect(webhookUrlProblem('http://[::a9fe:a9fe]/', true)).toMatch(/linkLocal/);
    expect(webhookUrlProblem('http://10.0.0.5/hook', true)).toMatch(/private/);
    expect(webhookUrlProblem('http://metadata.google.internal/', true)).toMatch(/local or internal/);
  });
});

const event = runStatusEvent(
  nextflowEventView({ run_id: 'run-abc123def456', pipeline: 'nf-core/scrnaseq', pipeline_version: '4.0.0' }),
  {
    run_id: 'run-abc123def456',
    user_email: 'alice@example.com',
    created_at: '2026-11-27T10:00:00.000Z',
    started_at: '2026-11-27T10:01:00.000Z',
    pipeline: 'nf-core/scrnaseq',
    pipeline_version: '4.0.0',
    labels: { team: 'genomics' },
    error_task: 'NFCORE_SCRNASEQ:STAR_ALIGN (<b>PBMC_1</b>)',
    error_message: 'Process terminated with an error exit status (1)',
  },
  { from: 'running', to: 'failed', at: '2026-11-27T11:03:30.000Z' },
  'lab-prod',
);

describe('the message', () => {
  it('says what happened, for how long, the failed task (no markup) and where to look', () => {
    const link = runPageUrl('https://arc.example.org/', event);
    expect(link).toBe('https://arc.example.org/#/runs/run-abc123def456');
    const { subject, text } = notificationText(event, link);
    expect(subject).toBe('run-abc123def456 failed after 1 h 2 min (nf-core/scrnaseq 4.0.0)');
    expect(text).toContain('Failed task: NFCORE_SCRNASEQ:STAR_ALIGN ( b PBMC_1 /b )');
    expect(text).toContain('Labels: team=genomics');
    expect(text.split('\n').at(-1)).toBe(link);
  });

  it('names a HAYSTACK run and links its page, as its kind says', () => {
    const haystack = runStatusEvent(
      haystackEventView({ run_id: 'hs-abc123def456' }),
      {
        run_id: 'hs-abc123def456',
        user_email: 'alice@example.com',
        created_at: '2026-11-27T10:00:00.000Z',
        pipeline: 'haystack',
        error_message: 'The question could not be answered',
      },
      { from: 'running', to: 'failed', at: '2026-11-27T10:00:30.000Z' },
      'lab-prod',
    );
    const link = runPageUrl('https://arc.example.org', haystack);
    expect(link).toBe('https://arc.example.org/#/haystack/hs-abc123def456');
    expect(notificationText(haystack, link).subject).toBe(
      'hs-abc123def456 failed after 30 s (Cell prompting run)',
    );
  });
});

function deps(answers: SendResult[], maxDeliveries = 2) {
  const log = new Map<string, DeliveryRecord>();
  const sent: string[] = [];
  const d: NotifierDeps = {
    preferences: {
      get: async () => ({
        ...DEFAULT_PREFERENCES,
        webhook_url: 'https://example.org/hook',
        webhook_secret: 's',
      }),
      put: async () => {},
    },
    deliveries: {
      claim: async (id, channel) => {
        const record = log.get(`${id}|${channel}`);
        if (record && record.outcome !== 'retrying') return { state: 'settled', record };
        return { state: 'claimed', attempts: record?.attempts ?? 0 };
      },
      record: async (id, channel, record) => void log.set(`${id}|${channel}`, record),
    },
    webhooks: {
      post: async (_url, body) => {
        sent.push(body);
        return answers.shift() ?? { status: 200 };
      },
    },
    email: null,
    clock: { now: () => new Date('2026-11-27T11:04:00.000Z') },
    sleep: async () => {},
    settings: { publicUrl: 'https://arc.example.org', retryDelaysMs: [10, 20], maxDeliveries },
  };
  return { d, log, sent };
}

describe('the notifier', () => {
  it('retries a failing webhook within a delivery, then asks for redelivery, then gives up', async () => {
    const { d, log, sent } = deps(Array.from({ length: 6 }, () => ({ status: 503 })));
    await expect(notify(d, event)).rejects.toBeInstanceOf(RetryLaterError);
    expect(sent).toHaveLength(3);
    expect(log.get(`${event.id}|webhook`)).toMatchObject({ outcome: 'retrying', attempts: 3 });
    const last = await notify(d, event);
    expect(last.webhook).toMatchObject({ outcome: 'gave_up', detail: 'answered 503 after 6 attempt(s)' });
    expect(sent).toHaveLength(6);
    expect((await notify(d, event)).webhook?.outcome).toBe('gave_up');
    expect(sent).toHaveLength(6);
  });

  it('gives up at once on a 4xx from the receiver (other than 429), and tells nobody twice', async () => {
    const refused = deps([{ status: 404 }]);
    expect((await notify(refused.d, event)).webhook?.outcome).toBe('gave_up');
    expect(refused.sent).toHaveLength(1);
    const fine = deps([{ status: 429 }]);
    expect((await notify(fine.d, event)).webhook?.outcome).toBe('delivered');
    expect((await notify(fine.d, event)).webhook?.outcome).toBe('already_delivered');
    expect(fine.sent).toHaveLength(2);
  });

  it('takes a 3xx as final (redirects are not followed) and sends nothing again', async () => {
    const moved = deps([{ status: 301 }]);
    expect((await notify(moved.d, event)).webhook).toMatchObject({
      outcome: 'gave_up',
      detail: 'answered 301 after 1 attempt(s)',
    });
    expect((await notify(moved.d, event)).webhook?.outcome).toBe('gave_up');
    expect(moved.sent).toHaveLength(1);
  });

  it('records a request that went out but got no answer as unknown, and never sends it again', async () => {
    const slow = deps([{ unanswered: 'no answer within 10 s' }]);
    const first = await notify(slow.d, event);
    expect(first.webhook).toMatchObject({ outcome: 'unknown', detail: expect.stringMatching(/may have it/) });
    expect(slow.log.get(`${event.id}|webhook`)).toMatchObject({ outcome: 'unknown', attempts: 1 });
    expect((await notify(slow.d, event)).webhook?.outcome).toBe('unknown');
    expect(slow.sent).toHaveLength(1);
  });

  it('sends nothing while another delivery holds the claim, and asks to be delivered again', async () => {
    const busy = deps([]);
    busy.d.deliveries.claim = async () => ({ state: 'busy' });
    await expect(notify(busy.d, event)).rejects.toBeInstanceOf(RetryLaterError);
    expect(busy.sent).toHaveLength(0);
  });
});
