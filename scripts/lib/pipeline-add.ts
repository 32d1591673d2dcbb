/**
 * `npm run pipelines -- add nf-core/<name> <version>`: fetches a release's own files from
 * GitHub's raw file host (its tag), writes the pipeline's folder with their origin, and refuses
 * what the registry would refuse. The files are staged in a copy of the pipelines folder and the
 * catalog is built and loaded there first, so a refused pipeline leaves nothing behind.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ColumnSource } from '../../functions/core/nextflow/pipelines/registry';
import { inputSchemaPointer } from '../../functions/core/nextflow/pipelines/registry';
import { writeCatalog } from '../pipelines-catalog';

export const DEFAULT_SOURCE = 'https://raw.githubusercontent.com';
const MAX_FILE_BYTES = 5 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

export class AddPipelineError extends Error {}

export interface AddPipelineOptions {
  /** owner/name, e.g. nf-core/sarek. */
  name: string;
  /** A release tag, e.g. 3.10.0. */
  version: string;
  /** The raw file host: https://raw.githubusercontent.com, or a local twin on loopback. */
  source?: string;
  /** The pipelines folder (functions/core/nextflow/pipelines). */
  dir: string;
  today?: Date;
}

export interface AddPipelineResult {
  folder: string;
  version: string;
  /** True when the pipeline is new; false when a version was added to one already there. */
  created: boolean;
  /** The files written into the version's folder. */
  files: string[];
  /** manifest.nextflowVersion of the tag's nextflow.config, verbatim (e.g. "!>=24.04.2"), or null. */
  nextflowVersion: string | null;
  samplesheetFromBenchling: Record<string, ColumnSource>;
}

const NAME = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;
const RELEASE = /^\d+\.\d+\.\d+$/;

/** The source must be https, or http on loopback (the local twin); never anything else. */
function checkSource(source: string): URL {
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new AddPipelineError(`PIPELINES_SOURCE_URL "${source}" is not a URL.`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw new AddPipelineError(
      `PIPELINES_SOURCE_URL must be https:// (or http:// on loopback for a local twin), got ${url.protocol}//${url.host}.`,
    );
  return url;
}

async function fetchFile(base: URL, name: string, version: string, path: string): Promise<string | null> {
  const url = `${base.href.replace(/\/$/, '')}/${name}/${version}/${path}`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error' });
  } catch (error) {
    throw new AddPipelineError(
      `Could not fetch ${path} of ${name} ${version} from ${base.host}: ${(error as Error).message}. Check the network and try again.`,
    );
  }
  if (response.status === 404) return null;
  if (!response.ok)
    throw new AddPipelineError(
      `${base.host} answered ${response.status} for ${path} of ${name} ${version}; try again later.`,
    );
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_FILE_BYTES)
    throw new AddPipelineError(
      `${path} of ${name} ${version} is over ${MAX_FILE_BYTES / 1024 / 1024} MB; refused.`,
    );
  const body = Buffer.from(await response.arrayBuffer());
  if (body.length > MAX_FILE_BYTES)
    throw new AddPipelineError(
      `${path} of ${name} ${version} is over ${MAX_FILE_BYTES / 1024 / 1024} MB; refused.`,
    );
  return body.toString('utf8');
}

function parseJson(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AddPipelineError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new AddPipelineError(`${what} is not a JSON object.`);
  return value as Record<string, unknown>;
}

