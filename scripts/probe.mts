import { readdirSync, readFileSync } from 'node:fs';
import { memoryLogger } from '../functions/logging';
import { buildOrchestrator } from './build';
import { startLocalStack } from './local/stack';

await buildOrchestrator('/tmp/probe-orch');
const logs = memoryLogger();
const stack = await startLocalStack({
  dataDir: '/tmp/probe-stack',
  fresh: true,
  port: 0,
  orchestratorDir: '/tmp/probe-orch',
  replaySpeed: 2500,
  logger: logs,
  env: { WORKFLOW_POLL_SECONDS: '0.3', CHUNK_INTERVAL_SECONDS: '0.3' },
});
const r = await fetch(`${stack.url}/api/runs`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    pipeline: 'nf-core/scrnaseq',
    samplesheet_csv: 'sample,fastq_1,fastq_2\nS1,gs://b/a_R1.fastq.gz,gs://b/a_R2.fastq.gz\n',
    params: { aligner: 'star' },
  }),
});
const run = (await r.json()) as { run_id: string };
for (let i = 0; i < 40; i++) {
  await new Promise((res) => setTimeout(res, 250));
  const s = (await (await fetch(`${stack.url}/api/runs/${run.run_id}`)).json()) as { status: string };
  if (['completed', 'failed', 'cancelled'].includes(s.status)) {
    console.log(JSON.stringify(s).slice(0, 1500));
    break;
  }
}
await stack.bridge.idle();
for (const e of logs.entries) console.log(e.severity, e.message, JSON.stringify(e.fields).slice(0, 300));
for (const f of readdirSync('/tmp/probe-stack/batch-logs'))
  console.log(f, readFileSync(`/tmp/probe-stack/batch-logs/${f}`, 'utf8').slice(0, 3000));
await stack.stop();
