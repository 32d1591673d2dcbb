/**
 * `npm run pipelines -- add`: fetches a release's own files from a local twin of GitHub's raw
 * file host and writes a folder the registry loads. The schemas served are nf-core/sarek's real
 * files (test/fixtures/nf-core-pipelines/sarek, see SOURCES.md); the nextflow.config and
 * LICENSE served are written here, with the shape of a release's, because the fixtures hold
 * neither.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogEntry } from '../../../functions/core/nextflow/pipelines/catalog';
import { loadPipelines } from '../../../functions/core/nextflow/pipelines/registry';
import { validateSamplesheet } from '../../../functions/core/nextflow/samplesheet';
import { addPipeline, readManifest } from '../../../scripts/lib/pipeline-add';
import { type GithubRaw, startGithubRaw } from '../../../scripts/local/github-raw';
import { PIPELINES_DIR, readCatalog, renderCatalog } from '../../../scripts/pipelines-catalog';

const temp = mkdtempSync(join(tmpdir(), 'arc-pipeline-add-test-'));
const raw = join(temp, 'raw');
const fixtures = 'test/fixtures/nf-core-pipelines/sarek';
let twin: GithubRaw;

const config = (version: string, nextflow = '!>=24.04.2') => `params {
  input = null
}

manifest {
    name            = 'nf-core/sarek'
    description     = """An open-source analysis pipeline to detect germline or somatic variants"""
    mainScript      = 'main.nf'
    nextflowVersion = '${nextflow}'
    version         = '${version}'
}
`;

/** Serves a release: the fixture's schemas at their repository paths, plus a config and a licence. */
function serve(version: string, options: { configVersion?: string; schema?: string; from?: string } = {}) {
  const dir = join(raw, 'nf-core', 'sarek', version);
  const from = options.from ?? version;
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(
    join(dir, 'nextflow_schema.json'),
    options.schema ?? readFileSync(join(fixtures, from, 'nextflow_schema.json')),
  );
  cpSync(join(fixtures, from, 'schema_input.json'), join(dir, 'assets', 'schema_input.json'));
  writeFileSync(join(dir, 'nextflow.config'), config(options.configVersion ?? version));
  writeFileSync(join(dir, 'LICENSE'), 'MIT License\n\nCopyright (c) The nf-core/sarek team\n');
}

/** The shipped pipelines folder without sarek (which ships), as it was before sarek was added. */
function pipelinesCopy(name: string): string {
  const dir = join(temp, name);
  cpSync(PIPELINES_DIR, dir, { recursive: true });
  rmSync(join(dir, 'nf-core-sarek'), { recursive: true });
  writeFileSync(join(dir, 'catalog.ts'), renderCatalog(dir));
  return dir;
}

/** The registry as the functions would load it from the folder's catalog. */
function catalogOf(dir: string): CatalogEntry[] {
  expect(readFileSync(join(dir, 'catalog.ts'), 'utf8')).toBe(renderCatalog(dir));
  return readCatalog(dir);
}

beforeAll(async () => {
  twin = await startGithubRaw(raw);
});
afterAll(async () => {
  await twin.close();
  rmSync(temp, { recursive: true, force: true });
});

