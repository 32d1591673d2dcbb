/**
 * Right-sizing from past runs on the local stack: after two replayed runs of nf-core/scrnaseq
 * (whose FASTQC tasks are given 36 GB and use under 1 GB), the recommendations propose a smaller
 * memory for FASTQC with its evidence, `arc pipelines recommend` writes the snippet, and a launch
 * with that snippet is accepted and its FASTQC tasks are given what it says.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recommendations } from '../../functions/core/runs/right-sizing';
import type { Run } from '../../functions/core/runs/run-model';
import { request } from '../helpers/api-server';
import { arcCommand } from '../helpers/commands';
import { tempDir } from '../helpers/env';
import { runBody } from '../helpers/samplesheets';
import { isFinal, startTestStack, type TestStack, waitForRun } from '../helpers/stack';

let stack: TestStack;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  stack = await startTestStack();
  dir = await tempDir('arc-right-sizing-');
});
afterAll(async () => {
  await stack?.close();
  await dir?.remove();
});

async function completedRun(config = ''): Promise<Run> {
  const created = await request<Run>(`${stack.url}/api/runs`, {
    method: 'POST',
    json: runBody({ config_content: config }),
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const run = await waitForRun(stack, created.body.run_id, (r) => isFinal(r) && r.metrics !== null, 120_000);
  expect(run.status).toBe('completed');
  return run;
}

const fastqc = (run: Run) => run.metrics!.processes.find((p) => p.process.endsWith(':FASTQC'))!;

describe('right-sizing from past runs', () => {
  it('proposes less memory for a process given far more than it used, and a launch with the snippet is given that', async () => {
    const none = await request<Recommendations>(
      `${stack.url}/api/pipelines/nf-core/scrnaseq/recommendations`,
    );
    expect(none.status).toBe(200);
    expect(none.body.recommendations).toEqual([]);

    const past = await Promise.all([completedRun(), completedRun()]);
    expect(fastqc(past[0]!).requested_memory_bytes).toBe(36 * 1024 ** 3);

    const advice = await request<Recommendations>(
      `${stack.url}/api/pipelines/nf-core%2Fscrnaseq/recommendations?version=4.0.0`,
    );
    expect(advice.status).toBe(200);
    expect(advice.body).toMatchObject({ version: '4.0.0', runs_read: 2 });
    const memory = advice.body.recommendations.find((r) => r.selector === 'FASTQC' && r.kind === 'memory');
    expect(memory).toMatchObject({ current: '36 GB', recommended: '1.GB', runs: 2 });
    expect(memory!.saving_usd_per_run).toBeGreaterThan(0);
    expect(memory!.evidence).toMatch(/^its tasks were given 36 GB and used at most \d+ MB \(peak RSS\)/);
    expect(advice.body.config).toContain("withName: 'FASTQC' {\n    memory = 1.GB");

    // The command line writes the same snippet to a file for --config.
    const output = join(dir.path, 'right-size.config');
    const cli = await arcCommand(stack.url, 'dev@example.com', [
      'pipelines',
      'recommend',
      'nf-core/scrnaseq',
      '-o',
      output,
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^FASTQC\tmemory 36 GB -> 1\.GB\tsaves (< )?\$/m);
    expect(await readFile(output, 'utf8')).toBe(advice.body.config);

    // Each process the snippet names is given what it says (the replay honours a config's memory).
    const rightSized = await completedRun(advice.body.config);
    expect(fastqc(rightSized).requested_memory_bytes).toBe(1024 ** 3);
    for (const r of advice.body.recommendations.filter((r) => r.kind === 'memory')) {
      const given = rightSized.metrics!.processes.find(
        (p) => p.process === r.process,
      )!.requested_memory_bytes;
      expect(given, r.process).toBe(Number.parseInt(r.recommended, 10) * 1024 ** 3);
    }
  }, 240_000);
});
