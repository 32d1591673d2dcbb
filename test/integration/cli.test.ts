/**
 * The `arc` command line as a user or a CI job runs it: a child process talking to the local
 * stack over HTTP, exit codes and output checked.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../functions/core/shared/version';
import { buildCli } from '../../scripts/build';
import { waitForValue } from '../../scripts/lib/net';
import { createDemoFastqs } from '../../scripts/local/warehouse';
import { asUser, request } from '../helpers/api-server';
import { runCommand } from '../helpers/commands';
import { tempDir } from '../helpers/env';
import { samplesheet } from '../helpers/samplesheets';
import { startTestStack, type TestStack } from '../helpers/stack';
import { type TestWarehouse, testWarehouse } from '../helpers/warehouse';

let stack: TestStack;
let dir: Awaited<ReturnType<typeof tempDir>>;
let warehouse: TestWarehouse;
const USER = 'ci-bot@example.com';

beforeAll(async () => {
  warehouse = await testWarehouse();
  stack = await startTestStack({ env: warehouse.env });
  await createDemoFastqs(stack.gcs, warehouse.seed);
  dir = await tempDir('arc-cli-');
  await writeFile(join(dir.path, 'sheet.csv'), samplesheet());
  await writeFile(join(dir.path, 'params.yaml'), 'aligner: star\nprotocol: 10XV3\ngenome: GRCh38\n');
  await writeFile(
    join(dir.path, 'failing.yaml'),
    'aligner: star\nprotocol: 10XV3\ngenome: GRCh38\nreplay_fail_process: STAR_ALIGN\n',
  );
  await writeFile(join(dir.path, 'fix.yaml'), 'replay_fail_process: null\n');
  await writeFile(join(dir.path, 'bad.csv'), 'sample,fastq_1,fastq_2\nS1,not-a-path.fastq.gz,\n');
});
afterAll(async () => {
  await stack?.close();
  await warehouse?.drop();
  await dir?.remove();
});

/** Runs arc; `onStderr` sees its progress as it comes. */
function arc(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void) {
  return runArc([process.execPath, '--import', 'tsx', 'cli/main.ts'], args, onStderr);
}

/** Runs an arc (`command`: how to start it) against the test stack. */
function runArc(
  command: string[],
  args: string[],
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void,
  cwd?: string,
) {
  return runCommand(command[0]!, [...command.slice(1), '--url', stack.url, '--user', USER, ...args], {
    ...(cwd ? { cwd } : {}),
    ...(onStderr ? { onStderr } : {}),
  });
}

const launch = (params: string, sheet = 'sheet.csv') => [
  'runs',
  'launch',
  '--pipeline',
  'nf-core/scrnaseq',
  '--version',
  '4.0.0',
  '--samplesheet',
  join(dir.path, sheet),
  '--params-file',
  join(dir.path, params),
];

