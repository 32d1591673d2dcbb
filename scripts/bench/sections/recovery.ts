import { waitForValue } from '../../lib/net';
import { type Backends, BENCH_RUN, benchStack, type FinishedRun, median, ms, runToEnd } from '../harness';

export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log('\n== recovery (local stack, replay executor): a resumed run against a first attempt');
  const stack = await benchStack(backends, 'recovery');
  try {
    const rounds = 2;
    const full: FinishedRun[] = [];
    const failed: FinishedRun[] = [];
    const resumed: FinishedRun[] = [];
    const shares: { tasks: number; realtime: number }[] = [];
    for (let i = 0; i < rounds; i++) {
      full.push(await runToEnd(stack, '/api/runs', BENCH_RUN));
      // Fails late (CELLBENDER_REMOVEBACKGROUND), then resumes with the cause removed.
      const broken = {
        ...BENCH_RUN,
        params: { ...BENCH_RUN.params, replay_fail_process: 'CELLBENDER_REMOVEBACKGROUND' },
      };
      const attempt = await runToEnd(stack, '/api/runs', broken);
      if (attempt.status !== 'failed') throw new Error(`the failing bench run ended ${attempt.status}`);
      failed.push(attempt);
      const recovery = await runToEnd(stack, `/api/runs/${attempt.run_id}/recover`, {
        override_params: { replay_fail_process: null },
      });
      if (recovery.status !== 'completed') throw new Error(`the recovery ended ${recovery.status}`);
      resumed.push(recovery);
      const tasks = await waitForValue(
        async () => {
          const page = (await (
            await fetch(`${stack.url}/api/runs/${recovery.run_id}/tasks?page_size=500`)
          ).json()) as {
            source: string;
            tasks: { status: string; realtime: number | null }[];
          };
          return page.source === 'final' ? page.tasks : null;
        },
        { timeoutMs: 10_000, what: 'the final trace of the recovery' },
      );
      const realtime = (list: typeof tasks) => list.reduce((sum, t) => sum + (t.realtime ?? 0), 0);
      const cached = tasks.filter((t) => t.status === 'CACHED');
      shares.push({ tasks: cached.length / tasks.length, realtime: realtime(cached) / realtime(tasks) });
    }
    const m = (list: FinishedRun[], key: 'wall_ms' | 'pipeline_ms') => median(list.map((r) => r[key]));
    const cachedTasks = median(shares.map((s) => s.tasks));
    const cachedRealtime = median(shares.map((s) => s.realtime));
    console.log(
      `median of ${rounds}: first attempt from scratch ${ms(m(full, 'wall_ms'))} (pipeline ${ms(m(full, 'pipeline_ms'))}); ` +
        `failed attempt ${ms(m(failed, 'wall_ms'))}; resumed ${ms(m(resumed, 'wall_ms'))} (pipeline ${ms(m(resumed, 'pipeline_ms'))})`,
    );
    console.log(
      `resumed / first attempt: wall ${(m(resumed, 'wall_ms') / m(full, 'wall_ms')).toFixed(2)}×, pipeline ${(m(resumed, 'pipeline_ms') / m(full, 'pipeline_ms')).toFixed(2)}×; ` +
        `cached share of the resumed run: ${(cachedTasks * 100).toFixed(0)}% of tasks, ${(cachedRealtime * 100).toFixed(0)}% of recorded task time ` +
        `(expected pipeline ratio ≈ 1 − the cached share on the critical path)`,
    );
    return {
      rounds,
      first_attempt_ms: m(full, 'wall_ms'),
      first_attempt_pipeline_ms: m(full, 'pipeline_ms'),
      failed_attempt_ms: m(failed, 'wall_ms'),
      resumed_ms: m(resumed, 'wall_ms'),
      resumed_pipeline_ms: m(resumed, 'pipeline_ms'),
      cached_task_share: cachedTasks,
      cached_realtime_share: cachedRealtime,
    };
  } finally {
    await stack.stop();
  }
}
