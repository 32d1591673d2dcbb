/**
 * Finds and runs Google's official Firestore emulator (from the Google Cloud SDK) as a
 * child process. Used by `npm start` and by the test suite's global setup.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './net';

const JAR = 'platform/cloud-firestore-emulator/cloud-firestore-emulator.jar';
const MAIN_CLASS = 'com.google.cloud.datastore.emulator.firestore.CloudFirestore';

export const INSTALL_HELP = [
  'The Firestore emulator was not found. Install it with one of:',
  '  sudo apt-get install google-cloud-cli-firestore-emulator openjdk-17-jre-headless   (Debian/Ubuntu, Google Cloud apt repo)',
  '  gcloud components install cloud-firestore-emulator                                 (SDK installed with the installer)',
  'It needs Java 17+ on PATH (java -version). Or point FIRESTORE_EMULATOR_HOST at an emulator that is already running.',
].join('\n');

function sdkRoots(): string[] {
  const roots = [
    process.env.CLOUDSDK_ROOT_DIR,
    '/usr/lib/google-cloud-sdk',
    '/usr/share/google-cloud-sdk',
    '/opt/google-cloud-sdk',
    join(homedir(), 'google-cloud-sdk'),
  ];
  try {
    const fromGcloud = execFileSync('gcloud', ['info', '--format=value(installation.sdk_root)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 20_000,
    }).trim();
    if (fromGcloud) roots.unshift(fromGcloud);
  } catch {
    // gcloud is optional: the well-known install locations are checked below.
  }
  return roots.filter((r): r is string => Boolean(r));
}

/** A file of the Cloud SDK (`platform/…`), wherever the SDK is installed. */
export function findSdkFile(relative: string): string | null {
  for (const root of sdkRoots()) {
    const file = join(root, relative);
    if (existsSync(file)) return file;
  }
  return null;
}

export function findEmulatorJar(): string | null {
  return findSdkFile(JAR);
}

function javaAvailable(): boolean {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

export interface RunningEmulator {
  host: string;
  /** Exports the project's data to `dir` (replacing older exports there). */
  exportTo(project: string, dir: string): Promise<void>;
  stop(): Promise<void>;
}

/** The newest export's metadata file under `dir`, if any. */
export async function latestExport(dir: string): Promise<string | null> {
  if (!existsSync(dir)) return null;
  const exports = (await readdir(dir)).filter((d) => d.startsWith('firestore_export_')).sort();
  const newest = exports.at(-1);
  if (!newest) return null;
  const metadata = join(dir, newest, `${newest}.overall_export_metadata`);
  return existsSync(metadata) ? metadata : null;
}

export interface StartOptions {
  importFrom?: string | null;
}

/**
 * Runs `java "$@"` and ends it when stdin closes (its parent is gone, however it died) or on
 * SIGTERM (passed on, then waited for, so that a stop is orderly); exits with java's status.
 * Background jobs of a non-interactive sh read /dev/null, hence the copy of stdin on fd 3.
 */
const WATCHED_JAVA = [
  'exec 3<&0',
  'java "$@" 3<&- </dev/null & j=$!',
  "trap 'kill -TERM $j 2>/dev/null; wait $j; kill $w 2>/dev/null; exit 143' TERM INT",
  '( while read -r _; do :; done; kill -KILL $j 2>/dev/null ) <&3 & w=$!',
  'exec 3<&-',
  'wait $j; s=$?',
  'kill $w 2>/dev/null',
  'exit $s',
].join('\n');

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** A Java emulator of the Cloud SDK running as a child: answers once `GET http://host/` is 200. */
export interface JavaEmulator {
  host: string;
  stop(): Promise<void>;
}

export async function spawnJavaEmulator(
  name: string,
  args: (port: number) => string[],
): Promise<JavaEmulator> {
  if (!javaAvailable()) throw new Error(`Java was not found on PATH: the ${name} needs Java 17+.`);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  // Run java itself (not the SDK's bash wrapper), in its own process group so that a
  // terminal's Ctrl-C reaches us first and we can save the data before stopping it. The JVM
  // must not outlive us however we end, SIGKILL included, where no handler of ours runs: a
  // small sh holds the read end of a pipe from us (its stdin) and kills the JVM when the pipe
  // closes, which the kernel does when our process is gone.
  const child: ChildProcess = spawn('sh', ['-c', WATCHED_JAVA, 'sh', ...args(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const killOnExit = () => killGroup(child, 'SIGKILL');
  // The pipe must not keep this process alive; it closes with it.
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  process.once('exit', killOnExit);
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      output.push(line);
      if (output.length > 200) output.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    child.stdin?.destroy();
  });

  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`The ${name} exited during start:\n${output.join('\n')}`);
        const response = await fetch(`http://${host}/`).catch(() => null);
        return response?.ok === true;
      },
      { timeoutMs: 60_000, what: `the ${name} to answer` },
    );
  } catch (error) {
    killGroup(child, 'SIGKILL');
    throw error;
  }
  return {
    host,
    async stop() {
      process.removeListener('exit', killOnExit);
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

export async function startFirestoreEmulator(options: StartOptions = {}): Promise<RunningEmulator> {
  const jar = findEmulatorJar();
  if (!jar) throw new Error(INSTALL_HELP);
  if (!javaAvailable()) throw new Error(`Java was not found on PATH.\n${INSTALL_HELP}`);
  const { host, stop } = await spawnJavaEmulator('Firestore emulator', (port) => {
    const args = [
      '-Duser.language=en',
      '-cp',
      jar,
      MAIN_CLASS,
      'start',
      '--host=127.0.0.1',
      `--port=${port}`,
    ];
    if (options.importFrom) args.push(`--import-data=${options.importFrom}`);
    return args;
  });

  return {
    host,
    async exportTo(project, dir) {
      await mkdir(dir, { recursive: true });
      const before = new Set(await readdir(dir));
      const response = await fetch(`http://${host}/emulator/v1/projects/${project}:export`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ database: `projects/${project}/databases/(default)`, export_directory: dir }),
      });
      if (!response.ok)
        throw new Error(`Firestore emulator export failed: ${response.status} ${await response.text()}`);
      const newest = await latestExport(dir);
      for (const entry of before) {
        if (newest && !newest.includes(entry)) await rm(join(dir, entry), { recursive: true, force: true });
      }
    },
    stop,
  };
}

/**
 * Puts security rules in force for one project of the emulator (its REST endpoint, as the
 * Firebase rules test kit does). Without rules the emulator lets any client read anything,
 * so the page would see other users' runs locally though production would refuse.
 */
export async function loadFirestoreRules(host: string, projectId: string, rules: string): Promise<void> {
  const response = await fetch(
    `http://${host}/emulator/v1/projects/${encodeURIComponent(projectId)}:securityRules`,
    {
      method: 'PUT',
      body: JSON.stringify({ rules: { files: [{ name: 'firestore.rules', content: rules }] } }),
    },
  );
  if (!response.ok) {
    throw new Error(
      `The Firestore emulator refused infra/firestore.rules (${response.status}): ${await response.text()}`,
    );
  }
}
