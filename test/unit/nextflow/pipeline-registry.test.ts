import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../../functions/core/nextflow/pipelines/catalog';
import {
  getPipelineVersion,
  listPipelines,
  loadPipelines,
} from '../../../functions/core/nextflow/pipelines/registry';
import { PIPELINES_DIR, renderCatalog, writeCatalog } from '../../../scripts/pipelines-catalog';

const temp = mkdtempSync(join(tmpdir(), 'arc-pipelines-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('the pipeline registry (a folder a pipeline)', () => {
  it('lists nf-core/scrnaseq, nf-core/rnaseq and nf-core/sarek, each with its own schemas', () => {
    expect(listPipelines().map((p) => p.name)).toEqual([
      'nf-core/rnaseq',
      'nf-core/sarek',
      'nf-core/scrnaseq',
    ]);
    const { pipeline, release } = getPipelineVersion('nf-core/rnaseq');
    expect(release.version).toBe('3.24.0');
    expect(Object.keys((release.inputSchema.items as { properties: object }).properties)).toContain(
      'strandedness',
    );
    expect(release.protocols).toBeNull();
    expect(pipeline.samplesheetFromBenchling.strandedness).toEqual({ value: 'auto' });
    expect(getPipelineVersion('nf-core/scrnaseq', '2.7.1').release.protocols).not.toBeNull();
    // The genome keys of scrnaseq's iGenomes config; rnaseq ships no list, so its genome is not judged.
    expect(getPipelineVersion('nf-core/scrnaseq').release.igenomes).toHaveLength(39);
    expect(release.igenomes).toBeNull();
  });

  it('has a catalog.ts that is current with the folders (npm run pipelines writes it)', () => {
    expect(readFileSync(join(PIPELINES_DIR, 'catalog.ts'), 'utf8')).toBe(renderCatalog());
  });

  it('stops at a broken folder, naming the file', () => {
    const dir = join(temp, 'pipelines');
    cpSync(PIPELINES_DIR, dir, { recursive: true });
    rmSync(join(dir, 'nf-core-rnaseq', '3.24.0', 'nextflow_schema.json'));
    expect(() => renderCatalog(dir)).toThrow('nf-core-rnaseq/3.24.0/nextflow_schema.json is missing');
    writeFileSync(join(dir, 'nf-core-rnaseq', 'pipeline.json'), '{ "name": ');
    expect(() => renderCatalog(dir)).toThrow(/nf-core-rnaseq\/pipeline\.json is not valid JSON/);

    const rnaseq = CATALOG.find((e) => e.folder === 'nf-core-rnaseq')!;
    const withoutInput = {
      ...rnaseq,
      versions: [
        {
          version: '3.24.0',
          files: { 'nextflow_schema.json': rnaseq.versions[0]!.files['nextflow_schema.json'] },
        },
      ],
    };
    expect(() => loadPipelines([withoutInput])).toThrow(
      "nf-core-rnaseq/3.24.0/schema_input.json is missing: the input param's schema points at it.",
    );
    const badManifest = { ...rnaseq, manifest: { ...(rnaseq.manifest as object), repository: 'not a url' } };
    expect(() => loadPipelines([badManifest])).toThrow(/^nf-core-rnaseq\/pipeline\.json: repository/);
    const badGenomes = {
      ...rnaseq,
      versions: [
        { ...rnaseq.versions[0]!, files: { ...rnaseq.versions[0]!.files, 'igenomes.json': ['GRCh38'] } },
      ],
    };
    expect(() => loadPipelines([badGenomes])).toThrow(/^nf-core-rnaseq\/3\.24\.0\/igenomes\.json: must be/);
  });

  it('is checked when the build writes it (the functions read it only on first use)', async () => {
    const dir = join(temp, 'checked');
    cpSync(PIPELINES_DIR, dir, { recursive: true });
    // A manifest renderCatalog can read but the registry refuses.
    const manifest = join(dir, 'nf-core-rnaseq', 'pipeline.json');
    writeFileSync(
      manifest,
      JSON.stringify({ ...JSON.parse(readFileSync(manifest, 'utf8')), repository: 'not a url' }),
    );
    await expect(writeCatalog(dir)).rejects.toThrow(/^nf-core-rnaseq\/pipeline\.json: repository/);
  });
});
