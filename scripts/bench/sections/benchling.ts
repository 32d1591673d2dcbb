import { type Backends, ms, percentile, startApiWithWarehouse, stopChild } from '../harness';

export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log('\n== benchling: /api/benchling/runs under 20 concurrent clients for 30 s');
  const { fn, warehouse } = await startApiWithWarehouse(backends, 'warehouse');
  // The pool's size as the server sees it: the reader role's open connections, sampled.
  const admin = await warehouse.adminClient('postgres');
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await admin.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1',
        [warehouse.reader.user],
      );
      peak = Math.max(peak, rows[0]!.n);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const projects = warehouse.seed.projects.map((p) => p.id);
  const queries = [
    '',
    'page=2',
    `project=${projects[0]}`,
    `project=${projects[1]}&page_size=50`,
    'q=PBMC',
    `from=${warehouse.seed.runs[10]!.run_date}`,
  ];
  const clients = 20;
  const durationMs = 30_000;
  const times: number[] = [];
  let failures = 0;
  try {
    const end = performance.now() + durationMs;
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        for (let i = client; performance.now() < end; i++) {
          const t = performance.now();
          const response = await fetch(`${fn.url}/api/benchling/runs?${queries[i % queries.length]}`);
          await response.arrayBuffer();
          if (response.status === 200) times.push(performance.now() - t);
          else failures++;
        }
      }),
    );
  } finally {
    sampling = false;
    await sampler;
    await admin.end();
    await stopChild(fn.child);
    await warehouse.stop();
  }
  const p50 = percentile(times, 50);
  const p95 = percentile(times, 95);
  console.log(
    `${times.length.toLocaleString('en')} requests in ${durationMs / 1000} s (${Math.round(times.length / (durationMs / 1000))}/s), ${failures} failed: p50 ${ms(p50)}, p95 ${ms(p95)}; peak warehouse connections ${peak} (pool limit 15)`,
  );
  if (peak > 15) throw new Error(`the pool opened ${peak} connections; the product spec allows 15`);
  return {
    clients,
    duration_s: durationMs / 1000,
    requests: times.length,
    failures,
    p50_ms: p50,
    p95_ms: p95,
    peak_connections: peak,
  };
}
