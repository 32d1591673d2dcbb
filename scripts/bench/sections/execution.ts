import { emulatorPubSub } from '../../lib/pubsub-emulator';
import { type Backends, BENCH_RUN, benchStack, median, ms, percentile, runToEnd } from '../harness';

export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log('\n== execution (local stack, replay executor)');
  const stack = await benchStack(backends, 'exec');
  // What another system sees: each status change on arc-run-events, and how long after it happened.
  const pubsub = emulatorPubSub(stack.pubsubHost, stack.config.project);
  const [subscription] = await pubsub
    .topic(stack.config.runEventsTopic)
    .createSubscription('bench-run-events', { enableMessageOrdering: true });
  const lags: number[] = [];
  subscription.on('message', (message) => {
    const event = JSON.parse(message.data.toString('utf8')) as { data: { at: string } };
    lags.push(Date.now() - Date.parse(event.data.at));
    message.ack();
  });
  try {
    const rounds = 3;
    const totals: number[] = [];
    const pipelines: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const run = await runToEnd(stack, '/api/runs', BENCH_RUN);
      if (run.status !== 'completed') throw new Error(`bench run ended ${run.status}`);
      totals.push(run.wall_ms);
      pipelines.push(run.pipeline_ms);
    }
    const total = median(totals);
    const pipeline = median(pipelines);
    console.log(
      `submit → completed, median of ${rounds}: ${ms(total)}; replayed pipeline ${ms(pipeline)}; platform ${ms(total - pipeline)} = ${(((total - pipeline) / total) * 100).toFixed(1)}% (workflow steps, job start, event handling, uploads)`,
    );

    // onBatchJobEvent throughput: notifications for the finished runs, sequentially and
    // 8 at a time (the latter contends on the same few run documents, as a burst would).
    const runs = (
      (await (await fetch(`${stack.url}/api/runs?page_size=100`)).json()) as {
        runs: { batch_job_name: string }[];
      }
    ).runs;
    const deliver = async (events: number, concurrency: number): Promise<number> => {
      let next = 0;
      const startedEvents = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < events) {
            const i = next++;
            const response = await fetch(`${stack.functionsUrl}/onBatchJobEvent`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'ce-specversion': '1.0',
                'ce-id': `bench-${concurrency}-${i}`,
                'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
                'ce-source': '//bench',
              },
              body: JSON.stringify({
                message: {
                  attributes: { JobName: runs[i % runs.length]!.batch_job_name, NewJobState: 'SUCCEEDED' },
                  data: '',
                },
              }),
            });
            if (response.status !== 204) throw new Error(`onBatchJobEvent answered ${response.status}`);
          }
        }),
      );
      return events / ((performance.now() - startedEvents) / 1000);
    };
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const events = {
      count: lags.length,
      p50_ms: percentile(lags, 50),
      p95_ms: percentile(lags, 95),
    };
    console.log(
      `run status events on arc-run-events: ${events.count} for ${rounds} runs (${events.count / rounds} each); status change → subscriber p50 ${ms(events.p50_ms)}, p95 ${ms(events.p95_ms)}`,
    );
    await subscription.close();

    const sequential = await deliver(200, 1);
    const concurrent = await deliver(400, 8);
    console.log(
      `onBatchJobEvent (reads the job from the Batch twin, one conditional Firestore commit): ${sequential.toFixed(0)} events/s one at a time; ` +
        `${concurrent.toFixed(0)} events/s 8 at a time over ${runs.length} runs`,
    );
    return {
      submit_to_completed_ms: total,
      replayed_pipeline_ms: pipeline,
      platform_share: (total - pipeline) / total,
      rounds,
      batch_events_per_second: { sequential, concurrent_8: concurrent, runs: runs.length },
      run_events: events,
    };
  } finally {
    await pubsub.close();
    await stack.stop();
  }
}
