import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iapToken, signingKey } from '../../scripts/lib/iap-keys';
import { LOCAL_IAP_AUDIENCE, localIapKey } from '../../scripts/lib/local-iap';
import { waitFor } from '../../scripts/lib/net';
import { request } from '../helpers/api-server';
import { chat, textOf, userMessage } from '../helpers/chat';
import { tempDir } from '../helpers/env';
import { runBody } from '../helpers/samplesheets';

interface Started {
  child: ChildProcess;
  url: string;
  firestoreHost: string;
  output: string[];
}

let dataDir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  dataDir = await tempDir('arc-start-');
});
afterAll(async () => {
  await dataDir?.remove();
  await rm(`${dataDir.path}.before-fresh`, { recursive: true, force: true });
});

/** `npm start` as a user runs it: its own process group, its own emulator, PORT=0. */
async function npmStart(...args: string[]): Promise<Started> {
  return start([process.execPath, '--import', 'tsx', 'scripts/start.ts', ...args]);
}

async function start(command: string[], extraEnv: Record<string, string> = {}): Promise<Started> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: '0',
    ARC_DATA_DIR: dataDir.path,
    SWEEP_INTERVAL_SECONDS: '1',
    ...extraEnv,
  };
  delete env.FIRESTORE_EMULATOR_HOST;
  // Whatever key the developer's shell holds: the offline demo model.
  for (const name of ['ANTHROPIC_API_KEY', 'SECRET_ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL'])
    delete env[name];
  // What `npm start` runs: node itself, so Ctrl-C reaches the stack with no wrapper process
  // (tsx's CLI kills a child that does not acknowledge a signal within 30 ms).
  const child = spawn(command[0]!, command.slice(1), {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(...chunk.toString().split('\n')));
  child.stderr?.on('data', (chunk: Buffer) => output.push(...chunk.toString().split('\n')));
  const found = (pattern: RegExp) => output.map((line) => pattern.exec(line)?.[1]).find(Boolean);
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output.join('\n')}`);
      return Boolean(found(/Page:\s+(http:\/\/\S+?)\/$/));
    },
    { timeoutMs: 90_000, what: 'npm start to print its URL' },
  );
  return {
    child,
    url: found(/Page:\s+(http:\/\/\S+?)\/$/)!,
    firestoreHost: found(/Firestore emulator: (\S+)/)!,
    output,
  };
}

/** Every process under `root` (Linux /proc), at this moment. */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The parent pid is the 4th field, after the command in parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents) {
      if (parent !== pid) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers; it is gone in all that matters.
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** Ctrl-C in a terminal signals the whole foreground process group. */
async function ctrlC(started: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
  process.kill(-started.child.pid!, 'SIGINT');
  return exited;
}

describe('npm start', () => {
  it('serves the API and the page, stops cleanly on Ctrl-C, keeps data across restarts, and --fresh starts empty', async () => {
    const first = await npmStart();
    expect((await request(`${first.url}/api/health`)).status).toBe(200);
    // A normal start fits a terminal screen: what it started and where, no debug lines.
    const startup = first.output.filter((line) => line.trim());
    expect(startup.length, startup.join('\n')).toBeLessThanOrEqual(24);
    expect(startup.join('\n')).not.toContain('"severity":"DEBUG"');
    // /api/v1 is HAYSTACK's own function, on the same port as the load balancer will route it.
    const haystack = await request<{ datasets: unknown[] }>(`${first.url}/api/v1/metadata/datasets`);
    expect(haystack.status).toBe(200);
    expect(haystack.body.datasets).toHaveLength(3);
    // Without a key the assistant is the offline demo model, and says it is a stand-in.
    const assistant = await request(`${first.url}/api/chat/status`);
    expect(assistant.body).toMatchObject({
      enabled: true,
      stand_in: true,
      label: expect.stringContaining('stand-in'),
    });
    // …which answers by calling the platform's tools: here the demo warehouse.
    const answer = await chat(first.url, 'dev@example.com', {
      id: 'c-npm-start',
      messages: [userMessage('Which Benchling sequencing runs are there?')],
    });
    expect(answer.parts.find((p) => p.type === 'tool-output-available')?.output).toMatchObject({ ok: true });
    expect(textOf(answer.message)).toMatch(/^NGS runs in Benchling:\n- \d{6}_/);
    const page = await fetch(`${first.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Arc Reactor</title>');
    // The page's own scripts only, no inline script; it may talk to the API and the emulator.
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain(`connect-src 'self' http://${first.firestoreHost}`);
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    // The demo warehouse: last week's NGS run → its samplesheet → a launch (its FASTQs exist).
    const ngsRuns = await request<{ runs: { name: string; sample_count: number }[]; has_more: boolean }>(
      `${first.url}/api/benchling/runs`,
    );
    expect(ngsRuns.status).toBe(200);
    expect(ngsRuns.body.runs).toHaveLength(25);
    expect(ngsRuns.body.has_more).toBe(true);
    const built = await request<{
      samplesheet_csv: string;
      source_ngs_runs: string[];
      validation: { valid: boolean };
    }>(`${first.url}/api/samplesheets`, {
      method: 'POST',
      json: { pipeline: 'nf-core/scrnaseq', ngs_runs: [ngsRuns.body.runs[0]!.name] },
    });
    expect(built.body.validation.valid).toBe(true);
    const created = await request<{ run_id: string; source_ngs_runs: string[] }>(`${first.url}/api/runs`, {
      method: 'POST',
      json: runBody({
        samplesheet_csv: built.body.samplesheet_csv,
        source_ngs_runs: built.body.source_ngs_runs,
      }),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.source_ngs_runs).toEqual([ngsRuns.body.runs[0]!.name]);
    // Ctrl-C while the run is going: everything stops, and nothing says ERROR (a stop is no error).
    await waitFor(
      async () =>
        (await request<{ status: string }>(`${first.url}/api/runs/${created.body.run_id}`)).body.status ===
        'running',
      { timeoutMs: 60_000, what: 'the run to be running' },
    );
    expect(await ctrlC(first)).toBe(0);
    expect(first.output.join('\n')).toContain('Stopped.');
    const emulatorGone = await fetch(`http://${first.firestoreHost}/`).then(
      () => false,
      () => true,
    );
    expect(emulatorGone).toBe(true);
    const lines = first.output.filter((line) => line.trim());
    expect(
      lines.filter((line) => /\bERROR\b/.test(line)),
      lines.join('\n'),
    ).toEqual([]);
    // Lines a person reads, not JSON; and the sweeps an idle stack ran every second say nothing.
    expect(lines.filter((line) => line.trimStart().startsWith('{'))).toEqual([]);
    expect(lines.filter((line) => line.includes('sweep_done'))).toEqual([]);
    expect(lines.some((line) => /^\d\d:\d\d:\d\d run_prepared run_id=run-/.test(line))).toBe(true);

    // LOG_LEVEL=DEBUG shows what an idle stack does quietly: Cloud Scheduler's twin runs the
    // stale-run sweeper on its interval.
    const second = await start([process.execPath, '--import', 'tsx', 'scripts/start.ts'], {
      LOG_LEVEL: 'DEBUG',
    });
    const listed = await request<{ runs: { run_id: string }[] }>(`${second.url}/api/runs`);
    expect(listed.body.runs.map((r) => r.run_id)).toEqual([created.body.run_id]);
    await waitFor(
      () => second.output.some((line) => /^\d\d:\d\d:\d\d DEBUG sweep_done checked=0/.test(line)),
      {
        timeoutMs: 10_000,
        what: 'the stale-run sweeper to run',
      },
    );
    // Killed outright (SIGKILL: no handler of the stack runs), its emulators go with it.
    const jvms = descendants(second.child.pid!).filter((pid) => commandOf(pid).startsWith('java'));
    expect(jvms).toHaveLength(2); // Firestore and Pub/Sub
    const killed = new Promise((resolve) => second.child.once('exit', resolve));
    process.kill(second.child.pid!, 'SIGKILL');
    await killed;
    await waitFor(() => jvms.every((pid) => !alive(pid)), {
      timeoutMs: 15_000,
      what: 'the emulators of a SIGKILLed stack to end',
    });

    const fresh = await npmStart('--fresh');
    const empty = await request<{ total: number }>(`${fresh.url}/api/runs`);
    expect(empty.body.total).toBe(0);
    // --fresh says what it set aside, and where: nothing is lost.
    expect(fresh.output.join('\n')).toContain(
      `--fresh: starting empty. The saved runs, files, task logs and warehouse data were moved to ${dataDir.path}.before-fresh`,
    );
    expect(existsSync(join(`${dataDir.path}.before-fresh`, 'firestore'))).toBe(true);
    expect(await ctrlC(fresh)).toBe(0);
  }, 240_000);

  it('AUTH_MODE=iap: only a token from `npm run token` gets in; no token, a forged one or another audience do not', async () => {
    const iapData = await tempDir('arc-start-iap-');
    try {
      const env = { ARC_DATA_DIR: iapData.path, AUTH_MODE: 'iap' };
      const started = await start([process.execPath, '--import', 'tsx', 'scripts/start.ts'], env);
      expect(started.output.join('\n')).toContain('npm run token -- you@example.com');
      const token = (email: string) =>
        spawnSync(process.execPath, ['--import', 'tsx', 'scripts/token.ts', email], {
          env: { ...process.env, ...env },
          encoding: 'utf8',
          timeout: 30_000,
        });
      const minted = token('Alice@Example.com');
      expect(minted.status, minted.stderr).toBe(0);
      const jwt = minted.stdout.trim().split('\n').at(-1)!;
      expect(jwt.split('.')).toHaveLength(3);
      const as = (assertion: string) => ({ headers: { 'x-goog-iap-jwt-assertion': assertion } });

      const missing = await request<{ error: { code: string } }>(`${started.url}/api/runs`);
      expect(missing.status).toBe(401);
      // The identity header the dev mode trusts is nothing here.
      const claimed = await request(`${started.url}/api/runs`, {
        headers: { 'x-goog-authenticated-user-email': 'accounts.google.com:alice@example.com' },
      });
      expect(claimed.status).toBe(401);
      const signedIn = await request<{ email: string }>(`${started.url}/api/me/preferences`, as(jwt));
      expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(200);
      expect((await request(`${started.url}/api/runs`, as(jwt))).status).toBe(200);

      // Same key id and claims, another key: refused as IAP's verification refuses it.
      const forger = await signingKey(
        JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()).kid,
      );
      const forged = await request<{ error: { code: string } }>(
        `${started.url}/api/runs`,
        as(await iapToken(forger, { email: 'alice@example.com' }, { audience: LOCAL_IAP_AUDIENCE })),
      );
      expect(forged.status).toBe(401);
      expect(JSON.stringify(forged.body)).toContain('bad_signature');
      const wrongAudience = await request(
        `${started.url}/api/runs`,
        as(await iapToken(await localIapKey(iapData.path), { email: 'alice@example.com' })),
      );
      expect(wrongAudience.status).toBe(401);
      expect(JSON.stringify(wrongAudience.body)).toContain('wrong_audience');

      const bad = token('not-an-email');
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('not an email address');
      expect(await ctrlC(started)).toBe(0);
      // The key outlives the stack: a token minted now still names the same key.
      expect(token('bob@example.com').status).toBe(0);
    } finally {
      await iapData.remove();
    }
  }, 120_000);

  it('says the port is taken before the slow start, and exits 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      env: { ...process.env, PORT: String(port), ARC_DATA_DIR: dataDir.path },
      encoding: 'utf8',
      timeout: 30_000,
    });
    taken.close();
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(
      `Something is already listening on ${port} (another Arc Reactor?). Stop it, or start on another port: PORT=${port + 1} npm start`,
    );
    expect(result.stdout).not.toContain('Building');
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'stops with every child when npm itself is sent %s (a supervisor, an IDE stop button, kill PID)',
    async (signal) => {
      const started = await start(['npm', 'start', '--silent']);
      const exited = new Promise<number | null>((resolve) =>
        started.child.once('exit', (code) => resolve(code)),
      );
      // The npm process only, not its group: what `kill PID` does.
      process.kill(started.child.pid!, signal);
      expect(await exited).toBe(0);
      expect(started.output.join('\n')).toContain('Stopped.');
      const emulatorGone = await fetch(`http://${started.firestoreHost}/`).then(
        () => false,
        () => true,
      );
      expect(emulatorGone).toBe(true);
      const apiGone = await fetch(`${started.url}/api/health`).then(
        () => false,
        () => true,
      );
      expect(apiGone).toBe(true);
    },
    120_000,
  );

  it('exits with install instructions when the emulator cannot run (no Java on PATH)', async () => {
    const bin = await tempDir('arc-bin-');
    await symlink(process.execPath, join(bin.path, 'node'));
    const env: Record<string, string | undefined> = {
      ...process.env,
      PORT: '0',
      ARC_DATA_DIR: dataDir.path,
      PATH: bin.path,
    };
    delete env.FIRESTORE_EMULATOR_HOST;
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    await bin.remove();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Java was not found on PATH');
    expect(result.stderr).toContain(
      'sudo apt-get install google-cloud-cli-firestore-emulator openjdk-17-jre-headless',
    );
  });
});
