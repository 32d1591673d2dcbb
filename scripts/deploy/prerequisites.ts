/**
 * What `npm run deploy` needs before it changes anything, each checked and each with its fix:
 * the tools, a project, a signed-in caller with the roles to create everything, the APIs
 * Terraform needs to enable the rest, and infra/terraform.tfvars with what only you can say.
 * Every problem is reported at once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Runs a command; null when it is not installed. */
export type Run = (
  command: string,
  args: string[],
) => Promise<{ code: number; stdout: string; stderr: string } | null>;

export interface Problem {
  what: string;
  fix: string;
}

/** Roles that let one person create everything infra/ holds; owner covers them all. */
export const DEPLOYER_ROLES = [
  'roles/editor',
  'roles/resourcemanager.projectIamAdmin',
  'roles/iam.serviceAccountAdmin',
  'roles/iap.admin',
  'roles/secretmanager.admin',
  'roles/run.admin',
];

/** APIs that must be on before Terraform can enable the others (infra/main.tf's services). */
export const BOOTSTRAP_APIS = [
  'serviceusage.googleapis.com',
  'cloudresourcemanager.googleapis.com',
  'cloudbuild.googleapis.com',
];

/** What infra/terraform.tfvars must set: what the deployment cannot know by itself. */
export const TFVARS_REQUIRED = [
  'runs_bucket',
  'domain',
  'iap_members',
  'notify_from_email',
  'haystack_inference_image',
];

export interface Prerequisites {
  project: string;
  region: string;
  account: string;
}

export async function checkPrerequisites(
  run: Run,
  options: { project?: string; region?: string; infraDir: string },
): Promise<{ problems: Problem[]; found: Partial<Prerequisites> }> {
  const problems: Problem[] = [];
  const found: Partial<Prerequisites> = { region: options.region ?? 'us-central1' };

  const gcloud = await run('gcloud', ['--version']);
  if (!gcloud)
    problems.push({
      what: 'gcloud is not installed',
      fix: 'install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install (then gcloud init)',
    });
  const terraform = await run('terraform', ['version', '-json']);
  if (!terraform)
    problems.push({
      what: 'terraform is not installed',
      fix: 'install Terraform 1.6 or newer: https://developer.hashicorp.com/terraform/install',
    });
  else {
    const version = /"terraform_version":\s*"(\d+)\.(\d+)/.exec(terraform.stdout);
    if (version && (Number(version[1]) < 1 || (Number(version[1]) === 1 && Number(version[2]) < 6)))
      problems.push({
        what: `terraform ${version[1]}.${version[2]} is too old`,
        fix: 'install Terraform 1.6 or newer',
      });
  }

  const tfvars = join(options.infraDir, 'terraform.tfvars');
  if (!existsSync(tfvars))
    problems.push({
      what: `${tfvars} does not exist`,
      fix: `cp infra/terraform.tfvars.example infra/terraform.tfvars and fill in ${TFVARS_REQUIRED.join(', ')}`,
    });
  else {
    const text = readFileSync(tfvars, 'utf8');
    const missing = TFVARS_REQUIRED.filter((name) => !new RegExp(`^\\s*${name}\\s*=`, 'm').test(text));
    if (missing.length > 0)
      problems.push({
        what: `infra/terraform.tfvars does not set ${missing.join(', ')}`,
        fix: 'add them (infra/terraform.tfvars.example says what each is)',
      });
  }

  if (!gcloud) return { problems, found };

  const configured =
    options.project ?? (await run('gcloud', ['config', 'get-value', 'project']))?.stdout.trim();
  if (!configured || configured === '(unset)')
    problems.push({
      what: 'no Google Cloud project is chosen',
      fix: 'pass --project PROJECT_ID, or gcloud config set project PROJECT_ID',
    });
  else found.project = configured;

  const account = (
    await run('gcloud', ['auth', 'list', '--filter=status:ACTIVE', '--format=value(account)'])
  )?.stdout.trim();
  if (!account) problems.push({ what: 'nobody is signed in to gcloud', fix: 'gcloud auth login' });
  else found.account = account;
  const adc = await run('gcloud', ['auth', 'application-default', 'print-access-token']);
  if (adc?.code !== 0)
    problems.push({
      what: 'no application-default credentials (Terraform and doctor use them)',
      fix: 'gcloud auth application-default login',
    });

  if (found.project && found.account) {
    const apis = await run('gcloud', [
      'services',
      'list',
      '--enabled',
      `--project=${found.project}`,
      '--format=value(config.name)',
    ]);
    if (apis?.code !== 0)
      problems.push({
        what: `cannot read project ${found.project} (${apis?.stderr.trim().split('\n').pop() ?? 'no answer'})`,
        fix: 'check the project id, and that your account can see it',
      });
    else {
      const enabled = new Set(apis.stdout.split('\n').map((l) => l.trim()));
      const off = BOOTSTRAP_APIS.filter((api) => !enabled.has(api));
      if (off.length > 0)
        problems.push({
          what: `APIs not enabled: ${off.join(', ')}`,
          fix: `gcloud services enable ${off.join(' ')} --project=${found.project}`,
        });
      const policy = await run('gcloud', [
        'projects',
        'get-iam-policy',
        found.project,
        '--flatten=bindings[].members',
        `--filter=bindings.members:${found.account}`,
        '--format=value(bindings.role)',
      ]);
      const roles = new Set(
        (policy?.stdout ?? '')
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean),
      );
      if (!roles.has('roles/owner')) {
        const lacking = DEPLOYER_ROLES.filter((role) => !roles.has(role));
        if (lacking.length > 0)
          problems.push({
            what: `${found.account} lacks ${lacking.join(', ')} on ${found.project} (granted directly; a group's roles are not seen here)`,
            fix: `ask an owner: ${lacking.map((r) => `gcloud projects add-iam-policy-binding ${found.project} --member=user:${found.account} --role=${r}`).join(' && ')}`,
          });
      }
    }
  }
  return { problems, found };
}
