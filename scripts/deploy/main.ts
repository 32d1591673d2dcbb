/**
 * `npm run deploy [-- --project P] [--region R] [--yes] [--check]`: from a checkout to a working
 * deployment. Checks every prerequisite first (./prerequisites.ts) and stops, changing nothing,
 * with each fix; then builds, has Cloud Build build and push the images tagged by this commit,
 * shows `terraform plan` and applies it once confirmed (--yes for CI), brings stored data up to
 * date (npm run migrate), prints the address, and runs `npm run doctor` on what it deployed.
 * Safe to re-run: Terraform's state (in a versioned bucket) makes each step converge.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { checkPrerequisites, type Run } from './prerequisites';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const infra = join(root, 'infra');
const say = (line: string) => console.log(`[deploy] ${line}`);

/** Runs a command quietly; null when it is not installed. */
export const capture: Run = (command, args) =>
  new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'ENOENT' ? null : { code: 1, stdout, stderr: error.message }),
    );
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });

/** Runs a step in the terminal, its output shown; throws naming the step when it fails. */
function step(
  what: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<void> {
  say(`${what}: ${command} ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(
              `${what} failed (${command} exited ${code}); fix what it said and run npm run deploy again`,
            ),
          ),
    );
  });
}

async function output(name: string): Promise<string> {
  const result = await capture('terraform', [`-chdir=${infra}`, 'output', '-raw', name]);
  return result?.code === 0 ? result.stdout.trim() : '';
}

async function deploy(options: {
  project?: string;
  region: string;
  yes: boolean;
  check: boolean;
}): Promise<void> {
  say('Checking what the deployment needs…');
  const { problems, found } = await checkPrerequisites(capture, {
    project: options.project,
    region: options.region,
    infraDir: infra,
  });
  if (problems.length > 0) {
    for (const problem of problems) console.log(`✗ ${problem.what}\n    fix: ${problem.fix}`);
    console.log(
      `${problems.length} prerequisite${problems.length === 1 ? '' : 's'} missing; nothing was changed.`,
    );
    process.exit(1);
  }
  const { project, region } = found as { project: string; region: string };
  say(`Project ${project}, region ${region}, as ${found.account}.`);
  if (options.check) return;

  const head = await capture('git', ['rev-parse', '--short=12', 'HEAD']);
  const dirty = (await capture('git', ['status', '--porcelain']))?.stdout.trim();
  if (head?.code !== 0) throw new Error('not a git checkout: images are tagged by commit');
  const tag = `${head.stdout.trim()}${dirty ? '-dirty' : ''}`;
  if (dirty) say('The working tree has uncommitted changes: the images are tagged -dirty.');

  await step('Build', 'npm', ['run', 'build', '--', '--quiet']);
  await step('Images (Cloud Build)', 'gcloud', [
    'builds',
    'submit',
    `--project=${project}`,
    `--region=${region}`,
    '--config=cloudbuild.yaml',
    `--substitutions=_REGION=${region},_TAG=${tag}`,
    '.',
  ]);
  // Terraform's state lives in a versioned bucket of the project: any checkout can re-run, and
  // an earlier state can be restored.
  const stateBucket = `${project}-arc-tfstate`;
  if (
    (
      await capture('gcloud', [
        'storage',
        'buckets',
        'describe',
        `gs://${stateBucket}`,
        `--project=${project}`,
      ])
    )?.code !== 0
  ) {
    await step('State bucket', 'gcloud', [
      'storage',
      'buckets',
      'create',
      `gs://${stateBucket}`,
      `--project=${project}`,
      `--location=${region}`,
      '--uniform-bucket-level-access',
    ]);
    await step('State bucket versioning', 'gcloud', [
      'storage',
      'buckets',
      'update',
      `gs://${stateBucket}`,
      '--versioning',
    ]);
  }
  await step('Terraform init', 'terraform', [
    `-chdir=${infra}`,
    'init',
    '-input=false',
    `-backend-config=bucket=${stateBucket}`,
    '-backend-config=prefix=arc-reactor',
  ]);
  const registry = `${region}-docker.pkg.dev/${project}/arc-reactor`;
  const plan = join(root, '.build', 'deploy.tfplan');
  await step('Terraform plan', 'terraform', [
    `-chdir=${infra}`,
    'plan',
    '-input=false',
    `-out=${plan}`,
    `-var=project=${project}`,
    `-var=region=${region}`,
    `-var=orchestrator_image=${registry}/orchestrator:${tag}`,
    `-var=haystack_agent_image=${registry}/haystack-agent:${tag}`,
    `-var=release=${tag}`,
  ]);
  if (!options.yes) {
    const answer = await createInterface({ input: process.stdin, output: process.stdout }).question(
      'Apply this plan? [y/N] ',
    );
    if (!/^y(es)?$/i.test(answer.trim())) {
      say('Not applied; nothing was changed by Terraform.');
      return;
    }
  }
  await step('Terraform apply', 'terraform', [`-chdir=${infra}`, 'apply', '-input=false', plan]);
  const env = {
    GOOGLE_CLOUD_PROJECT: project,
    GCP_REGION: region,
    RUNS_BUCKET: await output('runs_bucket'),
    ARC_RELEASE: tag,
  };
  await step('Stored data', 'npm', ['run', 'migrate'], env);
  say(`Deployed ${tag}.`);
  say(
    `Page and API: ${await output('url')}  (DNS A record → ${await output('frontend_ip')}; the certificate is issued once it resolves)`,
  );
  say(`Warehouse allowlist: ${await output('egress_ip')}`);
  await step('Doctor', 'npm', ['run', 'doctor'], env);
}

const program = new Command('deploy')
  .option('--project <id>', 'the Google Cloud project (default: gcloud config get-value project)')
  .option('--region <region>', 'region of the functions, Batch jobs and bucket', 'us-central1')
  .option('--yes', 'apply the plan without asking (CI)', false)
  .option('--check', 'only check the prerequisites', false)
  .action((options: { project?: string; region: string; yes: boolean; check: boolean }) => deploy(options));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  program.parseAsync().catch((error: unknown) => {
    console.error(`[deploy] ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
