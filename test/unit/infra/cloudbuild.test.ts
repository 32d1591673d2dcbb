/**
 * cloudbuild.yaml (Cloud Build cannot run here): every image it pushes is built from a
 * Dockerfile that exists, after `npm run build`, tagged by commit, under the names the functions
 * run; and every file those Dockerfiles copy from dist/ is one the build makes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../../functions/config';

interface Step {
  id: string;
  name: string;
  args: string[];
  waitFor?: string[];
}
const cloudbuild = parse(readFileSync('cloudbuild.yaml', 'utf8')) as {
  steps: Step[];
  images: string[];
  substitutions: Record<string, string>;
};
/** Cloud Build substitutions are written `${NAME}`, as in the file. */
const sub = (name: string) => `\${${name}}`;
const REGISTRY = `${sub('_REGION')}-docker.pkg.dev/$PROJECT_ID/arc-reactor/`;

describe('cloudbuild.yaml', () => {
  it('pushes each image it builds, tagged by commit, into the arc-reactor repository', () => {
    const docker = cloudbuild.steps.filter((s) => s.name === 'gcr.io/cloud-builders/docker');
    const built = docker.map((s) => s.args[s.args.indexOf('-t') + 1]);
    expect(built.sort()).toEqual([...cloudbuild.images].sort());
    for (const image of built) {
      expect(image?.startsWith(REGISTRY), image).toBe(true);
      expect(image?.endsWith(`:${sub('_TAG')}`), image).toBe(true);
    }
    // A build without a tag stops at once, saying what to set.
    expect(cloudbuild.substitutions._TAG).toBe('');
    expect(cloudbuild.steps[0]!.args.join(' ')).toContain(`test -n '${sub('_TAG')}'`);
  });

  it('builds the images the functions run, by the names their config gives them', () => {
    const config = loadConfig({ GOOGLE_CLOUD_PROJECT: 'arc-test-project', GCP_REGION: 'us-central1' });
    const names = cloudbuild.images.map((i) => i.slice(REGISTRY.length, i.lastIndexOf(':')));
    const nameOf = (image: string) => image.slice(image.lastIndexOf('/') + 1, image.lastIndexOf(':'));
    expect(names).toContain(nameOf(config.orchestrator.image));
    expect(names).toContain(nameOf(config.haystack.agentImage));
  });

  it('runs npm run build before the images, and each Dockerfile copies only what the build makes', () => {
    const build = cloudbuild.steps.find((s) => s.id === 'build')!;
    expect(build.args.join(' ')).toContain('npm ci --no-audit --no-fund && npm run build');
    const orchestratorDir = inject('orchestratorDir');
    for (const step of cloudbuild.steps.filter((s) => s.name === 'gcr.io/cloud-builders/docker')) {
      expect(step.waitFor, step.id).toEqual(['build']);
      const dockerfile = step.args[step.args.indexOf('-f') + 1]!;
      expect(existsSync(dockerfile), dockerfile).toBe(true);
      const copied = [...readFileSync(dockerfile, 'utf8').matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) =>
        m[1]!.split(/\s+/),
      );
      const fromBuild = copied.filter((file) => file.startsWith('dist/orchestrator/'));
      expect(fromBuild.length, `${dockerfile} copies the bundle`).toBeGreaterThan(0);
      for (const file of fromBuild)
        expect(existsSync(join(orchestratorDir, file.slice('dist/orchestrator/'.length))), file).toBe(true);
      for (const file of copied.filter((f) => !f.startsWith('dist/')))
        expect(existsSync(file), file).toBe(true);
    }
  });
});
