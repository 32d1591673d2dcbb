/**
 * The orchestrator: runs inside the Batch job (ARCHITECTURE §6). Downloads the run's
 * inputs, runs Nextflow with -resume <SESSION_ID> and the cloud cache, streams new trace
 * rows and log lines to GCS as append-only chunks, uploads the final logs and exit.json,
 * and exits with Nextflow's exit code. It writes only to GCS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Storage } from '@google-cloud/storage';
import { findNextflowFailure } from '../../functions/core/nextflow/nextflow-log';
import { LiveChunker } from './chunker';
import { OrchestratorEnv } from './env';
import { gcsUploader, type Uploader } from './uploads';

function log(message: string): void {
  process.stdout.write(
    `${JSON.stringify({ severity: 'INFO', message, component: 'orchestrator', time: new Date().toISOString() })}\n`,
  );
}

function onPath(binary: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** The replay executor ships next to this program (dist/orchestrator/nextflow-replay.js). */
function replayBinary(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'nextflow-replay.js');
}

export function nextflowArgs(env: OrchestratorEnv): string[] {
  return [
    'run',
    env.PIPELINE,
    '-r',
    env.PIPELINE_VERSION,
    '-c',
    'nextflow.config',
    '-params-file',
    'params.yaml',
    '-w',
    env.WORK_DIR,
    '-name',
    // Nextflow refuses a run name its history already has: a retry on the same VM gets its own.
    env.BATCH_TASK_RETRY_ATTEMPT > 0 ? `${env.RUN_NAME}-a${env.BATCH_TASK_RETRY_ATTEMPT + 1}` : env.RUN_NAME,
    // A UUID, not a bare -resume: a fresh VM has no .nextflow/history, and the cloud cache
    // (NXF_CLOUDCACHE_PATH) is found by session id. On a first attempt it just names the session.
    '-resume',
    env.SESSION_ID,
    '-with-trace',
    'trace.txt',
    '-with-timeline',
    'timeline.html',
    '-with-report',
    'report.html',
    '-ansi-log',
    'false',
  ];
}

async function run(): Promise<number> {
  const parsed = OrchestratorEnv.safeParse(process.env);
  if (!parsed.success) {
    process.stderr.write(
      `Invalid orchestrator environment: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}\n`,
    );
    return 2;
  }
  const env = parsed.data;
  const storage = new Storage();
  const uploader: Uploader = gcsUploader(storage, log);
  const logsPrefix = env.LOGS_GCS_PREFIX.endsWith('/') ? env.LOGS_GCS_PREFIX : `${env.LOGS_GCS_PREFIX}/`;
  const launchDir = env.LAUNCH_DIR ?? (await mkdtemp(join(tmpdir(), `${env.RUN_ID}-`)));
  log(
    `run ${env.RUN_ID} (${env.RUN_NAME}) orchestrator attempt ${env.BATCH_TASK_RETRY_ATTEMPT + 1} for session ${env.SESSION_ID}, recovery: ${env.IS_RECOVERY}`,
  );

  const writeExit = async (
    exitCode: number,
    failure: ReturnType<typeof findNextflowFailure>,
    executor?: 'replay',
  ) => {
    const report = {
      exit_code: exitCode,
      error_message: exitCode === 0 ? null : (failure?.message ?? `Nextflow exited with code ${exitCode}.`),
      error_task: exitCode === 0 ? null : (failure?.task ?? null),
      error_detail: exitCode === 0 ? null : (failure?.detail ?? null),
      session_id: env.SESSION_ID,
      run_name: env.RUN_NAME,
      ...(executor ? { executor } : {}),
      finished_at: new Date().toISOString(),
    };
    await uploader.upload(`${logsPrefix}exit.json`, JSON.stringify(report, null, 2), 'application/json');
  };

  try {
    await writeFile(join(launchDir, 'nextflow.config'), await uploader.download(env.CONFIG_GCS_PATH));
    await writeFile(join(launchDir, 'params.yaml'), await uploader.download(env.PARAMS_GCS_PATH));
  } catch (error) {
    const message = `The run's inputs could not be downloaded: ${(error as Error).message}`;
    log(message);
    await writeExit(1, { task: null, message, detail: message });
    return 1;
  }

  const explicit = env.NXF_BIN ?? onPath('nextflow');
  const binary = explicit ?? replayBinary();
  const executor = binary.endsWith('nextflow-replay.js') ? ('replay' as const) : undefined;
  if (!explicit) log('nextflow is not on PATH: using the replay executor');

  const chunker = new LiveChunker(
    join(launchDir, 'trace.txt'),
    join(launchDir, '.nextflow.log'),
    (name, content, type) => uploader.upload(`${logsPrefix}${name}`, content, type),
    env.BATCH_TASK_RETRY_ATTEMPT + 1,
  );
  let flushing: Promise<void> = Promise.resolve();
  const ticker = setInterval(() => {
    flushing = flushing
      .then(() => chunker.flush())
      .catch((error: unknown) => log(`chunk upload failed: ${String(error)}`));
  }, env.CHUNK_INTERVAL_SECONDS * 1000);

  const child: ChildProcess = spawn(binary, nextflowArgs(env), {
    cwd: launchDir,
    env: { ...process.env, NXF_CLOUDCACHE_PATH: env.CACHE_DIR },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const forward = (signal: NodeJS.Signals) => () => {
    log(`received ${signal}: stopping Nextflow`);
    child.kill(signal);
  };
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGINT', forward('SIGINT'));

  const exitCode = await new Promise<number>((resolve) => {
    child.once('error', (error) => {
      log(`could not start ${binary}: ${error.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : 143)));
  });
  clearInterval(ticker);
  await flushing;
  await chunker.flush(true);

  const logPath = join(launchDir, '.nextflow.log');
  for (const [file, type] of [
    ['.nextflow.log', 'text/plain'],
    ['trace.txt', 'text/tab-separated-values'],
    ['timeline.html', 'text/html'],
    ['report.html', 'text/html'],
  ] as const) {
    const path = join(launchDir, file);
    if (existsSync(path))
      await uploader.upload(
        `${logsPrefix}${file === '.nextflow.log' ? 'nextflow.log' : file}`,
        await readFile(path),
        type,
      );
  }
  const failure =
    exitCode === 0 || !existsSync(logPath) ? null : findNextflowFailure(await readFile(logPath, 'utf8'));
  await writeExit(
    exitCode,
    exitCode === 127 ? { task: null, message: `${binary} could not be started.`, detail: '' } : failure,
    executor,
  );
  log(`nextflow exited with ${exitCode}`);
  return exitCode;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(
        `orchestrator failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