describe('arc', () => {
  it('launches a run and waits for it: progress lines while it goes, exit 0 when it completes', async () => {
    const result = await arc([...launch('params.yaml'), '--wait', '--interval', '0.3']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/running · \d+ of \d+ tasks done/);
    expect(result.stdout).toMatch(/^Run run-[a-z0-9]{12} completed: \d+ tasks/);
  }, 120_000);

  it('draws a progress bar per process while waiting (as on a terminal)', async () => {
    const result = await arc(['--progress', 'bars', ...launch('params.yaml'), '--wait', '--interval', '0.3']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/STAR_ALIGN\s*\|[█░]+\| \d+\/\d+ · \d+ failed · \d+ running/);
    // Every line fits an 80-column terminal.
    const lines = stripVTControlCharacters(result.stderr).split(/[\r\n]+/);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
  }, 120_000);

  it('exits 1 when the run fails, naming the failed task and its own exit code; runs get says what the page says', async () => {
    const result = await arc([...launch('failing.yaml'), '--wait', '--interval', '0.3']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /failed in NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN \(.+\) \(task exit code 1\)/,
    );
    const runId = /Run (run-[a-z0-9]{12}) failed/.exec(result.stdout)![1]!;
    const got = await arc(['runs', 'get', runId]);
    expect(got.code).toBe(0);
    const lines = got.stdout.trim().split('\n');
    expect(lines[0]).toBe(`${runId}  failed`);
    expect(lines[1]).toMatch(/^nf-core\/scrnaseq 4\.0\.0 · 2 samples · .* · started .* · \d+[ms]/);
    expect(lines[1]).toContain('replayed recording (not real Nextflow)');
    expect(got.stdout).toMatch(/\nprogress: \d+ done of \d+ known \(\d+ cached, \d+ failed, 0 running\)\n/);
    expect(got.stdout).toMatch(
      /\nfailed task: NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN \(.+\)\ntask exit code: 1\nNextflow exited with: 1\n/,
    );

    // Sample by sample: which one failed, with its task and the last lines it wrote.
    // The failed task's log is in its work dir once the orchestrator has uploaded it.
    const samples = await waitForValue(
      async () => {
        const result = await arc(['runs', 'samples', runId]);
        return result.code === 0 && result.stdout.includes('  | ') ? result : null;
      },
      { timeoutMs: 30_000, what: 'the failed task’s log tail in arc runs samples' },
    );
    expect(samples.stdout).toMatch(/^SAMPLE_1\tfailed\t\d+ done \(0 cached\), 1 failed\t\d+\.\d\d CPU-h/m);
    expect(samples.stdout).toMatch(
      /^ {2}failed: NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN \(SAMPLE_1\) \(task \d+, exit 1\)\n {2}\| /m,
    );
    expect(samples.stdout).toMatch(/^SAMPLE_2\tstopped\t/m);
    expect(samples.stdout).toContain('2 samples, 1 failed.');
    const both = await arc(['runs', 'recover', runId, '--samples', 'SAMPLE_1', '--failed-samples']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('Give --samples or --failed-samples, not both.');
    const unknown = await arc(['runs', 'recover', runId, '--samples', 'SAMPLE_9']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('SAMPLE_9 is not in the samplesheet');

    // Before recovering: what would be reused and run again, launching nothing.
    const fix = ['--params-file', join(dir.path, 'fix.yaml')];
    const dry = await arc(['runs', 'recover', runId, '--failed-samples', ...fix, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      /^Recovering run-[a-z0-9]{12} with -resume \(only SAMPLE_1\): 0 reused, 1 run again, \d+ may run again, \d+ left out\.$/m,
    );
    expect(dry.stdout).toMatch(
      /^runs_again\tNFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN \(SAMPLE_1\)\tit failed \(exit 1\)$/m,
    );
    expect(dry.stdout.trim().split('\n').at(-1)).toBe('Nothing was launched (--dry-run).');
    const parent = await request<{ recoveries: string[] }>(`${stack.url}/api/runs/${runId}`, {
      headers: asUser(USER),
    });
    expect(parent.body.recoveries).toEqual([]);

    // Recovered, then compared with the run it recovers.
    const recovered = await arc([
      'runs',
      'recover',
      runId,
      '--failed-samples',
      ...fix,
      '--wait',
      '--interval',
      '0.3',
    ]);
    expect(recovered.code, recovered.stderr).toBe(0);
    const recoveryId = /Run (run-[a-z0-9]{12}) completed/.exec(recovered.stdout)![1]!;
    const compared = await arc(['runs', 'compare', runId, recoveryId]);
    expect(compared.code, compared.stderr).toBe(0);
    expect(compared.stdout).toMatch(
      /^a: run-[a-z0-9]{12} {2}failed {2}nf-core\/scrnaseq 4\.0\.0 {2}Nextflow \S+/m,
    );
    expect(compared.stdout).toContain('  - replay_fail_process: "STAR_ALIGN"');
    expect(compared.stdout).toMatch(/^samples: 0 added, 1 removed, 0 changed, 1 the same\n {2}- SAMPLE_2$/m);
    expect(compared.stdout).toMatch(/^FASTQC\t2\/0\/0\t0\/1\/0\t/m);
    const same = await arc(['runs', 'compare', runId, runId]);
    expect(same.code).not.toBe(0);
    expect(same.stderr).toContain('two different runs');
  }, 120_000);

  it('exits 4 with each problem by row and column, once, when the platform refuses the launch', async () => {
    const result = await arc(launch('params.yaml', 'bad.csv'));
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^arc: The run request has \d+ problem\(s\):\n/);
    expect(result.stderr).toMatch(/\n {2}Row 1, column fastq_2: a value is required/);
    expect(result.stderr.split('Row 1, column fastq_2: a value is required')).toHaveLength(2);
  });

  it('estimates what a launch would cost and launches nothing; refuses as the launch would', async () => {
    const before = await arc(['runs', 'list', '--json']);
    const estimate = await arc([...launch('params.yaml'), '--estimate']);
    expect(estimate.code, estimate.stderr).toBe(0);
    const lines = estimate.stdout.trim().split('\n');
    expect(lines[0]).toBe('nf-core/scrnaseq 4.0.0, 2 sample(s).');
    expect(lines[1]).toMatch(
      /^Estimated before launch[^:]*: \$\d+\.\d\d–\$\d+\.\d\d \((?:median|midpoint) \$\d+\.\d\d\), .* CPU-hours\. /,
    );
    expect(lines.at(-1)).toBe('Nothing was launched (--estimate).');
    const json = await arc([...launch('params.yaml'), '--estimate', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ samples: 2, prices: expect.any(Object) });
    expect((await arc(['runs', 'list', '--json'])).stdout).toBe(before.stdout);
    const refused = await arc([...launch('params.yaml', 'bad.csv'), '--estimate']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('Row 1, column fastq_2: a value is required');
    expect(refused.stderr.trim().split('\n').at(-1)).toBe('Nothing was launched (--estimate).');
  });

  it('says which file is missing and exits 2, not a raw ENOENT', async () => {
    for (const args of [launch('params.yaml', 'no-such-sheet.csv'), launch('no-such-params.yaml')]) {
      const result = await arc(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        new RegExp(`^arc: --(samplesheet|params-file) ${dir.path}/no-such-\\S+ does not exist\\.\n$`),
      );
      expect(result.stderr).not.toContain('ENOENT');
    }
  });

  it('finds a local stack on PORT as npm start does, when no --url is given', async () => {
    const port = new URL(stack.url).port;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'cli/main.ts', '--user', USER, 'pipelines', 'list'],
      {
        env: {
          ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'ARC_URL')),
          PORT: port,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^nf-core\/scrnaseq\t/m);
  });

  it('shows a pipeline as a person reads it, and its raw form with --json', async () => {
    const shown = await arc(['pipelines', 'show', 'nf-core/scrnaseq']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^nf-core\/scrnaseq — /);
    expect(shown.stdout).toMatch(/\nversions: .*4\.0\.0 \(default\)/);
    expect(shown.stdout).toMatch(/\n {2}samplesheet columns: sample\*, fastq_1\*, fastq_2/);
    const raw = await arc(['--json', 'pipelines', 'show', 'nf-core/scrnaseq']);
    expect(JSON.parse(raw.stdout)).toMatchObject({ name: 'nf-core/scrnaseq', releases: expect.any(Array) });
  });

  it('runs through a symlink named arc, as npm link and npm install -g leave it, and never exits 0 having done nothing', async () => {
    // The bundle the package's bin names, built inside the project so it finds node_modules.
    const built = await buildCli(await mkdtemp(join(process.cwd(), '.build', 'cli-')));
    await symlink(join(built.dir, 'arc.js'), join(dir.path, 'arc'));
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(join(dir.path, 'arc'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
        });
        child.once('exit', (code) => resolve({ code, stdout }));
      });
    expect(await run(['--version'])).toEqual({ code: 0, stdout: `arc ${VERSION}\n` });
    const listed = await run(['--url', stack.url, '--user', USER, 'pipelines', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^nf-core\/scrnaseq\t/m);
    await rm(built.dir, { recursive: true, force: true });
  });

  it('installs from npm pack into a prefix as a person would; that arc, outside the checkout, launches a run and waits', async () => {
    const built = await buildCli(await mkdtemp(join(process.cwd(), '.build', 'cli-pack-')));
    // npm runs beside the test, not blocking it: the stack under test lives in this process.
    const pack = await runCommand('npm', ['pack', '--pack-destination', dir.path, '--silent'], {
      cwd: built.dir,
    });
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = join(dir.path, pack.stdout.trim().split('\n').at(-1)!);
    expect(tarball).toMatch(new RegExp(`arc-reactor-cli-${VERSION.replaceAll('.', '\\.')}\\.tgz$`));
    const prefix = join(dir.path, 'prefix');
    const outside = await mkdtemp(join(tmpdir(), 'arc-user-'));
    const install = await runCommand(
      'npm',
      ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball],
      { cwd: outside },
    );
    expect(install.code, install.stderr).toBe(0);
    await rm(built.dir, { recursive: true, force: true });
    const installed = join(prefix, 'bin', 'arc');
    const version = await runCommand(installed, ['--version'], { cwd: outside });
    expect(version.stdout).toBe(`arc ${VERSION}\n`);
    const result = await runArc(
      [installed],
      [...launch('params.yaml'), '--wait', '--interval', '0.3'],
      undefined,
      outside,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Run run-[a-z0-9]{12} completed: \d+ tasks/);
    const listed = await runArc([installed], ['runs', 'list'], undefined, outside);
    expect(listed.code).toBe(0);
    await rm(outside, { recursive: true, force: true });
  }, 240_000);

  it('exits 2 on bad usage, and 4 when the platform cannot be reached', async () => {
    expect((await arc(['runs', 'launch', '--pipeline', 'nf-core/scrnaseq'])).code).toBe(2);
    const unreachable = await new Promise<number | null>((resolve) =>
      spawn(process.execPath, [
        '--import',
        'tsx',
        'cli/main.ts',
        '--url',
        'http://127.0.0.1:9',
        'runs',
        'list',
      ]).once('exit', resolve),
    );
    expect(unreachable).toBe(4);
  });

  it('on Ctrl-C stops waiting, leaves the run going, and says how to reattach', async () => {
    const result = await arc([...launch('params.yaml'), '--wait', '--interval', '0.3'], (stderr, child) => {
      if (/running · /.test(stderr) && !child.killed) child.kill('SIGINT');
    });
    expect(result.code).toBe(130);
    const runId = /Run (run-[a-z0-9]{12}) launched/.exec(result.stderr)?.[1];
    expect(result.stderr).toContain(`keeps going. Reattach with: arc runs wait ${runId}`);
    const run = await request<{ status: string }>(`${stack.url}/api/runs/${runId}`, {
      headers: asUser(USER),
    });
    expect(['running', 'completed']).toContain(run.body.status);
    // Reattached, it waits to the end.
    const again = await arc(['runs', 'wait', runId!, '--interval', '0.3']);
    expect(again.code).toBe(0);
  }, 180_000);

  it('asks HAYSTACK a question, says how it read it, waits for the answer and fetches its outputs', async () => {
    const result = await arc([
      'cells',
      'ask',
      'How do CD14 monocytes respond to IFN-γ compared to IL-4 (and IL-37)?',
      '--max-iterations',
      '1',
      '--wait',
      '--interval',
      '0.3',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      'Understood as: CD14-positive monocyte (CL:0001054) under IFN-gamma, compared with IL-4, prompted from parse_pbmc (two predictions and their contrast).',
    );
    expect(result.stderr).toMatch(/Not used: IL-37 \(not a condition of the datasets/);
    expect(result.stderr).toMatch(/iteration 1: direct IFN-gamma on CD14-positive monocyte → score \d+/);
    expect(result.stderr).toMatch(
      /IFN-gamma compared with IL-4 \(IL-4 prompted with \d+ cells\): higher under IFN-gamma: \w+/,
    );
    expect(result.stdout).toMatch(/completed: .*final score \d+\/10\. Synthetic data, stand-in model\./);
    const runId = /Question (hs-[a-z0-9]{12}) asked/.exec(result.stderr)![1]!;

    const folder = join(dir.path, 'answer');
    const fetched = await arc(['cells', 'result', runId, '-o', folder]);
    expect(fetched.code, fetched.stderr).toBe(0);
    for (const name of ['report.html', 'predictions.h5ad', 'log.json'])
      expect(fetched.stderr).toContain(`Wrote ${join(folder, `${runId}_${name}`)} (`);
    const report = await readFile(join(folder, `${runId}_report.html`), 'utf8');
    expect(report).toContain('<h2 id="comparison">IFN-gamma compared with IL-4</h2>');
    expect(report).toContain('IL-37');
    const log = JSON.parse(await readFile(join(folder, `${runId}_log.json`), 'utf8'));
    expect(log.comparison).toMatchObject({ perturbation: 'IFN-gamma', comparison: 'IL-4' });
    expect((await readFile(join(folder, `${runId}_predictions.h5ad`))).subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    // Before it has completed there is nothing to fetch, and arc says so.
    const early = await arc(['cells', 'result', 'hs-000000000000']);
    expect(early.code).not.toBe(0);
    expect(early.stderr).toMatch(/^arc: /);
  }, 120_000);

  it('labels runs at launch and later, lists by label, and follows the log, its tasks and its files', async () => {
    const launched = await arc([
      ...launch('params.yaml'),
      '--label',
      'team=genomics',
      '--label',
      'cost-center=cc-42',
      '--follow',
      '--interval',
      '0.3',
    ]);
    expect(launched.code, launched.stderr).toBe(0);
    // --follow: nextflow.log on stdout as it is written, to its end.
    expect(launched.stdout).toMatch(/\[main\] \w+ nextflow\.cli\.CmdRun - /);
    expect(launched.stdout).toMatch(/Run run-[a-z0-9]{12} completed/);
    const runId = /Run (run-[a-z0-9]{12}) launched/.exec(launched.stderr)![1]!;

    const listed = await arc(['runs', 'list', '--label', 'cost-center=cc-42']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n')).toHaveLength(1);
    expect(listed.stdout).toContain(`${runId}\tcompleted`);
    expect(listed.stdout).toMatch(/\tteam=genomics,cost-center=cc-42\n/);

    const relabelled = await arc(['runs', 'label', runId, 'project=pbmc', 'cost-center-']);
    expect(relabelled.code, relabelled.stderr).toBe(0);
    expect(relabelled.stdout.trim().split('\n').sort()).toEqual(['project=pbmc', 'team=genomics']);
    const badLabel = await arc(['runs', 'label', runId, 'Team=X']);
    expect(badLabel.code).toBe(4);
    expect(badLabel.stderr).toMatch(/lowercase letters/);

    const tasks = await arc(['runs', 'tasks', runId, '--page-size', '5']);
    expect(tasks.code, tasks.stderr).toBe(0);
    expect(tasks.stdout).toMatch(/\tCOMPLETED\t0\t/);
    expect(tasks.stdout).toMatch(/5 of \d+ tasks/);

    const files = await arc(['runs', 'files', runId]);
    expect(files.code, files.stderr).toBe(0);
    expect(files.stdout).toContain('logs/nextflow.log');
    const out = join(dir.path, 'downloaded.log');
    const downloaded = await arc(['runs', 'download', runId, 'logs/nextflow.log', '-o', out]);
    expect(downloaded.code, downloaded.stderr).toBe(0);
    expect(await readFile(out, 'utf8')).toMatch(/N E X T F L O W/);

    const logs = await arc(['runs', 'logs', runId, '--tail', '3']);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout.trim().split('\n')).toHaveLength(3);
  }, 120_000);

  it('finds NGS runs and samples in Benchling and builds their samplesheet', async () => {
    const ngsRun = warehouse.seed.runs.find((r) => !r.archived)!;
    const runs = await arc(['benchling', 'runs', '--search', ngsRun.name]);
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toContain(ngsRun.name);
    const samples = await arc(['benchling', 'samples', ngsRun.name]);
    expect(samples.code, samples.stderr).toBe(0);
    expect(samples.stdout).toMatch(/gs:\/\/\S+\.fastq\.gz/);
    const out = join(dir.path, 'built.csv');
    const built = await arc(['samplesheet', 'build', '--ngs-run', ngsRun.name, '-o', out]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toMatch(/Wrote .*built\.csv: \d+ samples/);
    expect((await readFile(out, 'utf8')).split('\n')[0]).toMatch(/^sample,fastq_1,fastq_2/);
    // The launch it suggests keeps where the samples came from.
    expect(built.stderr).toContain(`--ngs-run ${ngsRun.name}`);
    const launched = await arc([
      '--json',
      'runs',
      'launch',
      '--pipeline',
      'nf-core/scrnaseq',
      '--samplesheet',
      out,
      '--params-file',
      join(dir.path, 'params.yaml'),
      '--ngs-run',
      ngsRun.name,
      '--project',
      'PBMC atlas',
    ]);
    expect(launched.code, launched.stderr).toBe(0);
    expect(JSON.parse(launched.stdout)).toMatchObject({
      source_ngs_runs: [ngsRun.name],
      source_project: 'PBMC atlas',
    });
    const unknown = await arc(['samplesheet', 'build', '--ngs-run', 'NO-SUCH-RUN']);
    expect(unknown.code).toBe(4);
  });

  it('prints JSON for scripts', async () => {
    const listed = await arc(['--json', 'runs', 'list']);
    expect(listed.code).toBe(0);
    const body = JSON.parse(listed.stdout) as { runs: { run_id: string }[] };
    expect(body.runs.length).toBeGreaterThanOrEqual(3);
  });
});
