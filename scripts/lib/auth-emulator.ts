/**
 * Firebase's Authentication emulator (firebase-tools, which runs it in Node), for testing the
 * page's production sign-in: a custom token from /api/session/token, signInWithCustomToken, then
 * Firestore under the rules with the ID token it gives. Its own folder and free ports (auth, hub,
 * logging), so test files can run it side by side; a demo- project, so nothing reaches Google.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from './net';

export interface AuthEmulator {
  /** host:port, as FIREBASE_AUTH_EMULATOR_HOST and connectAuthEmulator take it (with http://). */
  host: string;
  project: string;
  stop(): Promise<void>;
}

export async function startAuthEmulator(project: string): Promise<AuthEmulator> {
  if (!project.startsWith('demo-'))
    throw new Error(`use a demo- project id (got ${project}): nothing must reach Google`);
  const dir = await mkdtemp(join(tmpdir(), 'arc-auth-emulator-'));
  const [auth, hub, logging] = [await freePort(), await freePort(), await freePort()];
  await writeFile(
    join(dir, 'firebase.json'),
    JSON.stringify({
      emulators: {
        auth: { host: '127.0.0.1', port: auth },
        hub: { host: '127.0.0.1', port: hub },
        logging: { host: '127.0.0.1', port: logging },
        ui: { enabled: false },
        singleProjectMode: true,
      },
    }),
  );
  const bin = resolve('node_modules', '.bin', 'firebase');
  const child: ChildProcess = spawn(bin, ['emulators:start', '--only', 'auth', '--project', project], {
    cwd: dir,
    env: { ...process.env, NO_UPDATE_NOTIFIER: '1', FIREBASE_CLI_DISABLE_UPDATE_CHECK: 'true', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const output: string[] = [];
  const collect = (chunk: Buffer) =>
    output.push(
      ...chunk
        .toString()
        .split('\n')
        .filter((l) => l.trim()),
    );
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const killOnExit = () => kill('SIGKILL');
  process.once('exit', killOnExit);
  const host = `127.0.0.1:${auth}`;
  try {
    await waitFor(
      async () => {
        if (exited)
          throw new Error(
            `The Firebase Auth emulator exited during start (firebase-tools is a devDependency: npm ci installs it):\n${output.join('\n')}`,
          );
        const response = await fetch(`http://${host}/`).catch(() => null);
        return response !== null;
      },
      { timeoutMs: 90_000, what: 'the Firebase Auth emulator to answer' },
    );
  } catch (error) {
    kill('SIGKILL');
    throw error;
  }
  return {
    host,
    project,
    async stop() {
      process.removeListener('exit', killOnExit);
      if (!exited) {
        const gone = new Promise<void>((done) => child.once('exit', () => done()));
        kill('SIGTERM');
        const timer = setTimeout(() => kill('SIGKILL'), 5_000);
        await gone;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
