/**
 * Restarting the local stack: the Batch and Workflows twins keep their jobs in memory, so a
 * run that was going when the stack stopped cannot go on. The new stack says so at once.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { NEXTFLOW_CARRY_ON } from '../../functions/core/runs/kind';
import type { Run } from '../../functions/core/runs/run-model';
import { localRestartMessage } from '../../functions/core/shared/kernel';
import { startLocalStack } from '../../scripts/local/stack';
import { request } from '../helpers/api-server';
import { tempDir, uniqueProjectId } from '../helpers/env';
import { runBody } from '../helpers/samplesheets';
import { getRun, startTestStack, type TestStack, waitForRun } from '../helpers/stack';

const project = uniqueProjectId('arc-restart');
let second: TestStack | undefined;
afterAll(async () => {
  await second?.close();
});

describe('the local stack restarted mid-run', () => {
  it('fails the runs that were going, saying the stack restarted and that Recover resumes them', async () => {
    const first = await startTestStack({ replaySpeed: 200, env: { GOOGLE_CLOUD_PROJECT: project } });
    let runId: string;
    try {
      const created = await request<Run>(`${first.url}/api/runs`, { method: 'POST', json: runBody() });
      expect(created.status).toBe(201);
      runId = created.body.run_id;
      await waitForRun(first, runId, (run) => run.status === 'running');
    } finally {
      await first.close();
    }
    const left = await first.firestore.collection('runs').doc(runId).get();
    expect(left.get('status')).toBe('running');

    second = await startTestStack({ env: { GOOGLE_CLOUD_PROJECT: project } });
    const run = await getRun(second, runId);
    expect(run).toMatchObject({
      status: 'failed',
      error_message: localRestartMessage({ carryOn: NEXTFLOW_CARRY_ON }),
      error_task: null,
    });
    const history = await request<{ events: { source: string; to: string; detail: string | null }[] }>(
      `${second.url}/api/runs/${runId}?include=events`,
    );
    expect(history.body.events.at(-1)).toMatchObject({
      source: 'sweeper',
      to: 'failed',
      detail: 'the local stack was restarted',
    });
  });

  it('refuses a second stack on a data folder another live stack holds, saying how to give it its own', async () => {
    const dir = await tempDir('arc-two-stacks-');
    // Another process (a second npm start, in another terminal) holds the folder.
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    try {
      await writeFile(join(dir.path, 'stack.lock'), JSON.stringify({ pid: other.pid, port: 8080 }));
      await expect(
        startLocalStack({
          dataDir: dir.path,
          port: 0,
          orchestratorDir: inject('orchestratorDir'),
          warehouse: 'none',
        }),
      ).rejects.toThrow(
        new RegExp(
          `^Another Arc Reactor \\(process ${other.pid}, port 8080\\) is using ${dir.path}: .*ARC_DATA_DIR=${dir.path}-`,
        ),
      );
      // Nothing was touched: the lock is still the other stack's.
      expect(JSON.parse(await readFile(join(dir.path, 'stack.lock'), 'utf8')).pid).toBe(other.pid);
    } finally {
      other.kill('SIGKILL');
      await dir.remove();
    }
  });
});
