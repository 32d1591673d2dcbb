import {
  type Backends,
  BENCH_RUN,
  benchStack,
  median,
  ms,
  startApiWithWarehouse,
  stopChild,
  timeUntil,
} from '../harness';

/**
 * Faults: the time from a killed orchestrator (a Spot preemption of its VM) to the run
 * counting progress again, against the time a fresh run takes from launch to its first
 * progress; and how fast /api/benchling/runs and /api/ready answer with the warehouse frozen
 * (SIGSTOP), against the same requests while it is healthy.
 */
export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log('\n== faults: a killed orchestrator, a frozen warehouse');
  const stack = await benchStack(backends, 'faults');
  const progressOf = (run: Record<string, unknown>) => {
    const p = run.progress as { completed: number; cached: number; submitted: number };
    return p.completed + p.cached + p.submitted;
  };
  const kills: { resume_ms: number; first_progress_ms: number }[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${stack.url}/api/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(BENCH_RUN),
      });
      const { run_id } = (await response.json()) as { run_id: string };
      const first = await timeUntil(stack, run_id, (run) => progressOf(run) > 0, 'first progress');
      await timeUntil(stack, run_id, (run) => progressOf(run) >= 6, 'a few tasks');
      const job = (
        (await (await fetch(`${stack.url}/api/runs/${run_id}`)).json()) as { batch_job_name: string }
      ).batch_job_name;
      if (!stack.batch.interruptTask(job, 50001)) throw new Error(`no task to interrupt for ${run_id}`);
      const resume = await timeUntil(
        stack,
        run_id,
        (run) => run.orchestrator_attempt === 2 && progressOf(run) > 0,
        'the second attempt to count progress',
      );
      await timeUntil(
        stack,
        run_id,
        (run) => ['completed', 'failed'].includes(run.status as string),
        'the end',
      );
      kills.push({ resume_ms: resume, first_progress_ms: first });
    }
  } finally {
    await stack.stop();
  }
  const resume = median(kills.map((k) => k.resume_ms));
  const fresh = median(kills.map((k) => k.first_progress_ms));
  console.log(
    `orchestrator killed (exit 50001) → the run counts progress again: median ${ms(resume)} over ${kills.length} kills, vs launch → first progress ${ms(fresh)} (${(resume / fresh).toFixed(2)}×); Batch's retry delay in the twin is 200 ms`,
  );

  const { fn, warehouse } = await startApiWithWarehouse(backends, 'warehouse-frozen');
  const answer = async (path: string) => {
    const t = performance.now();
    const response = await fetch(`${fn.url}${path}`);
    const body = (await response.json()) as { partial?: boolean };
    return { ms: performance.now() - t, status: response.status, partial: body.partial === true };
  };
  const frozen: Record<string, { ms: number; status: number; partial: boolean }[]> = { runs: [], ready: [] };
  const healthy: Record<string, number[]> = { runs: [], ready: [] };
  try {
    for (let i = 0; i < 5; i++) {
      healthy.runs!.push((await answer('/api/benchling/runs')).ms);
      healthy.ready!.push((await answer('/api/ready')).ms);
    }
    warehouse.freeze();
    // The first runs request finds a pooled connection (the query deadline answers), the next
    // ones need a new one (the acquire deadline answers).
    for (let i = 0; i < 3; i++) {
      frozen.runs!.push(await answer('/api/benchling/runs'));
      frozen.ready!.push(await answer('/api/ready'));
    }
  } finally {
    warehouse.thaw();
    await stopChild(fn.child);
    await warehouse.stop();
  }
  const describe = (list: { ms: number; status: number; partial: boolean }[]) =>
    list.map((a) => `${(a.ms / 1000).toFixed(1)} s → ${a.status}${a.partial ? ' partial' : ''}`).join(', ');
  console.log(
    `warehouse frozen: /api/benchling/runs ${describe(frozen.runs!)} (healthy p50 ${ms(median(healthy.runs!))}; deadlines: query 15 s + 1 s, connection 10 s)`,
  );
  console.log(
    `warehouse frozen: /api/ready ${describe(frozen.ready!)} (healthy p50 ${ms(median(healthy.ready!))}; deadline 3 s per check)`,
  );
  return {
    orchestrator_kill_to_progress_ms: resume,
    launch_to_first_progress_ms: fresh,
    kill_resume_ratio: resume / fresh,
    frozen_warehouse: {
      runs: frozen.runs,
      ready: frozen.ready,
      healthy_runs_p50_ms: median(healthy.runs!),
      healthy_ready_p50_ms: median(healthy.ready!),
    },
  };
}
