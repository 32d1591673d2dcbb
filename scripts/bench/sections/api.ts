import { join } from 'node:path';

import { buildFunctions } from '../../build';
import { serveWorkflows } from '../../local/grpc/workflows-service';
import { LocalBatch } from '../../local/local-batch';
import { LocalWorkflows } from '../../local/local-workflows';
import { type Backends, ms, percentile, root, startFunction, stopChild } from '../harness';

export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log('\n== api function (its cold start and bundle: the cold section)');
  const [api] = await buildFunctions(join(root, '.bench', 'functions'));

  // Launches start a workflow execution: the Workflows twin over gRPC, holding each at its
  // first step (the POST is measured, not the run).
  const batch = new LocalBatch({
    command: [process.execPath, '-e', 'process.exit(0)'],
    env: {},
    publish: () => {},
    logDir: join(root, '.bench', 'batch-logs'),
  });
  const workflows = new LocalWorkflows({
    definitionPath: join(root, 'workflows', 'run-pipeline.workflows.yaml'),
    jobs: batch,
    holdAll: true,
  });
  const workflowsService = await serveWorkflows(workflows);
  const env = {
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    STORAGE_EMULATOR_HOST: backends.gcsUrl,
    WORKFLOWS_EMULATOR_HOST: workflowsService.host,
    RUNS_BUCKET: backends.bucket,
    GOOGLE_CLOUD_PROJECT: 'arc-bench',
    AUTH_MODE: 'dev',
    DEV_USER_EMAIL: 'bench@example.com',
    RATE_LIMIT_LAUNCHES_PER_MINUTE: '0',
    RATE_LIMIT_READS_PER_MINUTE: '0',
  };
  const fn = await startFunction(api!.dir, 'api', env);
  const body = JSON.stringify({
    pipeline: 'nf-core/scrnaseq',
    pipeline_version: '4.0.0',
    samplesheet_csv: `sample,fastq_1,fastq_2,expected_cells\n${Array.from({ length: 8 }, (_, i) => `S${i},gs://b/S${i}_R1.fastq.gz,gs://b/S${i}_R2.fastq.gz,5000`).join('\n')}\n`,
    params: { aligner: 'star', protocol: '10XV3', genome: 'GRCh38' },
  });
  const requests = 500;
  const createTimes: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    const response = await fetch(`${fn.url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const json = (await response.json()) as { run_id: string };
    createTimes.push(performance.now() - t);
    if (response.status !== 201) throw new Error(`create answered ${response.status}`);
    ids.push(json.run_id);
  }
  const getTimes: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    const response = await fetch(`${fn.url}/api/runs/${ids[i % ids.length]}`);
    await response.arrayBuffer();
    getTimes.push(performance.now() - t);
    if (response.status !== 200) throw new Error(`get answered ${response.status}`);
  }
  await stopChild(fn.child);
  for (const execution of workflows.list()) workflows.cancel(execution.name);
  await workflowsService.stop();
  await batch.shutdown();
  console.log(
    `POST /api/runs  over ${requests}: p50 ${ms(percentile(createTimes, 50))}, p95 ${ms(percentile(createTimes, 95))}`,
  );
  console.log(
    `GET /api/runs/{id} over ${requests}: p50 ${ms(percentile(getTimes, 50))}, p95 ${ms(percentile(getTimes, 95))}`,
  );
  return {
    create_ms: { p50: percentile(createTimes, 50), p95: percentile(createTimes, 95), n: requests },
    get_ms: { p50: percentile(getTimes, 50), p95: percentile(getTimes, 95), n: requests },
  };
}
