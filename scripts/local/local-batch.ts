/**
 * The local twin of GCP Batch: keeps jobs, runs each job's one task as a child process
 * (the orchestrator program, with the job's environment), moves it through
 * QUEUED → SCHEDULED → RUNNING → SUCCEEDED/FAILED/CANCELLED, and publishes every state
 * change as a Batch Pub/Sub notification. It behaves like the service where it matters
 * here: job id rules, ALREADY_EXISTS, requestId idempotency, NOT_FOUND, lifecycle
 * policies on exit codes, cancellation killing the whole process tree.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import {
  type BatchJob,
  type BatchJobState,
  type CreateJobInput,
  JobExistsError,
  type JobRunner,
  JobRunnerError,
  type JobSpec,
} from '../../functions/core/shared/batch';
import { BATCH_JOB_ID_PATTERN } from '../../functions/core/shared/ids';

export interface PubSubMessage {
  topic: string;
  attributes: Record<string, string>;
  data: string;
}

export interface LocalBatchOptions {
  /** The program a task runs, e.g. [node, dist/orchestrator/main.js]. */
  command: string[];
  /**
   * Programs by container image, as Batch would pull and run the job's own image: the first
   * whose `image` the job's `imageUri` contains runs instead of `command` (e.g. the STACK
   * stand-in for the inference image). A job runs its container's `commands` as arguments.
   */
  programs?: { image: string; command: string[] }[];
  /** Extra environment for every task (emulator hosts, NXF_BIN, …), over the job's own. */
  env: Record<string, string>;
  publish(message: PubSubMessage): void;
  /** Where each job's task output goes (Cloud Logging's twin). */
  logDir: string;
  queuedMs?: number;
  scheduledMs?: number;
  /** Grace period between SIGTERM and SIGKILL on cancel. */
  killGraceMs?: number;
}

interface LocalJob {
  job: BatchJob;
  spec: JobSpec;
  requestId: string;
  createdAt: number;
  child: ChildProcess | null;
  attempts: number;
  /** Set by interruptTask: the exit code Batch reports for the task it lost. */
  interruptedWith: number | null;
  timers: NodeJS.Timeout[];
  log: WriteStream | null;
}

type Fault = { kind: 'fail'; status: number; message: string } | { kind: 'lose-reply' };
/** `name`: only a get of that job fails (other readers, such as a polling workflow, are unaffected). */
type GetFault = { status: number; message: string; name?: string };

