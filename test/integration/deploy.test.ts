/**
 * `npm run deploy`'s prerequisite checks: run as an operator runs it (a child process) on a
 * machine without gcloud or Terraform, and, for what gcloud answers, with gcloud's answers for a
 * project the caller cannot fully manage. Nothing is changed when anything is missing.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BOOTSTRAP_APIS,
  checkPrerequisites,
  DEPLOYER_ROLES,
  type Run,
} from '../../scripts/deploy/prerequisites';
import { tempDir } from '../helpers/env';

function deployCheck(path: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/deploy/main.ts', '--check'],
      { env: { PATH: path, HOME: path }, encoding: 'utf8', timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          out: `${stdout}${stderr}`,
        }),
    ),
  );
}

/** gcloud's answers for a project, as `gcloud … --format=value(…)` prints them. */
function gcloudAnswering(answers: {
  project?: string;
  account?: string;
  adc?: boolean;
  apis?: string[];
  roles?: string[];
}): Run {
  return async (command, args) => {
    const line = args.join(' ');
    const ok = (stdout: string) => ({ code: 0, stdout: `${stdout}\n`, stderr: '' });
    if (command === 'terraform') return ok('{"terraform_version": "1.11.4"}');
    if (command !== 'gcloud') return null;
    if (line === '--version') return ok('Google Cloud SDK 528.0.0');
    if (line === 'config get-value project') return ok(answers.project ?? '(unset)');
    if (line.startsWith('auth list')) return ok(answers.account ?? '');
    if (line.startsWith('auth application-default'))
      return answers.adc === false
        ? {
            code: 1,
            stdout: '',
            stderr:
              'ERROR: (gcloud.auth.application-default.print-access-token) Your default credentials were not found.',
          }
        : ok('ya29.token');
    if (line.startsWith('services list')) return ok((answers.apis ?? []).join('\n'));
    if (line.startsWith('projects get-iam-policy')) return ok((answers.roles ?? []).join('\n'));
    return { code: 1, stdout: '', stderr: `unexpected: gcloud ${line}` };
  };
}

describe('npm run deploy -- --check', () => {
  it('on a machine without gcloud and terraform, names each with how to install it, and changes nothing', async () => {
    const empty = await tempDir('arc-deploy-path-');
    try {
      const { code, out } = await deployCheck(empty.path);
      expect(code, out).toBe(1);
      expect(out).toContain('✗ gcloud is not installed\n    fix: install the Google Cloud CLI');
      expect(out).toContain('✗ terraform is not installed\n    fix: install Terraform 1.6 or newer');
      expect(out).toMatch(/prerequisites? missing; nothing was changed\./);
      expect(out).not.toContain('Build:');
    } finally {
      await empty.remove();
    }
  });

  it('says what tfvars lack, that no project is chosen and nobody is signed in, all at once', async () => {
    const infra = await tempDir('arc-deploy-infra-');
    try {
      await writeFile(
        join(infra.path, 'terraform.tfvars'),
        'runs_bucket = "b"\ndomain = "arc.example.org"\n',
      );
      const { problems } = await checkPrerequisites(gcloudAnswering({ adc: false }), {
        infraDir: infra.path,
      });
      expect(problems.map((p) => p.what)).toEqual([
        'infra/terraform.tfvars does not set iap_members, notify_from_email, haystack_inference_image',
        'no Google Cloud project is chosen',
        'nobody is signed in to gcloud',
        'no application-default credentials (Terraform and doctor use them)',
      ]);
      expect(problems[1]!.fix).toBe('pass --project PROJECT_ID, or gcloud config set project PROJECT_ID');
      expect(problems[3]!.fix).toBe('gcloud auth application-default login');
    } finally {
      await infra.remove();
    }
  });

  it('names the APIs to enable and the roles the caller lacks, with the commands that fix them', async () => {
    const infra = await tempDir('arc-deploy-infra-');
    try {
      await writeFile(
        join(infra.path, 'terraform.tfvars'),
        'runs_bucket = "b"\ndomain = "d"\niap_members = []\nnotify_from_email = "a@b.co"\nhaystack_inference_image = "i"\n',
      );
      const partly = await checkPrerequisites(
        gcloudAnswering({
          project: 'my-lab',
          account: 'alice@my-lab.org',
          apis: ['serviceusage.googleapis.com'],
          roles: ['roles/editor', 'roles/run.admin'],
        }),
        { infraDir: infra.path },
      );
      expect(partly.problems).toEqual([
        {
          what: 'APIs not enabled: cloudresourcemanager.googleapis.com, cloudbuild.googleapis.com',
          fix: 'gcloud services enable cloudresourcemanager.googleapis.com cloudbuild.googleapis.com --project=my-lab',
        },
        {
          what: expect.stringContaining(
            'alice@my-lab.org lacks roles/resourcemanager.projectIamAdmin, roles/iam.serviceAccountAdmin, roles/iap.admin, roles/secretmanager.admin on my-lab',
          ),
          fix: expect.stringContaining(
            'gcloud projects add-iam-policy-binding my-lab --member=user:alice@my-lab.org --role=roles/iap.admin',
          ),
        },
      ]);
      // An owner, with the bootstrap APIs on: ready, with the project, region and account found.
      const ready = await checkPrerequisites(
        gcloudAnswering({
          project: 'my-lab',
          account: 'alice@my-lab.org',
          apis: BOOTSTRAP_APIS,
          roles: ['roles/owner'],
        }),
        { infraDir: infra.path, region: 'europe-west4' },
      );
      expect(ready).toEqual({
        problems: [],
        found: { project: 'my-lab', region: 'europe-west4', account: 'alice@my-lab.org' },
      });
      expect(DEPLOYER_ROLES).toContain('roles/iap.admin');
    } finally {
      await infra.remove();
    }
  });
});
