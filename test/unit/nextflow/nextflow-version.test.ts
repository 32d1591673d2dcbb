/**
 * A release's manifest.nextflowVersion against the Nextflow the orchestrator image runs. The
 * launch test gives nf-core/sarek 3.10.0 a requirement through the catalog module: the shipped
 * folder records none (its nextflow.config was not reachable), so the catalog is the seam.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import {
  checkNextflowRequirement,
  ORCHESTRATOR_NEXTFLOW,
} from '../../../functions/core/nextflow/nextflow-version';

vi.mock('../../../functions/core/nextflow/pipelines/catalog', async (original) => {
  const actual = (await original()) as typeof import('../../../functions/core/nextflow/pipelines/catalog');
  return {
    CATALOG: actual.CATALOG.map((entry) =>
      entry.folder === 'nf-core-sarek'
        ? {
            ...entry,
            manifest: { ...(entry.manifest as object), nextflow_versions: { '3.10.0': '!>=25.04.0' } },
          }
        : entry.folder === 'nf-core-rnaseq'
          ? {
              ...entry,
              manifest: { ...(entry.manifest as object), nextflow_versions: { '3.24.0': '>=25.04.0' } },
            }
          : entry,
    ),
  };
});

const { validateCreateRequest } = await import('../../../functions/core/runs/run-service');

describe('the Nextflow a release needs', () => {
  it('is the Nextflow orchestrator/Dockerfile pins', () => {
    expect(readFileSync('orchestrator/Dockerfile', 'utf8')).toMatch(
      new RegExp(`^FROM nextflow/nextflow:${ORCHESTRATOR_NEXTFLOW.replaceAll('.', '\\.')}\\s*$`, 'm'),
    );
  });

  it.each([
    ['!>=24.04.2', true, true],
    ['>=23.04.0', false, true],
    ['!>=24.10.0', true, false],
    ['>=25.04.0', false, false],
    ['24.04.0+', false, true],
    ['!>=24.04.0, <25', true, true],
    ['!>=23.10.0, <24.04.0', true, false],
    ['=24.04.4', false, true],
    ['<24.04.4', false, false],
    ['latest please', false, null],
  ])('reads %s (strict %s) as satisfied by 24.04.4: %s', (requirement, strict, satisfied) => {
    expect(checkNextflowRequirement(requirement, '24.04.4')).toMatchObject({ strict, satisfied });
  });

  it('refuses a launch whose release strictly needs a newer Nextflow, naming both versions', () => {
    const body = {
      pipeline: 'nf-core/sarek',
      pipeline_version: '3.10.0',
      samplesheet_csv: 'patient,sample,lane,fastq_1,fastq_2\nP1,S1,L1,gs://b/a_1.fq.gz,gs://b/a_2.fq.gz\n',
      params: {},
    };
    let problems: { field: string; message: string }[] = [];
    try {
      validateCreateRequest(body, 'bucket', 'run-000000000001');
    } catch (error) {
      problems = (error as { problems: { field: string; message: string }[] }).problems;
    }
    expect(problems).toContainEqual(
      expect.objectContaining({
        field: 'pipeline_version',
        message: expect.stringContaining(
          'nf-core/sarek 3.10.0: Needs Nextflow >=25.04.0 (manifest.nextflowVersion "!>=25.04.0"), but the orchestrator image runs Nextflow 24.04.4',
        ),
      }),
    );
  });

  it('launches with a warning when the requirement is not strict', () => {
    const validated = validateCreateRequest(
      {
        pipeline: 'nf-core/rnaseq',
        samplesheet_csv: 'sample,fastq_1,fastq_2,strandedness\nS1,gs://b/a_1.fq.gz,gs://b/a_2.fq.gz,auto\n',
        params: { genome: 'GRCh38' },
      },
      'bucket',
      'run-000000000002',
    );
    expect(validated.warnings).toContainEqual(
      expect.stringContaining('nf-core/rnaseq 3.24.0: Asks for Nextflow >=25.04.0'),
    );
  });
});