const REQUEST_ID_WINDOW_MS = 60 * 60 * 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class LocalBatch implements JobRunner {
  private readonly jobs = new Map<string, LocalJob>();
  private quotaRefusal: string | null = null;
  private readonly faults: Fault[] = [];
  private readonly getFaults: GetFault[] = [];
  /** exitCode null: the task never ends by itself (it runs until cancelled). */
  private readonly taskFaults: { jobId: RegExp; exitCode: number | null }[] = [];
  /** Every createJob call that reached the service, for tests that count them. */
  readonly createCalls: { name: string; requestId: string; outcome: string }[] = [];

  constructor(private readonly options: LocalBatchOptions) {
    mkdirSync(options.logDir, { recursive: true });
  }

  /** The next createJob fails with this status and message, as Batch would answer it. */
  failNextCreate(status: number, message: string): void {
    this.faults.push({ kind: 'fail', status, message });
  }

  /**
   * Until acceptCreates(), every jobs.create is refused with RESOURCE_EXHAUSTED (429), as Batch
   * refuses one when a quota of the project or region is exhausted.
   */
  refuseCreatesForQuota(
    message = "Quota exceeded for quota metric 'Job create requests' and limit 'Job create requests per minute per region' of service 'batch.googleapis.com'.",
  ): void {
    this.quotaRefusal = message;
  }

  acceptCreates(): void {
    this.quotaRefusal = null;
  }

  /** The next getJob calls fail, as Batch does when it is briefly unavailable. */
  failNextGets(
    count: number,
    status = 503,
    message = 'The service is currently unavailable.',
    name?: string,
  ): void {
    for (let i = 0; i < count; i++) this.getFaults.push({ status, message, ...(name ? { name } : {}) });
  }

  /**
   * The next job whose id matches runs a task that exits at once with `exitCode`, as a container
   * that crashes does (the job fails, or retries as its policy says). For a model job that fails.
   */
  failNextTask(jobId: RegExp, exitCode = 1): void {
    this.taskFaults.push({ jobId, exitCode });
  }

  /**
   * The next job whose id matches runs a task that never ends by itself (a model job of half an
   * hour, in effect): only a cancel or its VM's loss stops it.
   */
  stallNextTask(jobId: RegExp): void {
    this.taskFaults.push({ jobId, exitCode: null });
  }

  /** The next createJob succeeds but its reply is lost (the caller sees an error and retries). */
  loseNextCreateReply(): void {
    this.faults.push({ kind: 'lose-reply' });
  }

  list(): BatchJob[] {
    return [...this.jobs.values()].map((j) => structuredClone(j.job));
  }

  /** The task process of a job, if one is running. */
  /** The spec the job was created with (what the real API returns as the job's taskGroups). */
  specOf(name: string): JobSpec | null {
    return this.jobs.get(name)?.spec ?? null;
  }

  /**
   * The task's VM goes away mid-run, as a Spot preemption (exit 50001) or a lost VM does:
   * its processes are killed at once, Batch records the exit code, and retries the task if
   * its policy and max_retry_count allow. False when the job has no running task.
   */
  interruptTask(name: string, exitCode = 50001): boolean {
    const local = this.jobs.get(name);
    if (!local?.child) return false;
    local.interruptedWith = exitCode;
    killTree(local.child, 'SIGKILL');
    return true;
  }

  processOf(name: string): ChildProcess | null {
    return this.jobs.get(name)?.child ?? null;
  }

  async createJob(input: CreateJobInput): Promise<BatchJob> {
    const name = `${input.parent}/jobs/${input.jobId}`;
    if (!/^projects\/[^/]+\/locations\/[^/]+$/.test(input.parent)) {
      throw new JobRunnerError(
        `parent must look like projects/{project}/locations/{location}, got ${input.parent}`,
        400,
      );
    }
    if (!BATCH_JOB_ID_PATTERN.test(input.jobId)) {
      throw new JobRunnerError(
        `Job id ${input.jobId} is invalid: it must match ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$ (lowercase letters, digits and hyphens).`,
        400,
      );
    }
    if (!UUID.test(input.requestId) || /^0{8}-/.test(input.requestId)) {
      throw new JobRunnerError(`requestId must be a valid non-zero UUID, got ${input.requestId}`, 400);
    }
    if (this.quotaRefusal !== null) {
      this.createCalls.push({ name, requestId: input.requestId, outcome: 'failed 429' });
      throw new JobRunnerError(`RESOURCE_EXHAUSTED: ${this.quotaRefusal}`, 429);
    }
    const fault = this.faults.shift();
    if (fault?.kind === 'fail') {
      this.createCalls.push({ name, requestId: input.requestId, outcome: `failed ${fault.status}` });
      throw new JobRunnerError(fault.message, fault.status);
    }
    const existing = this.jobs.get(name);
    if (existing) {
      const sameRequest =
        existing.requestId === input.requestId && Date.now() - existing.createdAt < REQUEST_ID_WINDOW_MS;
      this.createCalls.push({
        name,
        requestId: input.requestId,
        outcome: sameRequest ? 'same request' : 'already exists',
      });
      if (sameRequest || input.adoptExisting !== false) return structuredClone(existing.job);
      throw new JobExistsError(name);
    }
    const now = new Date().toISOString();
    const job: BatchJob = {
      name,
      uid: `${input.jobId}-${randomUUID().slice(0, 8)}`,
      status: { state: 'QUEUED', statusEvents: [] },
      labels: { ...input.job.labels },
      createTime: now,
      updateTime: now,
    };
    const local: LocalJob = {
      job,
      spec: input.job,
      requestId: input.requestId,
      createdAt: Date.now(),
      child: null,
      attempts: 0,
      interruptedWith: null,
      timers: [],
      log: null,
    };
    this.jobs.set(name, local);
    this.createCalls.push({
      name,
      requestId: input.requestId,
      outcome: fault?.kind === 'lose-reply' ? 'created, reply lost' : 'created',
    });
    this.transition(local, 'QUEUED', `Job state is set to QUEUED for job ${name}.`);
    local.timers.push(
      setTimeout(() => {
        if (local.job.status.state !== 'QUEUED') return;
        this.transition(local, 'SCHEDULED', `Job state is set from QUEUED to SCHEDULED for job ${name}.`);
        local.timers.push(setTimeout(() => this.startTask(local), this.options.scheduledMs ?? 150));
      }, this.options.queuedMs ?? 100),
    );
    if (fault?.kind === 'lose-reply')
      throw new JobRunnerError('The connection was reset before the reply arrived.', 503);
    return structuredClone(job);
  }

  async getJob(name: string): Promise<BatchJob | null> {
    const index = this.getFaults.findIndex((f) => f.name === undefined || f.name === name);
    if (index >= 0) {
      const [fault] = this.getFaults.splice(index, 1);
      throw new JobRunnerError(fault!.message, fault!.status);
    }
    const local = this.jobs.get(name);
    return local ? structuredClone(local.job) : null;
  }

  async cancelJob(name: string): Promise<void> {
    const local = this.jobs.get(name);
    if (!local) return;
    const state = local.job.status.state;
    if (
      state === 'SUCCEEDED' ||
      state === 'FAILED' ||
      state === 'CANCELLED' ||
      state === 'CANCELLATION_IN_PROGRESS'
    )
      return;
    for (const timer of local.timers) clearTimeout(timer);
    this.transition(
      local,
      'CANCELLATION_IN_PROGRESS',
      `Job state is set from ${state} to CANCELLATION_IN_PROGRESS for job ${name}.`,
    );
    const child = local.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.transition(
        local,
        'CANCELLED',
        `Job state is set from CANCELLATION_IN_PROGRESS to CANCELLED for job ${name}.`,
      );
      return;
    }
    killTree(child, 'SIGTERM');
    const hardKill = setTimeout(() => killTree(child, 'SIGKILL'), this.options.killGraceMs ?? 5_000);
    child.once('exit', () => clearTimeout(hardKill));
  }

  /** Deletes a job outright: its task is killed and the job is gone (getJob answers null). */
  async deleteJob(name: string): Promise<void> {
    const local = this.jobs.get(name);
    if (!local) return;
    for (const timer of local.timers) clearTimeout(timer);
    this.jobs.delete(name);
    if (local.child && local.child.exitCode === null) killTree(local.child, 'SIGKILL');
    local.log?.end();
  }

  /** Stops every running task (local stack shutdown). */
  async shutdown(): Promise<void> {
    const exits: Promise<unknown>[] = [];
    for (const local of this.jobs.values()) {
      for (const timer of local.timers) clearTimeout(timer);
      const child = local.child;
      if (child && child.exitCode === null && child.signalCode === null) {
        exits.push(new Promise((resolve) => child.once('exit', resolve)));
        killTree(child, 'SIGKILL');
      }
    }
    await Promise.all(exits);
  }

  private transition(local: LocalJob, state: BatchJobState, description: string, exitCode?: number): void {
    const now = new Date().toISOString();
    local.job.status.state = state;
    local.job.status.statusEvents.push({
      type: state === 'FAILED' && exitCode !== undefined ? 'TASK_STATE_CHANGED' : 'STATUS_CHANGED',
      description,
      eventTime: now,
      ...(exitCode === undefined ? {} : { taskState: 'FAILED', taskExecution: { exitCode } }),
    });
    local.job.updateTime = now;
    if (state === 'CANCELLATION_IN_PROGRESS') return;
    const topic = local.spec.notifications?.[0]?.pubsubTopic;
    if (!topic) return;
    const region = local.job.name.split('/')[3] ?? '';
    this.options.publish({
      topic,
      attributes: {
        Type: 'JOB_STATE_CHANGED',
        JobName: local.job.name,
        JobUID: local.job.uid ?? '',
        NewJobState: state,
        Region: region,
      },
      data: `Job state was updated to ${state}.`,
    });
  }

  private startTask(local: LocalJob): void {
    const state = local.job.status.state;
    if (state !== 'SCHEDULED' && state !== 'RUNNING') return;
    local.attempts += 1;
    if (state === 'SCHEDULED')
      this.transition(
        local,
        'RUNNING',
        `Job state is set from SCHEDULED to RUNNING for job ${local.job.name}.`,
      );
    const task = local.spec.taskGroups[0]!.taskSpec;
    const container = task.runnables[0]?.container;
    const program = this.options.programs?.find((p) => container?.imageUri.includes(p.image));
    local.log ??= createWriteStream(join(this.options.logDir, `${local.job.name.split('/').at(-1)}.log`), {
      flags: 'a',
    });
    const faultAt = this.taskFaults.findIndex((f) => f.jobId.test(local.job.name.split('/').at(-1)!));
    const [fault] = faultAt >= 0 ? this.taskFaults.splice(faultAt, 1) : [];
    if (fault && fault.exitCode !== null) {
      const exitCode = fault.exitCode;
      local.log.write(`The container exited with code ${exitCode} (an injected fault).\n`);
      local.timers.push(setTimeout(() => this.taskExited(local, exitCode, null), 50));
      return;
    }
    const [command, ...args] = fault
      ? [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)']
      : program
        ? [...program.command, ...(container?.commands ?? [])]
        : this.options.command;
    const child = spawn(command!, args, {
      env: {
        ...process.env,
        ...task.environment.variables,
        ...this.options.env,
        BATCH_TASK_INDEX: '0',
        BATCH_TASK_COUNT: '1',
        // As Batch sets it: 0 on the first attempt, 1 on the first retry, …
        BATCH_TASK_RETRY_ATTEMPT: String(local.attempts - 1),
        BATCH_JOB_UID: local.job.uid ?? '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    local.child = child;
    child.stdout?.pipe(local.log, { end: false });
    child.stderr?.pipe(local.log, { end: false });
    child.once('exit', (code, signal) => this.taskExited(local, code, signal, child.pid ?? null));
  }

  private taskExited(
    local: LocalJob,
    code: number | null,
    signal: NodeJS.Signals | null,
    group: number | null = null,
  ): void {
    local.child = null;
    // On Batch a task's end is its VM's: nothing the task started outlives it. Here the task's
    // leader may die alone (a killed orchestrator leaves its Nextflow child running), so the
    // rest of its process group goes too, before anything else happens to the job.
    if (group !== null) killGroup(group, 'SIGKILL');
    const name = local.job.name;
    if (local.job.status.state === 'CANCELLATION_IN_PROGRESS') {
      this.transition(
        local,
        'CANCELLED',
        `Job state is set from CANCELLATION_IN_PROGRESS to CANCELLED for job ${name}.`,
      );
      local.log?.end();
      return;
    }
    const exitCode = local.interruptedWith ?? code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : 1);
    local.interruptedWith = null;
    if (exitCode === 0) {
      this.transition(local, 'SUCCEEDED', `Job state is set from RUNNING to SUCCEEDED for job ${name}.`);
      local.log?.end();
      return;
    }
    const task = local.spec.taskGroups[0]!.taskSpec;
    const policy = task.lifecyclePolicies.find((p) => p.actionCondition.exitCodes.includes(exitCode));
    const retriesLeft = local.attempts <= task.maxRetryCount;
    if (policy?.action !== 'FAIL_TASK' && retriesLeft) {
      local.job.status.statusEvents.push({
        type: 'TASK_STATE_CHANGED',
        description: `Task state is updated from RUNNING to FAILED on zones/local/instances/${name.split('/').at(-1)} with exit code ${exitCode}; retrying (attempt ${local.attempts + 1}).`,
        eventTime: new Date().toISOString(),
        taskState: 'FAILED',
        taskExecution: { exitCode },
      });
      local.timers.push(
        setTimeout(() => {
          // The retry starts only once every process of the dead attempt is gone.
          void groupGone(group).then(() => {
            if (this.jobs.get(local.job.name) === local) this.startTask(local);
          });
        }, 200),
      );
      return;
    }
    this.transition(
      local,
      'FAILED',
      `Job state is set from RUNNING to FAILED for job ${name}. Task 0 failed with exit code ${exitCode}.`,
      exitCode,
    );
    local.log?.end();
  }
}

function killGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // Already gone.
  }
}

/** Resolves once no process of the group is left (Linux: signal 0 to the group answers ESRCH). */
async function groupGone(group: number | null): Promise<void> {
  if (group === null) return;
  for (let waited = 0; waited < 10_000; waited += 20) {
    try {
      process.kill(-group, 0);
    } catch {
      return;
    }
    killGroup(group, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Signals the task's whole process group (it was started detached, as its own group leader). */
function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
