/**
 * Live views (SSE) within an instance's capacity (issue 31): a user's open streams are
 * bounded, an instance's too, and a stream ends itself before the request timeout and resumes
 * where it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreRunStore } from '../../functions/adapters/firestore-run-store';
import { asUser, startTestApi, type TestApi } from '../helpers/api-server';
import { storedRunRecord } from '../helpers/runs';
import { readEvents } from '../helpers/sse';

let api: TestApi;
/** The same, with streams that last a second. */
let short: TestApi;
let runId: string;

beforeAll(async () => {
  const env = { SSE_STREAMS_PER_USER: '2', SSE_STREAMS_PER_INSTANCE: '3', ADMIN_EMAILS: 'admin@example.com' };
  api = await startTestApi({ env });
  short = await startTestApi({
    env: { ...env, GOOGLE_CLOUD_PROJECT: api.config.project, SSE_MAX_SECONDS: '1' },
  });
  const run = storedRunRecord({
    user_email: 'streams@example.com',
    status: 'running',
    started_at: new Date().toISOString(),
  });
  await new FirestoreRunStore(api.firestore).create(run);
  runId = run.run_id;
});
afterAll(() => Promise.all([api?.close(), short?.close()]));

const open = (user: string, headers: Record<string, string> = {}, signal?: AbortSignal, on = api) =>
  fetch(`${on.url}/api/runs/${runId}/events`, { headers: { ...asUser(user), ...headers }, signal });

describe('live views', () => {
  it('ends a stream at its time limit; the client resumes with Last-Event-ID and gets only what changed', async () => {
    const first = await readEvents(await open('streams@example.com', {}, undefined, short), () => false);
    // It ended by itself, without a "done": the run is still running.
    expect(first.ended).toBe(true);
    expect(first.events.map((e) => e.event)).toEqual(['run']);
    const resumed = await readEvents(
      await open('streams@example.com', { 'last-event-id': first.events[0]!.id! }, undefined, short),
      () => false,
    );
    expect(resumed.ended).toBe(true);
    expect(resumed.events).toEqual([]);
  });

  it("refuses a user's stream past their limit, then lets one through when one closes", async () => {
    const held = [new AbortController(), new AbortController()];
    const [a, b] = await Promise.all(held.map((c) => open('streams@example.com', {}, c.signal)));
    expect([a!.status, b!.status]).toEqual([200, 200]);
    // The instance holds 3: an admin's first stream fits, the next does not, whoever asks.
    const admin = new AbortController();
    expect((await open('admin@example.com', {}, admin.signal)).status).toBe(200);
    const full = await open('admin@example.com');
    expect(full.status).toBe(503);
    expect(((await full.json()) as { error: { message: string } }).error.message).toMatch(
      /^This server holds as many live views as it may \(3\)/,
    );
    admin.abort();
    const third = await open('streams@example.com');
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { message: string } }).error.message).toMatch(
      /^You have 2 live views open on this server \(the limit is 2\)/,
    );
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    held[0]!.abort();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await open('streams@example.com');
    expect(again.status).toBe(200);
    held[1]!.abort();
    await again.body?.cancel();
  });
});
