/**
 * .github/workflows/ checked with GitHub's own workflow parser (@actions/workflow-parser, which
 * validates against GitHub's published workflow schema, workflow-v1.0.json), then for what they
 * must do: CI runs .ci/run on every pull request; a v* tag deploys through Workload Identity
 * Federation, never a key file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const DIR = join(process.cwd(), '.github', 'workflows');
const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const read = (file: string) => readFileSync(join(DIR, file), 'utf8');

interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, { steps: { uses?: string; run?: string; with?: Record<string, string> }[] }>;
}

describe('the GitHub Actions workflows', () => {
  it.each(files)('%s is a valid workflow by GitHub’s schema', (file) => {
    const result = parseWorkflow({ name: file, content: read(file) }, new NoOperationTraceWriter());
    expect(result.context.errors.getErrors().map((e) => e.message)).toEqual([]);
    expect(result.value).toBeDefined();
  });

  it('runs .ci/run on every pull request and push to main, reading nothing else', () => {
    const ci = parse(read('ci.yml')) as Workflow;
    expect(Object.keys(ci.on)).toEqual(['pull_request', 'push']);
    expect(ci.permissions).toEqual({ contents: 'read' });
    const runs = Object.values(ci.jobs).flatMap((j) => j.steps.map((s) => s.run ?? ''));
    expect(runs).toContain('bash .ci/run');
  });

  it('deploys a v* tag with a short-lived token from Workload Identity Federation, and no key file', () => {
    const deploy = parse(read('deploy.yml')) as Workflow;
    expect(deploy.on).toEqual({ push: { tags: ['v*'] } });
    expect(deploy.permissions['id-token']).toBe('write');
    const steps = Object.values(deploy.jobs).flatMap((j) => j.steps);
    const auth = steps.find((s) => s.uses?.startsWith('google-github-actions/auth@'));
    expect(Object.keys(auth?.with ?? {}).sort()).toEqual(['service_account', 'workload_identity_provider']);
    expect(read('deploy.yml')).not.toMatch(/credentials_json|GOOGLE_APPLICATION_CREDENTIALS|private_key/);
    expect(steps.at(-1)?.run).toMatch(/^npm run deploy -- .*--yes$/);
    // Only this repository's tags may become the deployer (infra/ci.tf).
    const ci = readFileSync(join(process.cwd(), 'infra', 'ci.tf'), 'utf8');
    expect(ci).toContain(
      `assertion.repository == \\"${'$'}{var.github_repository}\\" && assertion.ref.startsWith(\\"refs/tags/v\\")`,
    );
  });
});