describe('npm run pipelines -- add', () => {
  it('writes a folder the registry loads: the files verbatim, the manifest, the origin and the Nextflow it needs', async () => {
    serve('3.10.0');
    const dir = pipelinesCopy('added');
    const result = await addPipeline({
      name: 'nf-core/sarek',
      version: '3.10.0',
      source: twin.url,
      dir,
      today: new Date('2026-12-07T12:00:00Z'),
    });
    expect(result).toMatchObject({
      folder: 'nf-core-sarek',
      created: true,
      files: ['nextflow_schema.json', 'schema_input.json'],
      nextflowVersion: '!>=24.04.2',
      samplesheetFromBenchling: {
        sample: { field: 'name' },
        fastq_1: { field: 'fastq_1' },
        fastq_2: { field: 'fastq_2' },
      },
    });
    for (const [file, from] of [
      ['nextflow_schema.json', 'nextflow_schema.json'],
      ['schema_input.json', 'schema_input.json'],
    ])
      expect(readFileSync(join(dir, 'nf-core-sarek', '3.10.0', file!), 'utf8')).toBe(
        readFileSync(join(fixtures, '3.10.0', from!), 'utf8'),
      );
    const origin = readFileSync(join(dir, 'nf-core-sarek', 'ORIGIN.md'), 'utf8');
    expect(origin).toContain('3.10.0: fetched on 2026-12-07');
    expect(origin).toContain('> Copyright (c) The nf-core/sarek team');

    const pipelines = loadPipelines(catalogOf(dir));
    const sarek = pipelines.find((p) => p.name === 'nf-core/sarek')!;
    expect(sarek.description).toBe('An open-source analysis pipeline to detect germline or somatic variants');
    expect(sarek.versions[0]).toMatchObject({ version: '3.10.0', nextflowVersion: '!>=24.04.2' });
    // The pipeline's own test samplesheet validates against the added schema.
    const sheet = validateSamplesheet(
      readFileSync('test/fixtures/nf-core-pipelines/sarek/3.10.0/fastq_pair.csv', 'utf8'),
      sarek.versions[0]!.inputSchema,
    );
    expect(sheet.errors).toEqual([]);
    // The scrnaseq and rnaseq folders are untouched.
    expect(pipelines.map((p) => p.name)).toEqual(['nf-core/rnaseq', 'nf-core/sarek', 'nf-core/scrnaseq']);

    // A second release joins the same folder; the first stays the default.
    serve('3.4.4');
    const second = await addPipeline({ name: 'nf-core/sarek', version: '3.4.4', source: twin.url, dir });
    expect(second.created).toBe(false);
    const manifest = JSON.parse(readFileSync(join(dir, 'nf-core-sarek', 'pipeline.json'), 'utf8'));
    expect(manifest).toMatchObject({
      default_version: '3.10.0',
      versions: ['3.10.0', '3.4.4'],
      nextflow_versions: { '3.10.0': '!>=24.04.2', '3.4.4': '!>=24.04.2' },
    });
    expect(readFileSync(join(dir, 'nf-core-sarek', 'ORIGIN.md'), 'utf8').match(/fetched on/g)).toHaveLength(
      2,
    );
    expect(loadPipelines(catalogOf(dir)).find((p) => p.name === 'nf-core/sarek')!.versions).toHaveLength(2);
    await expect(
      addPipeline({ name: 'nf-core/sarek', version: '3.4.4', source: twin.url, dir }),
    ).rejects.toThrow('nf-core/sarek 3.4.4 is already in nf-core-sarek/pipeline.json');
  });

  it.each([
    ['a branch instead of a release', 'nf-core/sarek', 'dev', 'is not a release tag such as 3.10.0'],
    ['a name that is not owner/name', '../sarek', '3.10.0', 'is not owner/name'],
    [
      'a release the repository does not have',
      'nf-core/sarek',
      '9.9.9',
      'has no nextflow_schema.json at tag 9.9.9 (404',
    ],
  ])('refuses %s, writing nothing', async (_what, name, version, message) => {
    const dir = pipelinesCopy(`refused-${version}`);
    const before = twin.requests.length;
    await expect(addPipeline({ name, version, source: twin.url, dir })).rejects.toThrow(message);
    expect(existsSync(join(dir, 'nf-core-sarek'))).toBe(false);
    if (version === 'dev' || name.startsWith('..')) expect(twin.requests.length).toBe(before);
  });

  it('refuses a release whose nextflow.config names another version, or whose schema is not JSON', async () => {
    serve('3.10.1', { configVersion: '3.10.0', from: '3.10.0' });
    const dir = pipelinesCopy('mismatch');
    await expect(
      addPipeline({ name: 'nf-core/sarek', version: '3.10.1', source: twin.url, dir }),
    ).rejects.toThrow('The nextflow.config at tag 3.10.1 says version 3.10.0');
    serve('3.10.2', { schema: '{ "title": ', from: '3.10.0' });
    await expect(
      addPipeline({ name: 'nf-core/sarek', version: '3.10.2', source: twin.url, dir }),
    ).rejects.toThrow('nextflow_schema.json of nf-core/sarek 3.10.2 is not valid JSON');
    expect(existsSync(join(dir, 'nf-core-sarek'))).toBe(false);
    expect(readFileSync(join(dir, 'catalog.ts'), 'utf8')).not.toContain('sarek');
  });

  it('refuses a source that is neither https nor loopback', async () => {
    await expect(
      addPipeline({
        name: 'nf-core/sarek',
        version: '3.10.0',
        source: 'http://example.com',
        dir: pipelinesCopy('src'),
      }),
    ).rejects.toThrow('PIPELINES_SOURCE_URL must be https://');
  });

  it('reads the manifest block of a nextflow.config, not the params before it', () => {
    expect(readManifest(config('1.2.3', '>=23.04.0'))).toMatchObject({
      name: 'nf-core/sarek',
      nextflowVersion: '>=23.04.0',
      version: '1.2.3',
    });
    expect(readManifest('params { version = "x" }')).toEqual({});
  });

  it('exits 2 with the usage, and 1 with the reason, from the command line', () => {
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'scripts/pipelines.ts', ...args], {
        encoding: 'utf8',
        env: { ...process.env, PIPELINES_SOURCE_URL: twin.url },
      });
    const usage = cli('add', 'nf-core/sarek');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('npm run pipelines -- add <owner/name> <version>');
    const refused = cli('add', 'nf-core/sarek', 'dev');
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim()).toBe(
      '"dev" is not a release tag such as 3.10.0: pin a release, not a branch (dev, master) or a commit.',
    );
  });
});
