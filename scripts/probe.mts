import { memoryLogger } from '../functions/logging';
import { buildOrchestrator } from './build';
import { startLocalStack } from './local/stack';

await buildOrchestrator('.build/probe-orch');
const logs = memoryLogger();
const stack = await startLocalStack({
  dataDir: '/tmp/probe-stack',
  fresh: true,
  port: 0,
  orchestratorDir: '.build/probe-orch',
  replaySpeed: 2500,
  logger: logs,
  env: { WORKFLOW_POLL_SECONDS: '0.3', CHUNK_INTERVAL_SECONDS: '0.5' },
});
const r = await fetch(`${stack.url}/api/runs`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    pipeline: 'nf-core/scrnaseq',
    samplesheet_csv:
      'sample,fastq_1,fastq_2\nS1,gs://b/a_R1.fastq.gz,gs://b/a_R2.fastq.gz\nS2,gs://b/b_R1.fastq.gz,gs://b/b_R2.fastq.gz\n',
    params: { aligner: 'star' },
  }),
});
const run = (await r.json()) as { run_id: string };
let last = '';
for (let i = 0; i < 80; i++) {
  await new Promise((res) => setTimeout(res, 200));
  const s = (await (await fetch(`${stack.url}/api/runs/${run.run_id}`)).json()) as any;
  const line = `${s.status} sub=${s.progress.submitted} run=${s.progress.running} done=${s.progress.completed} total=${s.progress.total_known}`;
  if (line !== last) {
    console.log(line);
    last = line;
  }
  if (['completed', 'failed', 'cancelled'].includes(s.status)) break;
}
await stack.bridge.idle();
await new Promise((res) => setTimeout(res, 500));
await stack.bridge.idle();
const s = (await (await fetch(`${stack.url}/api/runs/${run.run_id}`)).json()) as any;
console.log(
  JSON.stringify(
    {
      progress: s.progress.completed,
      running: s.progress.running,
      ingest: s.ingest,
      metrics: { ...s.metrics, processes: s.metrics?.processes?.slice(0, 2) },
    },
    null,
    1,
  ).slice(0, 2500),
);
for (const e of logs.entries
  .filter((e) => e.severity !== 'DEBUG' && !String(e.message).startsWith('run_'))
  .slice(0, 10))
  console.log(e.severity, e.message, JSON.stringify(e.fields).slice(0, 200));
await stack.stop();
