import { spawn } from 'node:child_process';

/**
 * Runs a command without blocking this process (a test's stack runs in it): its exit code and
 * output; `onStderr` sees what it has written to stderr so far, as it comes.
 */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd?: string; onStderr?: (text: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    options.onStderr?.(stderr, child);
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** `arc` from the source, against a stack at `url` as `user`. */
export function arcCommand(url: string, user: string, args: string[]) {
  return runCommand(process.execPath, [
    '--import',
    'tsx',
    'cli/main.ts',
    '--url',
    url,
    '--user',
    user,
    ...args,
  ]);
}
