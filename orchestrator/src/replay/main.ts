#!/usr/bin/env node
/**
 * The replay executor: a stand-in for the `nextflow` binary where Nextflow is not
 * installed (ARCHITECTURE §8). It takes the same command line as `nextflow run`, reads the
 * run's params and samplesheet, and replays the recorded nf-core/scrnaseq execution for
 * those samples: trace rows (in the fields the config asks for), nextflow.log lines, task
 * work dirs (.command.sh/.out/.err/.exitcode) and published results, with time compressed.
 * `-resume <session>` reports tasks finished in an earlier attempt of the session as
 * CACHED (state kept under NXF_CLOUDCACHE_PATH). The param `replay_fail_process` makes a
 * process fail (exit `replay_fail_exit_code`, default 1) after its retries.
 *
 * Trace timestamps and durations are the recorded ones (a virtual clock running
 * REPLAY_SPEED times faster than the wall clock); log lines carry the real time.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { Storage } from '@google-cloud/storage';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseYaml } from 'yaml';
import { parseGcsUrl } from '../env';
import { replayErrorStrategy } from './error-strategy';
import { formatDuration, formatLogTime, formatMemory, formatPercent, formatTimestamp } from './format';
import { configuredMemory, MEMORY_EXIT_CODES } from './memory';
import { NEXTFLOW_VERSION, PIPELINE, PROCESSES, type ProcessModel, REVISION } from './recording';
import { executionReportHtml, publishedPlaceholder, type TaskRecord, timelineHtml } from './reports';

const DEFAULT_TRACE_FIELDS = [
  'task_id',
  'hash',
  'native_id',
  'name',
  'status',
  'exit',
  'submit',
  'duration',
  'realtime',
  '%cpu',
  'peak_rss',
  'peak_vmem',
  'rchar',
  'wchar',
];
const MB = 1024 * 1024;

interface Args {
  pipeline: string;
  revision: string;
  config: string;
  paramsFile: string;
  workDir: string;
  name: string;
  resume: string | null;
  trace: string;
  timeline: string | null;
  report: string | null;
}

function parseArgs(argv: string[]): Args {
  if (argv[0] !== 'run' || !argv[1])
    throw new Error('usage: nextflow run <pipeline> [options] (the replay executor only runs pipelines)');
  const option = (flag: string) => {
    const at = argv.indexOf(flag);
    return at === -1 ? null : (argv[at + 1] ?? null);
  };
  return {
    pipeline: argv[1],
    revision: option('-r') ?? 'main',
    config: option('-c') ?? 'nextflow.config',
    paramsFile: option('-params-file') ?? 'params.yaml',
    workDir: (option('-w') ?? 'work').replace(/\/?$/, '/'),
    name: option('-name') ?? 'replay_run',
    resume: option('-resume'),
    trace: option('-with-trace') ?? `trace-${Date.now()}.txt`,
    timeline: option('-with-timeline'),
    report: option('-with-report'),
  };
}

interface TaskPlan {
  key: string;
  /**
   * What besides the key goes into the task's hash, as Nextflow hashes a task's inputs and the
   * params its script uses: the values of the process's params, and for a whole-run task after
   * per-sample ones, the samples whose outputs it takes. A resume reuses a finished task only
   * when these are the same.
   */
  inputs: string;
  model: ProcessModel;
  tag: string | null;
  sample: string | null;
  deps: string[];
  fail: boolean;
}

interface ReplayState {
  session: string;
  completed: Record<string, TaskRecord>;
  /**
   * How many times each task attempt was launched in this session (its hash base → count).
   * Nextflow gives a task re-executed on resume a new hash when its work dir is taken (the old
   * hash rehashed with the try), so a failed task's work dir and logs survive its recovery.
   */
  launched?: Record<string, number>;
}

/**
 * What a failed task wrote to stderr: the recording's error for an exit of its own, and for a
 * task killed by a signal (137 SIGKILL, e.g. the out-of-memory killer; 143 SIGTERM; 130 SIGINT)
 * the start of its usual output cut off by bash's note of the kill, as a real kill leaves it.
 */
function failureLines(model: ProcessModel, exit: number): string[] {
  const signal = exit === 137 ? 'Killed' : exit === 143 ? 'Terminated' : exit === 130 ? 'Interrupt' : null;
  if (signal === null) return model.failure;
  const command = model.command.split('\n')[0]!.trim();
  return [...model.stderr.slice(0, 2), `.command.sh: line 2:    87 ${signal.padEnd(23)} ${command}`];
}

