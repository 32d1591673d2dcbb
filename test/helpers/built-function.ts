import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { inject } from 'vitest';
import { freePort, waitFor, waitForValue } from '../../scripts/lib/net';

export interface BuiltFunction {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote (stdout and stderr), as Cloud Logging would receive it. */
  output(): string;
  /** The JSON log lines written so far. */
  logLines(): Record<string, unknown>[];
  /**
   * Waits for a JSON log line with these fields (the child's stdout reaches this process
   * after its HTTP response may have), failing with what was logged when none comes.
   */
  waitForLogLine(fields: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Waits until the output contains `text`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * A deployed function as Cloud Run starts it: the bundle `npm run build` makes and deploys
 * (minified; built for this test run by the global setup, since `npm start` tests rebuild
 * dist/) under the real Functions Framework, in a process of its own with only the
 * environment given here.
 */
export async function spawnBuiltFunction(name: string, env: Record<string, string>): Promise<BuiltFunction> {
  const source = resolve(`${inject('functionsDir')}/${name}`);
  if (!existsSync(`${source}/index.js`))
    throw new Error(`${source} is not built: the global setup builds it.`);
  const port = await freePort();
  // In the source folder, as Cloud Run starts it (/workspace): relative paths (WEB_DIR) resolve there.
  const child = spawn(
    resolve('node_modules/.bin/functions-framework'),
    [`--target=${name}`, `--source=${source}`, `--port=${port}`],
    {
      cwd: source,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logLines = () =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  const matches = (line: Record<string, unknown>, fields: Record<string, unknown>) =>
    Object.entries(fields).every(([key, value]) => line[key] === value);
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    logLines,
    async waitForLogLine(fields, timeoutMs = 5_000) {
      try {
        return await waitForValue(() => logLines().find((line) => matches(line, fields)) ?? null, {
          timeoutMs,
          intervalMs: 20,
          what: `a log line with ${JSON.stringify(fields)}`,
        });
      } catch (error) {
        throw new Error(`${(error as Error).message}\nLogged:\n${output}`);
      }
    },
    async waitForOutput(text, timeoutMs = 5_000) {
      await waitFor(() => output.includes(text), {
        timeoutMs,
        intervalMs: 20,
        what: `output containing ${text}`,
      });
    },
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Starts a built function and waits until it answers HTTP (any status). */
export async function startBuiltFunction(name: string, env: Record<string, string>): Promise<BuiltFunction> {
  const fn = await spawnBuiltFunction(name, env);
  let exitCode: number | null | undefined;
  void fn.exited.then((code) => {
    exitCode = code;
  });
  await waitFor(
    async () => {
      if (exitCode !== undefined) throw new Error(`${name} exited with ${exitCode}:\n${fn.output()}`);
      try {
        await fetch(`${fn.url}/`, { method: 'HEAD' });
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs: 20_000, intervalMs: 50, what: `the built ${name} function to listen` },
  );
  return fn;
}
