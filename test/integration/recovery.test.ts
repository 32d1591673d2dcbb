import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResumePreview } from '../../functions/core/runs/resume-preview';
import type { RunComparison } from '../../functions/core/runs/run-compare';
import type { Run } from '../../functions/core/runs/run-model';
import type { RunSamplesView } from '../../functions/core/runs/run-samples';
import type { TaskView } from '../../functions/core/runs/run-tasks';
import { createStorage } from '../../functions/deps';
import { waitFor } from '../../scripts/lib/net';
import type { CloudEvent } from '../../scripts/local/event-bridge';
import { asUser, request } from '../helpers/api-server';
import { runBody } from '../helpers/samplesheets';
import { getRun, isFinal, settled, startTestStack, type TestStack, waitForRun } from '../helpers/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    // The sweeper runs only when a test asks (stack.sweep), and finds runs stale after 1 s.
    env: { STALE_RUN_SECONDS: '1', PENDING_TIMEOUT_SECONDS: '1', SWEEP_INTERVAL_SECONDS: '0' },
  });
});
afterAll(async () => {
  await stack?.close();
});

type RunWithChain = Run & { recoveries: string[]; events?: { source: string; to: string; detail: string }[] };

async function launch(params: Record<string, unknown> = {}): Promise<Run> {
  const response = await request<Run>(`${stack.url}/api/runs`, {
    method: 'POST',
    json: runBody({ params: { aligner: 'star', genome: 'GRCh38', protocol: '10XV3', ...params } }),
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

function recover(runId: string, body?: unknown, headers: Record<string, string> = {}) {
  return request<Run & { error?: { code: string; message: string; details?: unknown } }>(
    `${stack.url}/api/runs/${runId}/recover`,
    body === undefined ? { method: 'POST', headers } : { method: 'POST', json: body, headers },
  );
}

async function tasksOf(runId: string): Promise<TaskView[]> {
  const response = await request<{ source: string; tasks: TaskView[] }>(
    `${stack.url}/api/runs/${runId}/tasks?page_size=500`,
  );
  expect(response.status).toBe(200);
  expect(response.body.source).toBe('final');
  return response.body.tasks;
}

/** The run once it is final and every event about it has been delivered (exit.json, the final trace). */
async function finished(runId: string): Promise<Run> {
  await waitForRun(stack, runId, (r) => isFinal(r) && r.metrics !== null);
  await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
  return getRun(stack, runId);
}

async function jobEnv(run: Run): Promise<Record<string, string>> {
  return stack.batch.specOf(run.batch_job_name!)!.taskGroups[0]!.taskSpec.environment.variables;
}

function ofRun(runId: string) {
  return (event: CloudEvent) =>
    (event.subject ?? '').includes(runId) || JSON.stringify(event.data).includes(`nf-${runId}`);
}

describe('POST /api/runs/{id}/recover', () => {
  let root: Run;
  let rootTasks: TaskView[];

  beforeAll(async () => {
    const created = await launch({ replay_fail_process: 'STAR_ALIGN' });
    root = await finished(created.run_id);
    rootTasks = await tasksOf(root.run_id);
  });

  it('resumes a run that failed at a middle process: what finished is CACHED, the rest runs, it completes', async () => {
    expect(root.status).toBe('failed');
    expect(root.error_task).toContain('STAR_ALIGN');
    const finishedBefore = rootTasks.filter((t) => t.status === 'COMPLETED');
    expect(finishedBefore.length).toBeGreaterThan(0);

    // The failing process is fixed by removing the param that breaks it (null = back to the default).
    const response = await recover(root.run_id, {
      notes: 'STAR_ALIGN ran out of memory; retrying with the fix',
      override_params: { replay_fail_process: 'CELLBENDER_REMOVEBACKGROUND' },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    const first = response.body;
    expect(response.headers.get('location')).toBe(`/api/runs/${first.run_id}`);
    expect(first).toMatchObject({
      status: 'pending',
      parent_run_id: root.run_id,
      root_run_id: root.run_id,
      is_recovery: true,
      reused_work_dir: true,
      recovery_notes: 'STAR_ALIGN ran out of memory; retrying with the fix',
      session_id: root.session_id,
      attempt: 2,
      sample_count: root.sample_count,
      config_content: root.config_content,
    });
    expect(first.run_name).not.toBe(root.run_name);
    expect(first.params.input).toBe(
      `gs://${stack.config.runsBucket}/runs/${first.run_id}/inputs/samplesheet.csv`,
    );
    expect(first.params.outdir).toBe(`gs://${stack.config.runsBucket}/runs/${first.run_id}/results`);

    const firstDone = await finished(first.run_id);
    expect(firstDone.status).toBe('failed');
    expect(firstDone.error_task).toContain('CELLBENDER_REMOVEBACKGROUND');
    const firstTasks = await tasksOf(first.run_id);
    const cachedFirst = firstTasks.filter((t) => t.status === 'CACHED');
    // Exactly the tasks that finished before are cached, with their original hash and work dir.
    expect(cachedFirst.map((t) => t.name).sort()).toEqual(finishedBefore.map((t) => t.name).sort());
    for (const task of cachedFirst) {
      const original = finishedBefore.find((t) => t.name === task.name)!;
      expect(task.hash).toBe(original.hash);
      expect(task.work_dir).toBe(original.work_dir);
      expect(task.work_dir).toMatch(/^gs:\/\/.+\/work\/run-/);
    }
    const rerun = firstTasks.filter((t) => t.status === 'COMPLETED' && t.process?.endsWith('STAR_ALIGN'));
    expect(rerun).not.toEqual([]);

    // As Nextflow does, a task run again on resume gets a new hash and work dir: the parent's
    // failed task keeps its own logs, and still says it failed.
    const failedBefore = rootTasks.find((t) => t.status === 'FAILED' && t.process?.endsWith('STAR_ALIGN'))!;
    const again = rerun.find((t) => t.name === failedBefore.name)!;
    expect(again.work_dir).not.toBe(failedBefore.work_dir);
    expect(again.hash).not.toBe(failedBefore.hash);
    const logs = await request<{ status: string; exit: number; stderr: string; locations: string[] }>(
      `${stack.url}/api/runs/${root.run_id}/tasks/${failedBefore.task_id}/logs`,
    );
    expect(logs.status).toBe(200);
    expect(logs.body).toMatchObject({ status: 'FAILED', exit: failedBefore.exit });
    expect(logs.body.stderr.trim().length).toBeGreaterThan(0);
    expect(logs.body.locations.join(' ')).toContain(failedBefore.work_dir!);
    const rerunLogs = await request<{ stderr: string }>(
      `${stack.url}/api/runs/${first.run_id}/tasks/${again.task_id}/logs`,
    );
    expect(rerunLogs.body.stderr).not.toBe(logs.body.stderr);

    const env = await jobEnv(firstDone);
    expect(env).toMatchObject({
      WORK_DIR: `gs://${stack.config.runsBucket}/work/${root.run_id}/`,
      CACHE_DIR: `gs://${stack.config.runsBucket}/cache/${root.run_id}/`,
      SESSION_ID: root.session_id,
      IS_RECOVERY: 'true',
      RUN_NAME: first.run_id,
    });

    // Recovering the recovery resumes from the root's work dir and cache again.
    const second = (await recover(first.run_id, { override_params: { replay_fail_process: null } })).body;
    expect(second).toMatchObject({ parent_run_id: first.run_id, root_run_id: root.run_id, attempt: 3 });
    expect(second.params).not.toHaveProperty('replay_fail_process');
    const secondDone = await finished(second.run_id);
    expect(secondDone.status).toBe('completed');
    const secondTasks = await tasksOf(second.run_id);
    const cachedSecond = secondTasks.filter((t) => t.status === 'CACHED');
    const completedBefore = [...finishedBefore, ...firstTasks.filter((t) => t.status === 'COMPLETED')];
    expect(cachedSecond.map((t) => t.name).sort()).toEqual(completedBefore.map((t) => t.name).sort());
    expect(secondTasks.filter((t) => t.status === 'COMPLETED').length).toBeGreaterThan(0);
    expect(secondTasks.some((t) => t.status === 'FAILED')).toBe(false);
    expect(secondDone.metrics?.tasks).toMatchObject({
      cached: cachedSecond.length,
      completed: secondTasks.length - cachedSecond.length,
      failed: 0,
    });
    expect((await jobEnv(secondDone)).WORK_DIR).toBe(`gs://${stack.config.runsBucket}/work/${root.run_id}/`);

    // Cached tasks' outputs are published into the recovery's own results, as Nextflow does.
    const [results] = await createStorage(stack.config)
      .bucket(stack.config.runsBucket)
      .getFiles({ prefix: `runs/${second.run_id}/results/fastqc/` });
    expect(results.length).toBeGreaterThan(0);

    // The chain is visible from both ends.
    const rootView = (await request<RunWithChain>(`${stack.url}/api/runs/${root.run_id}`)).body;
    expect(rootView.recoveries).toEqual([first.run_id]);
    // Once, as `recoveries`: the store's own copy (recovery_run_ids) is not shown, here or in the list.
    expect(rootView).not.toHaveProperty('recovery_run_ids');
    const listed = (await request<{ runs: Record<string, unknown>[] }>(`${stack.url}/api/runs?page_size=100`))
      .body;
    expect(listed.runs.find((r) => r.run_id === root.run_id)).toBeDefined();
    expect(listed.runs.filter((r) => 'recovery_run_ids' in r)).toEqual([]);
    const firstView = (await request<RunWithChain>(`${stack.url}/api/runs/${first.run_id}?include=events`))
      .body;
    expect(firstView.recoveries).toEqual([second.run_id]);
    expect(firstView.events?.[0]).toMatchObject({
      source: 'api',
      to: 'pending',
      detail: expect.stringContaining(
        `Recovery of ${root.run_id} by dev@example.com, resuming session ${root.session_id}`,
      ),
    });
  });

  it('recovers a run that ran out of memory (137) once the recovery gives that process more memory', async () => {
    const failed = await finished(
      (await launch({ replay_fail_process: 'STAR_ALIGN', replay_fail_exit_code: 137 })).run_id,
    );
    expect(failed).toMatchObject({ status: 'failed', failed_task_exit_code: 137 });
    const killed = (await tasksOf(failed.run_id)).filter(
      (t) => t.status === 'FAILED' && t.process?.endsWith('STAR_ALIGN'),
    );
    // The platform's errorStrategy retries 137 three times; the replay gives each try the same memory.
    expect(killed.map((t) => [t.attempt, t.exit, t.memory])).toEqual(
      [1, 2, 3, 4].map((attempt) => [attempt, 137, 72 * 2 ** 30]),
    );
    const logs = await request<{ stderr: string }>(
      `${stack.url}/api/runs/${failed.run_id}/tasks/${killed[0]!.task_id}/logs`,
    );
    expect(logs.body.stderr).toMatch(/Killed\s+STAR /);

    // The same switch stays on; only the memory changes, as the assistant proposes it.
    const response = await recover(failed.run_id, {
      override_config: "process {\n  withName: '.*STAR_ALIGN' {\n    memory = 144.GB\n  }\n}\n",
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    expect(response.body.params).toMatchObject({
      replay_fail_process: 'STAR_ALIGN',
      replay_fail_exit_code: 137,
    });
    const recovered = await finished(response.body.run_id);
    expect(recovered.status).toBe('completed');
    // The alignments that ran again ran with 144 GB; any that had finished before are reused.
    const rerun = (await tasksOf(recovered.run_id)).filter(
      (t) => t.process?.endsWith('STAR_ALIGN') && t.status !== 'CACHED',
    );
    expect(rerun.length).toBeGreaterThan(0);
    expect(rerun.map((t) => [t.status, t.memory])).toEqual(rerun.map(() => ['COMPLETED', 144 * 2 ** 30]));
  });

  it('without reuse_work_dir starts afresh: a new session and work dir, nothing cached, still linked', async () => {
    const response = await recover(root.run_id, {
      reuse_work_dir: false,
      override_params: { replay_fail_process: null },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    const fresh = response.body;
    expect(fresh).toMatchObject({
      parent_run_id: root.run_id,
      root_run_id: fresh.run_id,
      reused_work_dir: false,
    });
    expect(fresh.session_id).not.toBe(root.session_id);
    const done = await finished(fresh.run_id);
    expect(done.status).toBe('completed');
    expect(done.metrics?.tasks.cached).toBe(0);
    expect((await jobEnv(done)).WORK_DIR).toBe(`gs://${stack.config.runsBucket}/work/${fresh.run_id}/`);
  });

  it('refuses a run that is running or completed, with its status', async () => {
    const running = await launch();
    await waitForRun(stack, running.run_id, (r) => r.status === 'running');
    const whileRunning = await recover(running.run_id, {});
    expect(whileRunning.status).toBe(409);
    expect(whileRunning.body.error).toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/is running; only failed or cancelled runs can be recovered/),
      details: { status: 'running' },
    });
    const completed = await finished(running.run_id);
    expect(completed.status).toBe('completed');
    const afterwards = await recover(running.run_id);
    expect(afterwards.status).toBe(409);
    expect(afterwards.body.error?.message).toContain('is completed');
    expect((await getRun(stack, running.run_id)) as RunWithChain).toMatchObject({ recoveries: [] });
  });

  it('refuses to resume when the work dir is gone (retention), and offers a fresh run', async () => {
    const failed = await finished((await launch({ replay_fail_process: 'FASTQC' })).run_id);
    expect(failed.status).toBe('failed');
    await createStorage(stack.config)
      .bucket(stack.config.runsBucket)
      .deleteFiles({ prefix: `work/${failed.run_id}/` });

    const refused = await recover(failed.run_id);
    expect(refused.status).toBe(409);
    expect(refused.body.error?.message).toBe(
      `The work directory gs://${stack.config.runsBucket}/work/${failed.run_id}/ of run ${failed.run_id} no longer exists: ` +
        'work directories are deleted 30 days after they are written (or the run never started a task), so there is nothing to resume. ' +
        `Send "reuse_work_dir": false to run the pipeline again from the start, as a fresh run linked to ${failed.run_id}.`,
    );
    const fresh = await recover(failed.run_id, {
      reuse_work_dir: false,
      override_params: { replay_fail_process: null },
    });
    expect(fresh.status).toBe(201);
    expect((await finished(fresh.body.run_id)).status).toBe('completed');
  });

  it('validates overrides as on create and writes nothing when they are wrong', async () => {
    const bad = await recover(root.run_id, { override_params: { aligner: 'bowtie' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.details).toEqual([
      expect.objectContaining({
        field: 'override_params.aligner',
        message: expect.stringContaining('aligner'),
      }),
    ]);
    const unknownField = await recover(root.run_id, { reuse: true });
    expect(unknownField.status).toBe(400);
    const tooBig = await recover(root.run_id, { override_config: 'x'.repeat(101 * 1024) });
    expect(tooBig.status).toBe(413);
    const notJson = await request(`${stack.url}/api/runs/${root.run_id}/recover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"notes": ',
    });
    expect(notJson.status).toBe(400);
    const before = ((await getRun(stack, root.run_id)) as RunWithChain).recoveries;
    expect(before).toHaveLength(2);
  });

  it("answers 404 for another user's run", async () => {
    const response = await recover(root.run_id, {}, asUser('mallory@example.com'));
    expect(response.status).toBe(404);
    expect(response.body.error?.message).toBe(`Run ${root.run_id} was not found.`);
  });

  it('lets one of two simultaneous recoveries through; the other names the active one', async () => {
    const failed = await finished((await launch({ replay_fail_process: 'FASTQC' })).run_id);
    stack.workflows.holdAll();
    try {
      const [a, b] = await Promise.all([recover(failed.run_id), recover(failed.run_id)]);
      expect([a.status, b.status].sort()).toEqual([201, 409]);
      const winner = a.status === 201 ? a.body : b.body;
      const loser = a.status === 201 ? b.body : a.body;
      expect(loser.error?.message).toContain(
        `Run ${winner.run_id} (pending) is already recovering ${failed.run_id}`,
      );
      expect(((await getRun(stack, failed.run_id)) as RunWithChain).recoveries).toEqual([winner.run_id]);
      // Cancelled, the chain is free again.
      expect((await request(`${stack.url}/api/runs/${winner.run_id}`, { method: 'DELETE' })).status).toBe(
        200,
      );
      const again = await recover(failed.run_id, { override_params: { replay_fail_process: null } });
      expect(again.status).toBe(201);
    } finally {
      stack.workflows.releaseAll();
    }
  });
});

describe('a run sample by sample, and a recovery of its failed samples only', () => {
  type Samples = RunSamplesView & { error?: { message: string } };
  let root: Run;
  let view: RunSamplesView;

  beforeAll(async () => {
    // The replay fails the first sample's STAR_ALIGN (exit 1); the run stops there.
    const created = await launch({ replay_fail_process: 'STAR_ALIGN' });
    root = await finished(created.run_id);
    const response = await request<Samples>(`${stack.url}/api/runs/${root.run_id}/samples?include=log_tail`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    view = response.body;
  });

  it('shows which sample failed, with its task, exit code and the last lines of its log', async () => {
    expect(root.status).toBe('failed');
    expect(view.id_column).toBe('sample');
    expect(view.samples.map((s) => s.sample)).toEqual(['SAMPLE_1', 'SAMPLE_2']);
    const [failed, other] = view.samples;
    expect(failed).toMatchObject({ status: 'failed', failed_task: { exit: 1 } });
    expect(failed!.failed_task!.name).toContain('STAR_ALIGN (SAMPLE_1)');
    expect(failed!.failed_task!.log_tail!.join('\n')).toContain('EXITING because of FATAL ERROR');
    // Without include=log_tail, no work dir is read.
    const plain = await request<Samples>(`${stack.url}/api/runs/${root.run_id}/samples`);
    expect(plain.body.samples[0]!.failed_task).toMatchObject({ exit: 1, log_tail: null });
    // Its rows come from the stored samplesheet.
    expect(failed!.rows).toEqual([expect.objectContaining({ sample: 'SAMPLE_1', expected_cells: '5000' })]);
    // The other sample did not fail: the run stopped before it finished.
    expect(other).toMatchObject({ status: 'stopped', failed_task: null });
    expect(other!.tasks.completed).toBeGreaterThan(0);
    // Whole-run steps (the genome index) are apart; every task the trace ran is somewhere.
    const tasks = await tasksOf(root.run_id);
    const attributed = [...view.samples.map((s) => s.tasks), view.whole_run.tasks].reduce(
      (sum, t) => sum + t.completed + t.cached + t.failed + t.aborted,
      0,
    );
    expect(attributed).toBe(tasks.filter((t) => t.status !== null).length);
    expect(view.whole_run.tasks.completed).toBeGreaterThan(0);
    // The cost shares add up to the run's estimate (to rounding), each with its CPU-hours.
    const shares = [...view.samples.map((s) => s.cost_share_usd!), view.whole_run.cost_share_usd!];
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(root.metrics!.cost.estimate, 3);
    expect(other!.cpu_hours).toBeGreaterThan(0);
  });

  it('refuses a sample the run does not have, and samples with failed_samples', async () => {
    const unknown = await recover(root.run_id, { samples: ['SAMPLE_9'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error!.message).toContain('SAMPLE_9 is not in the samplesheet');
    const both = await recover(root.run_id, { samples: ['SAMPLE_1'], failed_samples: true });
    expect(both.status).toBe(400);
    expect(both.body.error!.message).toContain('not both');
  });

  it("relaunches the failed sample only: one row, its finished tasks CACHED, none of the other sample's tasks", async () => {
    const response = await recover(root.run_id, {
      failed_samples: true,
      override_params: { replay_fail_process: null },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    const recovery = response.body;
    expect(recovery).toMatchObject({ samples: ['SAMPLE_1'], sample_count: 1, parent_run_id: root.run_id });
    const sheet = await request<{ samplesheet_csv: string }>(
      `${stack.url}/api/runs/${recovery.run_id}/samplesheet`,
    );
    expect(sheet.body.samplesheet_csv.trim().split('\n')).toEqual([
      'sample,fastq_1,fastq_2,expected_cells',
      expect.stringMatching(/^SAMPLE_1,/),
    ]);
    const done = await finished(recovery.run_id);
    expect(done.status).toBe('completed');
    const tasks = await tasksOf(recovery.run_id);
    expect(tasks.some((t) => t.name?.includes('SAMPLE_2'))).toBe(false);
    const before = (await tasksOf(root.run_id)).filter(
      (t) => t.status === 'COMPLETED' && !t.name?.includes('SAMPLE_2'),
    );
    expect(
      tasks
        .filter((t) => t.status === 'CACHED')
        .map((t) => t.name)
        .sort(),
    ).toEqual(before.map((t) => t.name).sort());
    const history = await request<RunWithChain>(`${stack.url}/api/runs/${recovery.run_id}?include=events`);
    expect(history.body.events!.map((e) => e.detail).join(' ')).toContain('only sample SAMPLE_1');
    const samples = await request<Samples>(`${stack.url}/api/runs/${recovery.run_id}/samples`);
    expect(samples.body.samples).toEqual([expect.objectContaining({ sample: 'SAMPLE_1', status: 'done' })]);
    expect(samples.body.samples[0]!.tasks.cached).toBeGreaterThan(0);
  });
});

describe('a recovery previewed before it runs, and why each task ran again', () => {
  type Preview = ResumePreview & { error?: { message: string } };
  const preview = (runId: string, body: unknown) =>
    request<Preview>(`${stack.url}/api/runs/${runId}/recover?dry_run=true`, { method: 'POST', json: body });

  it('says what -resume reuses and runs again, and the recovery then does just that, each rerun with its reason', async () => {
    const failed = await finished(
      (await launch({ replay_fail_process: 'STAR_ALIGN', replay_fail_exit_code: 137 })).run_id,
    );
    const before = await tasksOf(failed.run_id);
    // One finished task's work dir is lost (as the bucket's lifecycle would delete it).
    const lost = before.find((t) => t.status === 'COMPLETED' && t.process?.endsWith('FASTQC'))!;
    await createStorage(stack.config)
      .bucket(stack.config.runsBucket)
      .deleteFiles({ prefix: `${lost.work_dir!.replace(`gs://${stack.config.runsBucket}/`, '')}/` });
    const body = {
      override_config: "process {\n  withName: '.*STAR_ALIGN' {\n    memory = 144.GB\n  }\n}\n",
    };

    const dry = await preview(failed.run_id, body);
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    const plan = dry.body;
    expect(plan).toMatchObject({
      dry_run: true,
      run_id: failed.run_id,
      reuse_work_dir: true,
      changes: { params: [], config: 'processes', config_processes: ['.*STAR_ALIGN'] },
    });
    const outcome = (name: string) => plan.tasks.find((t) => t.name === name)!;
    expect(outcome(lost.name!)).toMatchObject({
      outcome: 'runs_again',
      reason: expect.stringContaining('work dir is gone'),
    });
    const oom = before.findLast((t) => t.status === 'FAILED')!;
    expect(outcome(oom.name!)).toMatchObject({ outcome: 'runs_again', reason: 'it failed (exit 137)' });
    expect(plan.totals.reused).toBeGreaterThan(0);
    expect(plan.estimate.cpu_hours).toBeGreaterThan(0);
    expect(plan.estimate.basis).toContain('/vCPU-hour');
    expect(plan.caveat).toContain('Nextflow decides');
    // A dry run creates nothing.
    expect((await request<RunWithChain>(`${stack.url}/api/runs/${failed.run_id}`)).body.recoveries).toEqual(
      [],
    );

    const recovery = await recover(failed.run_id, body);
    expect(recovery.status).toBe(201);
    const done = await finished(recovery.body.run_id);
    expect(done.status).toBe('completed');
    const after = new Map((await tasksOf(done.run_id)).map((t) => [t.name, t]));
    for (const task of plan.tasks) {
      const ran = after.get(task.name);
      if (task.outcome === 'reused') expect(ran?.status, task.name).toBe('CACHED');
      if (task.outcome === 'runs_again') expect(ran?.status, task.name).toBe('COMPLETED');
      if (task.outcome === 'may_run_again') expect(['CACHED', 'COMPLETED']).toContain(ran?.status);
    }
    const cached = [...after.values()].filter((t) => t.status === 'CACHED').length;
    expect(cached).toBeGreaterThanOrEqual(plan.totals.reused);
    expect(cached).toBeLessThanOrEqual(plan.totals.reused + plan.totals.may_run_again);
    // Each task that ran says why: lost work dir (same hash), failed before, or never reached.
    expect(after.get(lost.name!)).toMatchObject({
      status: 'COMPLETED',
      hash: lost.hash,
      reason: `it finished in ${failed.run_id} but its work dir or cache entry was gone`,
    });
    expect(after.get(oom.name!)!.reason).toBe(`it failed in ${failed.run_id} (exit 137)`);
    const reached = new Set(before.map((t) => t.name));
    for (const task of after.values()) {
      if (task.status === 'CACHED') expect(task.reason).toBeNull();
      else if (!reached.has(task.name)) expect(task.reason).toMatch(/^new: /);
    }
  });

  it('a changed param that a process hashes runs its finished tasks again, each saying its hash changed', async () => {
    const failed = await finished(
      (await launch({ replay_fail_process: 'CELLBENDER_REMOVEBACKGROUND' })).run_id,
    );
    const aligned = (await tasksOf(failed.run_id)).filter(
      (t) => t.status === 'COMPLETED' && t.process?.endsWith('STAR_ALIGN'),
    );
    expect(aligned.length).toBeGreaterThan(0);
    const body = { override_params: { replay_fail_process: null, star_feature: 'GeneFull' } };
    const dry = await preview(failed.run_id, body);
    expect(dry.body.changes.params).toEqual(['replay_fail_process', 'star_feature']);
    // Which params a process hashes is not known here: every finished task may run again.
    expect(dry.body.totals.reused).toBe(0);
    expect(dry.body.tasks.find((t) => t.name === aligned[0]!.name)).toMatchObject({
      outcome: 'may_run_again',
      reason: expect.stringContaining('params replay_fail_process, star_feature change'),
    });
    const done = await finished((await recover(failed.run_id, body)).body.run_id);
    const after = new Map((await tasksOf(done.run_id)).map((t) => [t.name, t]));
    for (const task of aligned)
      expect(after.get(task.name)).toMatchObject({
        status: 'COMPLETED',
        reason: expect.stringMatching(
          /^its hash changed \(.+ → .+\): its inputs, script or a param its script uses changed$/,
        ),
      });
    // A process that does not use the param is reused.
    expect([...after.values()].some((t) => t.status === 'CACHED' && t.process?.endsWith('FASTQC'))).toBe(
      true,
    );

    // Compared with its parent: the param diff, the cached counts, the results only it has.
    const compared = await request<RunComparison & { error?: { message: string } }>(
      `${stack.url}/api/runs/compare?a=${failed.run_id}&b=${done.run_id}`,
    );
    expect(compared.status, JSON.stringify(compared.body)).toBe(200);
    const c = compared.body;
    expect(c.a).toMatchObject({
      run_id: failed.run_id,
      status: 'failed',
      nextflow_version: expect.any(String),
    });
    expect(c.b).toMatchObject({ run_id: done.run_id, status: 'completed' });
    expect(c.params.changed).toEqual([{ name: 'star_feature', a: 'Gene', b: 'GeneFull' }]);
    expect(c.params.only_a).toEqual([
      { name: 'replay_fail_process', a: 'CELLBENDER_REMOVEBACKGROUND', b: null },
    ]);
    expect(c.samplesheet).toMatchObject({ added: [], removed: [], changed: [], same: 2 });
    const fastqc = c.processes.find((p) => p.process.endsWith('FASTQC'))!;
    expect(fastqc.b!.cached).toBe(fastqc.a!.completed);
    expect(fastqc.b!.completed).toBe(0);
    expect(c.b.tasks!.cached).toBeGreaterThan(0);
    // The step that failed published its reports in the recovery only.
    expect(c.results.only_b).toContain('cellbender/SAMPLE_1/SAMPLE_1_cellbender_report.html');
    // Both must be the caller's; the same run twice is not a comparison.
    const other = await request(`${stack.url}/api/runs/compare?a=${failed.run_id}&b=${done.run_id}`, {
      headers: asUser('someone-else@example.com'),
    });
    expect(other.status).toBe(404);
    const same = await request<{ error: { message: string } }>(
      `${stack.url}/api/runs/compare?a=${done.run_id}&b=${done.run_id}`,
    );
    expect(same.status).toBe(400);
    expect(same.body.error.message).toContain('two different runs');
  });

  it('refuses a dry run as it refuses the recovery: a completed run, a work dir gone, another recovery active', async () => {
    const failed = await finished((await launch({ replay_fail_process: 'STAR_ALIGN' })).run_id);
    const active = await recover(failed.run_id, { override_params: { replay_fail_process: null } });
    expect(active.status).toBe(201);
    const busy = await preview(failed.run_id, {});
    expect(busy.status).toBe(409);
    expect(busy.body.error!.message).toContain(`Run ${active.body.run_id}`);
    const done = await finished(active.body.run_id);
    const completed = await preview(done.run_id, {});
    expect(completed.status).toBe(409);
    expect(completed.body.error!.message).toContain('only failed or cancelled runs can be recovered');
    await createStorage(stack.config)
      .bucket(stack.config.runsBucket)
      .deleteFiles({ prefix: `work/${failed.run_id}/` });
    const gone = await preview(failed.run_id, {});
    expect(gone.status).toBe(409);
    expect(gone.body.error!.message).toContain('no longer exists');
    expect((await preview(failed.run_id, { reuse_work_dir: false })).status).toBe(200);
  });
});

describe('the stale-run sweeper', () => {
  it('leaves a healthy running run alone, and settles one whose Batch job died unheard', async () => {
    const created = await launch();
    await waitForRun(stack, created.run_id, (r) => r.status === 'running');
    const jobName = (await getRun(stack, created.run_id)).batch_job_name!;
    stack.advanceSweepClock(1_100);
    const healthy = await stack.sweep();
    expect(healthy.changed.filter((c) => c.run_id === created.run_id)).toEqual([]);
    expect((await getRun(stack, created.run_id)).status).toBe('running');

    // The workflow execution dies and every event about the run is lost; then the job's VM dies.
    stack.workflows.cancel(created.workflow_execution!);
    const restore = stack.bridge.drop(ofRun(created.run_id));
    try {
      await waitFor(
        async () => {
          const child = stack.batch.processOf(jobName);
          if (child?.pid) process.kill(-child.pid, 'SIGKILL');
          return (await stack.batch.getJob(jobName))?.status.state === 'FAILED';
        },
        { timeoutMs: 20_000, intervalMs: 100, what: 'the Batch job to fail' },
      );
      await settled(stack, stack.bridge.idle(), 'the event bridge going idle');
      stack.advanceSweepClock(1_500);
      expect((await getRun(stack, created.run_id)).status).toBe('running');

      const report = await stack.sweep();
      expect(report.changed).toContainEqual(
        expect.objectContaining({ run_id: created.run_id, from: 'running', to: 'failed' }),
      );
      const swept = (await request<RunWithChain>(`${stack.url}/api/runs/${created.run_id}?include=events`))
        .body;
      expect(swept.status).toBe('failed');
      expect(swept.exit_code).toBe(137);
      expect(swept.error_message).toContain('exit code 137');
      expect(swept.events?.filter((e) => e.source === 'sweeper' && e.to === 'failed')).toHaveLength(1);
    } finally {
      restore();
    }
  });

  it('fails a run whose Batch job disappeared', async () => {
    const created = await launch();
    await waitForRun(stack, created.run_id, (r) => r.status === 'running');
    const jobName = (await getRun(stack, created.run_id)).batch_job_name!;
    stack.workflows.cancel(created.workflow_execution!);
    const restore = stack.bridge.drop(ofRun(created.run_id));
    try {
      await stack.batch.deleteJob(jobName);
      stack.advanceSweepClock(1_100);
      await stack.sweep();
      const swept = await getRun(stack, created.run_id);
      expect(swept.status).toBe('failed');
      expect(swept.error_message).toMatch(/^Batch job disappeared: .*nf-run-[a-z0-9]{12} no longer exists/);
    } finally {
      restore();
    }
  });

  it('fails a pending run whose workflow never started or ended without submitting it, and spares one still starting', async () => {
    stack.workflows.holdAll();
    try {
      const held = await launch();
      const orphan = await launch();
      const ended = await launch();
      await stack.firestore.collection('runs').doc(orphan.run_id).update({ workflow_execution: null });
      stack.workflows.cancel(ended.workflow_execution!);
      stack.advanceSweepClock(1_100);
      const report = await stack.sweep();
      const changed = new Map(report.changed.map((c) => [c.run_id, c]));
      expect(changed.has(held.run_id)).toBe(false);
      expect((await getRun(stack, held.run_id)).status).toBe('pending');
      expect(changed.get(orphan.run_id)?.reason).toMatch(
        /^The run was never submitted: no run-pipeline workflow execution was recorded for it within 1 seconds of its creation\./,
      );
      expect((await getRun(stack, ended.run_id)).error_message).toMatch(
        /^The run was never submitted: its workflow execution ended CANCELLED .*before creating the Batch job/,
      );
      // The held one goes on normally once released.
      stack.workflows.releaseAll();
      expect((await finished(held.run_id)).status).toBe('completed');
    } finally {
      stack.workflows.releaseAll();
    }
  });
});