/** The `manifest { … }` block of a nextflow.config: its simple `key = 'value'` settings. */
export function readManifest(config: string): Record<string, string> {
  const start = /(^|\n)\s*manifest\s*\{/.exec(config);
  if (!start) return {};
  let depth = 0;
  let end = config.length;
  for (let i = start.index + start[0].length - 1; i < config.length; i++) {
    if (config[i] === '{') depth++;
    else if (config[i] === '}' && --depth === 0) {
      end = i;
      break;
    }
  }
  const block = config.slice(start.index + start[0].length, end);
  const settings: Record<string, string> = {};
  for (const match of block.matchAll(/^\s*(\w+)\s*=\s*(?:"{3}([\s\S]*?)"{3}|'([^'\n]*)'|"([^"\n]*)")/gm)) {
    settings[match[1]!] = (match[2] ?? match[3] ?? match[4] ?? '').trim();
  }
  return settings;
}

/** Benchling sample fields for the samplesheet columns whose names say what they hold. */
function benchlingColumns(inputSchema: Record<string, unknown>): Record<string, ColumnSource> {
  const items = inputSchema.items as { properties?: Record<string, unknown> } | undefined;
  const columns = Object.keys(items?.properties ?? {});
  const map: Record<string, ColumnSource> = {};
  let named = false;
  for (const column of columns) {
    if (!named && ['sample', 'sample_id', 'sampleID', 'id'].includes(column)) {
      map[column] = { field: 'name' };
      named = true;
    } else if (column === 'fastq_1' || column === 'fastq_2' || column === 'expected_cells')
      map[column] = { field: column };
  }
  return map;
}

export async function addPipeline(options: AddPipelineOptions): Promise<AddPipelineResult> {
  const { name, version, dir } = options;
  if (!NAME.test(name)) throw new AddPipelineError(`"${name}" is not owner/name, e.g. nf-core/sarek.`);
  if (!RELEASE.test(version))
    throw new AddPipelineError(
      `"${version}" is not a release tag such as 3.10.0: pin a release, not a branch (dev, master) or a commit.`,
    );
  const base = checkSource(options.source ?? DEFAULT_SOURCE);
  const folder = name.replace('/', '-');
  const pipelineDir = join(dir, folder);
  const manifestFile = join(pipelineDir, 'pipeline.json');
  const created = !existsSync(manifestFile);
  const existing = created
    ? null
    : (JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown> & { versions: string[] });
  if (existing?.versions.includes(version))
    throw new AddPipelineError(`${name} ${version} is already in ${folder}/pipeline.json; nothing to add.`);

  const schemaText = await fetchFile(base, name, version, 'nextflow_schema.json');
  if (schemaText === null)
    throw new AddPipelineError(
      `${name} has no nextflow_schema.json at tag ${version} (404 from ${base.host}): check the name, that ${version} is one of its releases, and that it is an nf-core-style pipeline with a schema.`,
    );
  const schema = parseJson(schemaText, `nextflow_schema.json of ${name} ${version}`);
  const pointer = inputSchemaPointer(schema);
  if (!/^[\w./-]+\.json$/.test(pointer) || pointer.split('/').includes('..'))
    throw new AddPipelineError(`The input param's schema "${pointer}" is not a path inside the repository.`);
  const inputText = await fetchFile(base, name, version, pointer);
  if (inputText === null)
    throw new AddPipelineError(
      `${name} ${version}: the input param's schema points at ${pointer}, which is not at the tag (404).`,
    );
  const inputSchema = parseJson(inputText, `${pointer} of ${name} ${version}`);
  const config = await fetchFile(base, name, version, 'nextflow.config');
  if (config === null)
    throw new AddPipelineError(
      `${name} has no nextflow.config at tag ${version} (404); it is not a Nextflow pipeline release.`,
    );
  const manifest = readManifest(config);
  if (manifest.version && manifest.version.replace(/^v/, '') !== version)
    throw new AddPipelineError(
      `The nextflow.config at tag ${version} says version ${manifest.version}: the tag and the release disagree, so it is refused.`,
    );
  const licence = await fetchFile(base, name, version, 'LICENSE');
  const nextflowVersion = manifest.nextflowVersion ?? null;
  const inputFile = pointer.slice(pointer.lastIndexOf('/') + 1);

  const samplesheetFromBenchling = created
    ? benchlingColumns(inputSchema)
    : ((existing!.samplesheet_from_benchling ?? {}) as Record<string, ColumnSource>);
  const nextManifest = created
    ? {
        name,
        title: name,
        description: String(manifest.description ?? schema.description ?? '').trim(),
        repository: `https://github.com/${name}`,
        default_version: version,
        versions: [version],
        ...(nextflowVersion ? { nextflow_versions: { [version]: nextflowVersion } } : {}),
        samplesheet_from_benchling: samplesheetFromBenchling,
      }
    : {
        ...existing!,
        versions: [...existing!.versions, version],
        ...(nextflowVersion
          ? {
              nextflow_versions: {
                ...((existing!.nextflow_versions as Record<string, string> | undefined) ?? {}),
                [version]: nextflowVersion,
              },
            }
          : {}),
      };
  const day = (options.today ?? new Date()).toISOString().slice(0, 10);
  const originLine = `- ${version}: fetched on ${day} by \`npm run pipelines -- add ${name} ${version}\` from ${base.host}/${name}/${version}/: \`nextflow_schema.json\`, \`${pointer}\` (as \`${inputFile}\`)${nextflowVersion ? `; the Nextflow it needs, \`${nextflowVersion}\`, is manifest.nextflowVersion of its \`nextflow.config\`` : '; its `nextflow.config` declares no nextflowVersion'}.`;
  const licenceText = licence
    ? `The pipeline's LICENSE at that tag, verbatim:\n\n${licence
        .trim()
        .split('\n')
        .map((line) => `> ${line}`.trimEnd())
        .join('\n')}\n`
    : 'The repository had no LICENSE file at that tag: check its licence before using these files.\n';

  const write = (root: string) => {
    const target = join(root, folder);
    mkdirSync(join(target, version), { recursive: true });
    writeFileSync(join(target, version, 'nextflow_schema.json'), schemaText);
    writeFileSync(join(target, version, inputFile), inputText);
    writeFileSync(join(target, 'pipeline.json'), `${JSON.stringify(nextManifest, null, 2)}\n`);
    const origin = join(target, 'ORIGIN.md');
    if (created)
      writeFileSync(
        origin,
        `# Origin of these files\n\nFrom [${name}](https://github.com/${name}), each version's own files verbatim. \`pipeline.json\` is ours: the manifest the platform reads (see \`../README.md\`); check its \`samplesheet_from_benchling\`.\n\n${originLine}\n\n${licenceText}`,
      );
    else writeFileSync(origin, `${readFileSync(origin, 'utf8').trimEnd()}\n\n${originLine}\n`);
  };

  // Stage in a copy first: the registry loads the new catalog there, or nothing is written.
  const stage = mkdtempSync(join(tmpdir(), 'arc-pipeline-add-'));
  try {
    cpSync(dir, stage, { recursive: true });
    write(stage);
    try {
      await writeCatalog(stage);
    } catch (error) {
      throw new AddPipelineError(`The registry refuses ${name} ${version}: ${(error as Error).message}`);
    }
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  write(dir);
  await writeCatalog(dir);
  return {
    folder,
    version,
    created,
    files: ['nextflow_schema.json', inputFile],
    nextflowVersion,
    samplesheetFromBenchling,
  };
}
