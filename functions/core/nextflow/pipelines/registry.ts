import { NotFoundError } from '../../shared/errors';
import type { JsonSchema } from '../../shared/json-schema';
import scrnaseq271Schema from './nf-core-scrnaseq/2.7.1/nextflow_schema.json' with { type: 'json' };
import scrnaseq271Protocols from './nf-core-scrnaseq/2.7.1/protocols.json' with { type: 'json' };
import scrnaseq271Input from './nf-core-scrnaseq/2.7.1/schema_input.json' with { type: 'json' };
import scrnaseq300Schema from './nf-core-scrnaseq/3.0.0/nextflow_schema.json' with { type: 'json' };
import scrnaseq300Protocols from './nf-core-scrnaseq/3.0.0/protocols.json' with { type: 'json' };
import scrnaseq300Input from './nf-core-scrnaseq/3.0.0/schema_input.json' with { type: 'json' };
import scrnaseq400Schema from './nf-core-scrnaseq/4.0.0/nextflow_schema.json' with { type: 'json' };
import scrnaseq400Protocols from './nf-core-scrnaseq/4.0.0/protocols.json' with { type: 'json' };
import scrnaseq400Input from './nf-core-scrnaseq/4.0.0/schema_input.json' with { type: 'json' };

export interface PipelineVersion {
  version: string;
  /** The pipeline's own nextflow_schema.json, verbatim. */
  nextflowSchema: JsonSchema;
  /** assets/schema_input.json: the samplesheet schema. */
  inputSchema: JsonSchema;
  /** assets/protocols.json: aligner protocol names, for the form's hints. */
  protocols: JsonSchema;
}

export interface Pipeline {
  name: string;
  title: string;
  description: string;
  repository: string;
  defaultVersion: string;
  versions: PipelineVersion[];
}

const PIPELINES: Pipeline[] = [
  {
    name: 'nf-core/scrnaseq',
    title: 'nf-core/scrnaseq',
    description:
      'Single-cell RNA-seq: alignment and quantification of 10x Genomics and other droplet protocols ' +
      '(simpleaf, STARsolo, kallisto|bustools, Cell Ranger), with QC and count matrices.',
    repository: 'https://github.com/nf-core/scrnaseq',
    defaultVersion: '4.0.0',
    versions: [
      {
        version: '2.7.1',
        nextflowSchema: scrnaseq271Schema,
        inputSchema: scrnaseq271Input,
        protocols: scrnaseq271Protocols,
      },
      {
        version: '3.0.0',
        nextflowSchema: scrnaseq300Schema,
        inputSchema: scrnaseq300Input,
        protocols: scrnaseq300Protocols,
      },
      {
        version: '4.0.0',
        nextflowSchema: scrnaseq400Schema,
        inputSchema: scrnaseq400Input,
        protocols: scrnaseq400Protocols,
      },
    ],
  },
];

export function listPipelines(): readonly Pipeline[] {
  return PIPELINES;
}

/** Finds a pipeline by name, case-insensitively; the error lists the known names. */
export function getPipeline(name: string): Pipeline {
  const wanted = name.trim().toLowerCase();
  const pipeline = PIPELINES.find((p) => p.name.toLowerCase() === wanted);
  if (!pipeline) {
    throw new NotFoundError(
      `Unknown pipeline "${name}". Known pipelines: ${PIPELINES.map((p) => p.name).join(', ')}.`,
      { known_pipelines: PIPELINES.map((p) => p.name) },
    );
  }
  return pipeline;
}

/** A version of a pipeline (its default when none is given); the error lists the known versions. */
export function getPipelineVersion(
  name: string,
  version?: string,
): { pipeline: Pipeline; release: PipelineVersion } {
  const pipeline = getPipeline(name);
  const wanted = version ?? pipeline.defaultVersion;
  const release = pipeline.versions.find((v) => v.version === wanted);
  if (!release) {
    const known = pipeline.versions.map((v) => v.version);
    throw new NotFoundError(
      `Unknown version "${wanted}" of ${pipeline.name}. Known versions: ${known.join(', ')} (default ${pipeline.defaultVersion}).`,
      { known_versions: known, default_version: pipeline.defaultVersion },
    );
  }
  return { pipeline, release };
}