/** A PRNG seeded by the task, so a task's recorded figures are the same every time it is replayed. */
function seeded(seed: string): () => number {
  let state = createHash('md5').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const between = (random: () => number, [min, max]: [number, number]) => min + (max - min) * random();

function traceValue(field: string, r: TaskRecord): string {
  const dash = (value: number | null, format: (n: number) => string) =>
    value === null ? '-' : format(value);
  switch (field) {
    case 'task_id':
      return String(r.taskId);
    case 'hash':
      return `${r.hash.slice(0, 2)}/${r.hash.slice(2, 8)}`;
    case 'native_id':
      return `nf-${r.hash.slice(0, 8)}-${r.submit}`;
    case 'process':
      return r.process;
    case 'tag':
      return r.tag ?? '-';
    case 'name':
      return r.name;
    case 'status':
      return r.status;
    case 'exit':
      return r.exit === null ? '-' : String(r.exit);
    case 'cpus':
      return String(r.cpus);
    case 'memory':
      return formatMemory(r.memory);
    case 'attempt':
      return String(r.attempt);
    case 'submit':
      return formatTimestamp(r.submit);
    case 'start':
      return dash(r.start, formatTimestamp);
    case 'complete':
      return dash(r.complete, formatTimestamp);
    case 'duration':
      return r.complete === null ? '-' : formatDuration(r.complete - r.submit);
    case 'realtime':
      return dash(r.realtime, formatDuration);
    case '%cpu':
      return dash(r.cpuPercent, formatPercent);
    case '%mem':
      return r.peakRss === null ? '-' : formatPercent((r.peakRss / (64 * 1024 * MB)) * 100);
    case 'peak_rss':
    case 'rss':
      return dash(r.peakRss, formatMemory);
    case 'peak_vmem':
    case 'vmem':
      return dash(r.peakVmem, formatMemory);
    case 'rchar':
    case 'read_bytes':
      return dash(r.rchar, formatMemory);
    case 'wchar':
    case 'write_bytes':
      return dash(r.wchar, formatMemory);
    case 'workdir':
      return r.workdir;
    case 'error_action':
      return r.errorAction ?? '-';
    default:
      return '-';
  }
}

/** A run of a pipeline the replay has no recording of fails at once, saying so (never replays another pipeline's tasks). */
function refuseUnrecorded(args: Args): number {
  const message = `The replay executor has a recording of ${PIPELINE} only; ${args.pipeline} has none, so this run cannot be replayed. Install Nextflow (on PATH, or set NXF_BIN) to run ${args.pipeline} for real.`;
  writeFileSync(
    '.nextflow.log',
    `${formatLogTime(Date.now())} [main] ERROR nextflow.cli.Launcher - ${message}\n`,
  );
  process.stderr.write(`ERROR ~ ${message}\n`);
  return 1;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.pipeline.toLowerCase() !== PIPELINE.toLowerCase()) return refuseUnrecorded(args);
  const speed = Number(process.env.REPLAY_SPEED ?? 500);
  const runStarted = Date.now();
  const storage = new Storage();
  // Timestamps are when the replay played each step (never later than the run's end); the
  // resources a task used (realtime, CPU, memory, I/O) are the recording's, played `speed`x faster.
  const sleepVirtual = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms / speed));

  const config = readFileSync(args.config, 'utf8');
  const errorStrategy = replayErrorStrategy(config);
  const traceFields =
    /fields\s*=\s*'([^']+)'/
      .exec(config)?.[1]
      ?.split(',')
      .map((f) => f.trim()) ?? DEFAULT_TRACE_FIELDS;
  const params = (parseYaml(readFileSync(args.paramsFile, 'utf8')) ?? {}) as Record<string, unknown>;
  const session =
    args.resume && /^[0-9a-f-]{36}$/i.test(args.resume)
      ? args.resume
      : createHash('md5')
          .update(args.name)
          .digest('hex')
          .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/, '$1-$2-$3-$4-$5');
  const cacheDir = (process.env.NXF_CLOUDCACHE_PATH ?? '').replace(/\/?$/, '/');
  const failProcess = typeof params.replay_fail_process === 'string' ? params.replay_fail_process : null;
  const failExit = Number(params.replay_fail_exit_code ?? 1);

  const logPath = '.nextflow.log';
  writeFileSync(logPath, '');
  const logLine = (thread: string, level: string, logger: string, message: string) =>
    appendFileSync(
      logPath,
      `${formatLogTime(Date.now())} [${thread}] ${level.padEnd(5)} ${logger} - ${message}\n`,
    );
  const say = (message: string) => process.stdout.write(`${message}\n`);

  logLine('main', 'DEBUG', 'nextflow.cli.Launcher', `$> nextflow ${process.argv.slice(2).join(' ')}`);
  logLine('main', 'DEBUG', 'nextflow.cli.CmdRun', `N E X T F L O W  ~  version ${NEXTFLOW_VERSION}`);
  logLine(
    'main',
    'DEBUG',
    'nextflow.cli.CmdRun',
    `Launching \`https://github.com/${PIPELINE}\` [${args.name}] DSL2 - revision: ${REVISION} [${args.revision}]`,
  );
  logLine('main', 'DEBUG', 'nextflow.Session', `Session UUID: ${session}`);
  logLine('main', 'DEBUG', 'nextflow.Session', `Run name: ${args.name}`);
  logLine(
    'main',
    'INFO ',
    'nextflow.Session',
    `Replay executor: replaying a recorded ${PIPELINE} ${args.revision} execution (STARsolo), ${speed}x faster than recorded`,
  );
  if (errorStrategy.notUnderstood)
    logLine(
      'main',
      'WARN ',
      'nextflow.Session',
      `Replay executor: errorStrategy ${errorStrategy.notUnderstood} is not a form the replay evaluates; every failure is retried up to maxRetries (${errorStrategy.maxRetries})`,
    );
  say(`N E X T F L O W  ~  version ${NEXTFLOW_VERSION} (replay executor)`);
  say(
    `Launching \`https://github.com/${PIPELINE}\` [${args.name}] DSL2 - revision: ${REVISION} [${args.revision}]`,
  );

  // The samples come from the run's own samplesheet (params.input).
  let samples: string[];
  try {
    const input = String(params.input ?? '');
    const { bucket, name } = parseGcsUrl(input);
    const [csv] = await storage.bucket(bucket).file(name).download();
    const rows = parseCsv(csv, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<
      string,
      string
    >[];
    samples = [...new Set(rows.map((row) => row.sample).filter((s): s is string => Boolean(s)))];
  } catch (error) {
    const message = `Cannot read the samplesheet ${String(params.input)}: ${(error as Error).message}`;
    logLine('main', 'ERROR', 'nextflow.cli.Launcher', message);
    say(`ERROR ~ ${message}`);
    return 1;
  }

  const statePath = cacheDir && args.resume ? `${cacheDir}replay/${session}.json` : null;
  let state: ReplayState = { session, completed: {} };
  if (statePath) {
    try {
      const { bucket, name } = parseGcsUrl(statePath);
      const [content] = await storage.bucket(bucket).file(name).download();
      state = JSON.parse(content.toString('utf8')) as ReplayState;
    } catch {
      // No earlier attempt of this session: nothing is cached.
    }
  }
  // As Nextflow does, a finished task is reused only while its work dir is there; one whose
  // dir is gone runs again, in a work dir of the same hash.
  const sameHash = new Map<string, { hash: string; inputs: string }>();
  await Promise.all(
    Object.entries(state.completed).map(async ([key, record]) => {
      if (!record.workdir?.startsWith('gs://')) return;
      const { bucket, name } = parseGcsUrl(record.workdir.replace(/\/?$/, '/'));
      const [files] = await storage
        .bucket(bucket)
        .getFiles({ prefix: name, maxResults: 1, autoPaginate: false });
      if (files.length > 0) return;
      sameHash.set(key, { hash: record.hash, inputs: record.inputs ?? '' });
      delete state.completed[key];
    }),
  );
  let saving: Promise<unknown> = Promise.resolve();
  const saveState = () => {
    if (!statePath) return;
    const { bucket, name } = parseGcsUrl(statePath);
    const snapshot = JSON.stringify(state);
    saving = saving
      .then(() =>
        storage
          .bucket(bucket)
          .file(name)
          .save(snapshot, { resumable: false, contentType: 'application/json' }),
      )
      .catch(() => {});
  };

  // The plan: tasks and what each waits for.
  const plan: TaskPlan[] = [];
  for (const model of PROCESSES) {
    const instances =
      model.scope === 'sample'
        ? samples.map((sample) => ({ sample, tag: sample }))
        : [{ sample: null, tag: model.tag ?? null }];
    instances.forEach(({ sample, tag }, index) => {
      const deps = model.after.flatMap((short) => {
        const dependency = PROCESSES.find((p) => p.short === short)!;
        if (dependency.scope === 'sample' && model.scope === 'sample') return [`${short}/${sample}`];
        if (dependency.scope === 'sample') return samples.map((s) => `${short}/${s}`);
        return [`${short}/${dependency.tag ?? ''}`];
      });
      const fail =
        failProcess !== null && (failProcess === model.short || failProcess === model.name) && index === 0;
      const usesSamples =
        model.scope === 'once' && deps.some((d) => samples.some((s) => d.endsWith(`/${s}`)));
      const inputs = JSON.stringify([
        ...(model.params ?? []).map((name) => [name, params[name] ?? null]),
        ...(usesSamples ? [['samples', samples]] : []),
      ]);
      plan.push({
        key: `${model.short}/${tag ?? ''}`,
        inputs: inputs === '[]' ? '' : inputs,
        model,
        tag,
        sample,
        deps,
        fail,
      });
    });
  }

  const traceHeader = traceFields.join('\t');
  writeFileSync(args.trace, `${traceHeader}\n`);
  const records: TaskRecord[] = [];
  const writeRow = (record: TaskRecord) => {
    records.push(record);
    appendFileSync(args.trace, `${traceFields.map((f) => traceValue(f, record)).join('\t')}\n`);
  };
  const uploads: Promise<unknown>[] = [];
  const put = (url: string, content: string, contentType = 'text/plain; charset=utf-8') => {
    const { bucket, name } = parseGcsUrl(url);
    uploads.push(
      storage
        .bucket(bucket)
        .file(name)
        .save(content, { resumable: false, contentType })
        .catch(() => {}),
    );
  };
  const fill = (text: string, sample: string | null) =>
    text.replaceAll('{sample}', sample ?? 'all').replaceAll('{samples}', String(samples.length));

  const publish = (task: TaskPlan, record: TaskRecord) => {
    const outdir = String(params.outdir ?? '').replace(/\/?$/, '/');
    if (!outdir.startsWith('gs://')) return;
    for (const file of task.model.publishes) {
      const path = fill(file, task.sample);
      const { content, contentType } = publishedPlaceholder(path, task.model.name, task.sample, record);
      put(`${outdir}${path}`, content, contentType);
    }
  };

  let nextTaskId = Math.max(0, ...Object.values(state.completed).map((r) => r.taskId)) + 1;
  const done = new Set<string>();
  const started_ = new Set<string>();
  const running = new Map<string, { record: TaskRecord; timer: NodeJS.Timeout }>();
  let failure: { plan: TaskPlan; record: TaskRecord } | null = null;
  let cachedCount = 0;

  return new Promise<number>((resolve) => {
    const finish = async (code: number) => {
      await saving;
      await Promise.all(uploads);
      const replayed = {
        name: args.name,
        session,
        pipeline: PIPELINE,
        revision: args.revision,
        nextflowVersion: NEXTFLOW_VERSION,
        commandLine: `nextflow ${process.argv.slice(2).join(' ')}`,
        workDir: args.workDir,
        started: runStarted,
        ended: Date.now(),
        exitCode: code,
        speed,
      };
      if (args.timeline) writeFileSync(args.timeline, timelineHtml(replayed, records));
      if (args.report) writeFileSync(args.report, executionReportHtml(replayed, records));
      logLine('main', 'DEBUG', 'nextflow.trace.TraceFileObserver', 'Workflow completed -- saving trace file');
      logLine('main', 'DEBUG', 'nextflow.script.ScriptRunner', '> Execution complete -- Goodbye');
      resolve(code);
    };

    const launch = (task: TaskPlan, attempt: number) => {
      const base = `${session}/${task.key}/${attempt}${task.inputs ? `/${task.inputs}` : ''}`;
      const random = seeded(base);
      state.launched ??= {};
      const tries = state.launched[base] ?? 0;
      state.launched[base] = tries + 1;
      saveState();
      const gone = attempt === 1 ? sameHash.get(task.key) : undefined;
      const hash =
        (gone?.inputs === task.inputs ? gone.hash : undefined) ??
        createHash('md5')
          .update(tries === 0 ? base : `${base}/${tries}`)
          .digest('hex');
      const name = task.tag ? `${task.model.name} (${task.tag})` : task.model.name;
      const workdir = `${args.workDir}${hash.slice(0, 2)}/${hash.slice(2)}`;
      // The memory the config gives this task (the recording's request when it sets none). A
      // task made to fail for memory (137, 140) succeeds when it is given more than it had.
      const memory = configuredMemory(config, [task.model.short, task.model.name], attempt);
      if (memory.notUnderstood)
        logLine(
          'Task submitter',
          'WARN ',
          'nextflow.Session',
          `Replay executor: memory ${memory.notUnderstood} for ${task.model.short} is not a form the replay evaluates; the recording's ${task.model.memoryGb} GB is used`,
        );
      const memoryGb = memory.gb ?? task.model.memoryGb;
      const failing = task.fail && !(MEMORY_EXIT_CODES.includes(failExit) && memoryGb > task.model.memoryGb);
      if (task.fail && !failing)
        logLine(
          'Task submitter',
          'INFO ',
          'nextflow.Session',
          `Replay executor: ${name} is given ${memoryGb} GB, more than the ${task.model.memoryGb} GB it ran out of (exit ${failExit}); it is played as succeeding`,
        );
      const realtime = Math.round(
        between(
          random,
          failing ? [task.model.realtime[0] * 0.2, task.model.realtime[0] * 0.4] : task.model.realtime,
        ) * 1000,
      );
      const queue = Math.round(between(random, [8_000, 45_000]));
      const submit = Date.now();
      const record: TaskRecord = {
        taskId: nextTaskId++,
        hash,
        process: task.model.name,
        tag: task.tag,
        name,
        status: 'COMPLETED',
        exit: 0,
        cpus: task.model.cpus,
        memory: Math.round(memoryGb * 1024 * MB),
        attempt,
        submit,
        // As played: the recording's queue and run time, `speed`x shorter.
        start: submit + Math.round(queue / speed),
        complete: submit + Math.round((queue + realtime) / speed),
        realtime,
        cpuPercent: between(random, task.model.cpuPercent),
        peakRss: Math.round(between(random, task.model.peakRssMb) * MB),
        peakVmem: Math.round(between(random, task.model.peakRssMb) * 1.35 * MB),
        rchar: Math.round(between(random, task.model.readMb) * MB),
        wchar: Math.round(between(random, task.model.writeMb) * MB),
        workdir,
        errorAction: null,
      };
      logLine(
        'Task submitter',
        'INFO ',
        'nextflow.Session',
        `[${hash.slice(0, 2)}/${hash.slice(2, 8)}] Submitted process > ${name}`,
      );
      say(`[${hash.slice(0, 2)}/${hash.slice(2, 8)}] Submitted process > ${name}`);
      const timer = setTimeout(() => complete(task, record, failing), (queue + realtime) / speed);
      running.set(task.key, { record, timer });
    };

    const complete = (task: TaskPlan, record: TaskRecord, failing: boolean) => {
      running.delete(task.key);
      const exitCode = failing ? failExit : 0;
      const lines = (list: string[]) => list.map((l) => `${fill(l, task.sample)}\n`).join('');
      const files: [string, string][] = [
        ['.command.sh', `#!/bin/bash -euo pipefail\n${fill(task.model.command, task.sample)}\n`],
        ['.command.out', lines(failing ? [] : task.model.stdout)],
        ['.command.err', lines(failing ? failureLines(task.model, failExit) : task.model.stderr)],
        ['.exitcode', String(exitCode)],
      ];
      for (const [file, content] of files) put(`${record.workdir}/${file}`, content);
      if (!failing) {
        done.add(task.key);
        writeRow(record);
        logLine(
          'Task monitor',
          'DEBUG',
          'n.processor.TaskPollingMonitor',
          `Task completed > TaskHandler[id: ${record.taskId}; name: ${record.name}; status: COMPLETED; exit: 0; error: -; workDir: ${record.workdir}]`,
        );
        state.completed[task.key] = { ...record, inputs: task.inputs };
        saveState();
        publish(task, record);
        schedule();
        return;
      }
      record.status = 'FAILED';
      record.exit = exitCode;
      const retry = errorStrategy.decide(exitCode, record.attempt) === 'retry';
      record.errorAction = retry ? 'RETRY' : 'TERMINATE';
      writeRow(record);
      logLine(
        'Task monitor',
        'DEBUG',
        'n.processor.TaskPollingMonitor',
        `Task completed > TaskHandler[id: ${record.taskId}; name: ${record.name}; status: COMPLETED; exit: ${exitCode}; error: -; workDir: ${record.workdir}]`,
      );
      if (retry) {
        logLine(
          'Task monitor',
          'INFO ',
          'nextflow.processor.TaskProcessor',
          `[${record.hash.slice(0, 2)}/${record.hash.slice(2, 8)}] NOTE: Process \`${record.name}\` terminated with an error exit status (${exitCode}) -- Execution is retried (${record.attempt})`,
        );
        launch(task, record.attempt + 1);
        return;
      }
      failure = { plan: task, record };
      terminate(exitCode);
    };

    const terminate = (exitCode: number) => {
      const { plan: task, record } = failure!;
      const stderr = failureLines(task.model, exitCode)
        .map((l) => `  ${fill(l, task.sample)}`)
        .join('\n');
      appendFileSync(
        logPath,
        `${formatLogTime(Date.now())} [Task monitor] ERROR nextflow.processor.TaskProcessor - Error executing process > '${record.name}'\n\n` +
          `Caused by:\n  Process \`${record.name}\` terminated with an error exit status (${exitCode})\n\n\n` +
          `Command executed:\n\n  ${fill(task.model.command, task.sample)}\n\n` +
          `Command exit status:\n  ${exitCode}\n\nCommand output:\n  (empty)\n\nCommand error:\n${stderr}\n\n` +
          `Work dir:\n  ${record.workdir}\n\n` +
          'Tip: view the complete command output by changing to the process work dir and entering the command `cat .command.out`\n',
      );
      logLine(
        'Task monitor',
        'INFO ',
        'nextflow.Session',
        'Execution cancelled -- Finishing pending tasks before exit',
      );
      for (const [, { record: inFlight, timer }] of running) {
        clearTimeout(timer);
        writeRow({
          ...inFlight,
          status: 'ABORTED',
          exit: null,
          complete: null,
          realtime: null,
          cpuPercent: null,
          peakRss: null,
          peakVmem: null,
          rchar: null,
          wchar: null,
        });
      }
      running.clear();
      logLine(
        'Task monitor',
        'ERROR',
        'nextflow.Nextflow',
        'Pipeline failed. Please refer to troubleshooting docs: https://nf-co.re/docs/usage/troubleshooting',
      );
      say(`ERROR ~ Error executing process > '${record.name}'`);
      void finish(1);
    };

    const schedule = () => {
      if (failure) return;
      for (const task of plan) {
        if (started_.has(task.key) || !task.deps.every((d) => done.has(d))) continue;
        started_.add(task.key);
        const finished = state.completed[task.key];
        // Like Nextflow's cache: a finished task whose hash inputs changed runs again.
        const cached = finished && (finished.inputs ?? '') === task.inputs ? finished : undefined;
        if (cached) {
          cachedCount++;
          const record: TaskRecord = { ...cached, status: 'CACHED' };
          logLine(
            `Actor Thread ${1 + (cachedCount % 12)}`,
            'INFO ',
            'nextflow.processor.TaskProcessor',
            `[${cached.hash.slice(0, 2)}/${cached.hash.slice(2, 8)}] Cached process > ${cached.name}`,
          );
          say(`[${cached.hash.slice(0, 2)}/${cached.hash.slice(2, 8)}] Cached process > ${cached.name}`);
          writeRow(record);
          // Like Nextflow, a resumed run publishes the outputs of cached tasks into its outdir too.
          publish(task, record);
          done.add(task.key);
          queueMicrotask(schedule);
          continue;
        }
        launch(task, 1);
      }
      if (done.size === plan.length) {
        logLine('main', 'INFO ', 'nextflow.Nextflow', `-[${PIPELINE}] Pipeline completed successfully-`);
        logLine(
          'main',
          'DEBUG',
          'n.trace.WorkflowStatsObserver',
          `Workflow completed > WorkflowStats[succeededCount=${records.filter((r) => r.status === 'COMPLETED').length}; failedCount=0; cachedCount=${cachedCount}]`,
        );
        say(`-[${PIPELINE}] Pipeline completed successfully-`);
        void finish(0);
      }
    };

    process.once('SIGTERM', () => {
      logLine('main', 'INFO ', 'nextflow.Session', 'Execution aborted -- received SIGTERM');
      for (const [, { timer }] of running) clearTimeout(timer);
      void saving.then(() => resolve(143));
    });

    void sleepVirtual(0).then(schedule);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`ERROR ~ ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
