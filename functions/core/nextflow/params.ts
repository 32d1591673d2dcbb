import { closest, distance } from 'fastest-levenshtein';
import type { FieldProblem } from '../shared/errors';
import { compileSchema, type JsonSchema, schemaProblems } from '../shared/json-schema';
import { HELP_PARAMS, PLATFORM_PARAMS } from './param-names';

/**
 * Params nf-schema never reports as unrecognised: its own `nf_test_output`, and the nf-core
 * template's `validation.defaultIgnoreParams` (`genomes`, the iGenomes map the config defines).
 */
export const NF_SCHEMA_IGNORED_PARAMS: readonly string[] = ['nf_test_output', 'genomes'];

export { PLATFORM_PARAMS } from './param-names';

export interface ParamDefinition {
  name: string;
  group: string | null;
  schema: JsonSchema;
}

function groupsOf(schema: JsonSchema): Record<string, JsonSchema> {
  const groups = (schema.$defs ?? schema.definitions ?? {}) as Record<string, JsonSchema>;
  return groups;
}

/** Every param a nextflow_schema.json defines: top-level properties and those of each group. */
export function paramDefinitions(schema: JsonSchema): ParamDefinition[] {
  const definitions: ParamDefinition[] = [];
  for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)) {
    definitions.push({ name, group: null, schema: property });
  }
  for (const [group, groupSchema] of Object.entries(groupsOf(schema))) {
    for (const [name, property] of Object.entries(
      (groupSchema.properties ?? {}) as Record<string, JsonSchema>,
    )) {
      definitions.push({ name, group, schema: property });
    }
  }
  return definitions;
}

/** A warning about one param's value, shown next to its field (its text is in `warnings` too). */
export interface ParamWarning {
  param: string;
  message: string;
}

/** Lists of values a pipeline's config knows, beyond what its schema says. */
export interface KnownValues {
  /** The genome keys its iGenomes config defines. */
  genomes?: readonly string[] | null;
}

/** How strictly the user's params are taken. */
export interface ParamsPolicy {
  /**
   * An unknown param that looks like a typo of a known one (a close match) is refused unless
   * this is true: launched as written, the known param would silently keep its default. Unknown
   * params with no close match are passed on with a warning either way.
   */
  allowUnknown?: boolean;
  /** The names the user gave in this request (a recovery's overrides); default every user param. */
  newNames?: readonly string[];
}

export interface ParamsValidation {
  /** The user's params over the schema defaults, with the platform params set. */
  params: Record<string, unknown>;
  errors: FieldProblem[];
  warnings: string[];
  /** The warnings that belong to one param: unknown names, values outside known lists. */
  paramWarnings: ParamWarning[];
}

/** The closest of `candidates` when it is near enough to be a likely typo of `name`. */
function likelyMeant(name: string, candidates: readonly string[]): string | null {
  if (candidates.length === 0) return null;
  const sameButCase = candidates.find((c) => c.toLowerCase() === name.toLowerCase());
  if (sameButCase) return sameButCase;
  const near = closest(name, candidates as string[]);
  return near && distance(name.toLowerCase(), near.toLowerCase()) <= Math.max(2, Math.floor(near.length / 4))
    ? near
    : null;
}

/**
 * A `genome` the pipeline's iGenomes config does not define: nf-core pipelines stop at start
 * ("The provided genome '…' is not available in the iGenomes file"), whatever fasta and gtf
 * say, unless igenomes_ignore is set.
 */
function genomeProblem(params: Record<string, unknown>, genomes: readonly string[]): string | null {
  const genome = params.genome;
  if (typeof genome !== 'string' || genome === '' || params.igenomes_ignore === true) return null;
  if (genomes.includes(genome)) return null;
  const meant = likelyMeant(genome, genomes);
  return `genome "${genome}" is not a reference the pipeline's iGenomes config defines${
    meant ? `: did you mean "${meant}"?` : '.'
  } The pipeline would stop at start: pick a listed genome, or leave genome empty and give your own fasta and gtf.`;
}

const given = (value: unknown) => value !== undefined && value !== null && value !== '' && value !== false;

/**
 * A pipeline whose schema has both `genome` and `fasta` (nf-core's reference params) cannot run
 * without a reference: an iGenomes genome, a fasta, or a prebuilt index (a param named `*_index`).
 */
function referenceProblem(params: Record<string, unknown>, names: Set<string>): string | null {
  if (!names.has('genome') || !names.has('fasta')) return null;
  if (given(params.genome) || given(params.fasta)) return null;
  if (Object.entries(params).some(([name, value]) => name.endsWith('_index') && given(value))) return null;
  return 'no reference is given: set genome to a genome the pipeline knows (e.g. GRCh38), or give your own fasta and gtf (or a prebuilt index such as star_index). The pipeline cannot start without one.';
}

/**
 * A param's default: its own, else the first a branch gives (`anyOf`, `oneOf`, `allOf`, as some
 * pipelines write a param that takes a number or a word). The schema mirrors the pipeline's
 * nextflow.config, which sets it: a required param with a default there is not missing.
 */
export function defaultOf(schema: JsonSchema, depth = 0): unknown {
  if (schema.default !== undefined && schema.default !== null) return schema.default;
  if (depth >= 4) return undefined;
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
    const branches = (schema as Record<string, unknown>)[key];
    if (!Array.isArray(branches)) continue;
    for (const branch of branches) {
      if (!branch || typeof branch !== 'object') continue;
      const found = defaultOf(branch as JsonSchema, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * Validates params as nf-schema does: defaults applied, the pipeline's JSON Schema enforced,
 * unknown params reported as warnings (they still reach Nextflow). `platform` supplies
 * `input` and `outdir`, which the platform owns; a user value for them is replaced, with a warning.
 */
export function validateParams(
  schema: JsonSchema,
  userParams: Record<string, unknown>,
  platform: Record<(typeof PLATFORM_PARAMS)[number], string>,
  known: KnownValues = {},
  policy: ParamsPolicy = {},
): ParamsValidation {
  const refused: FieldProblem[] = [];
  const warnings: string[] = [];
  const paramWarnings: ParamWarning[] = [];
  const warn = (param: string, message: string) => {
    warnings.push(message);
    paramWarnings.push({ param, message });
  };
  const definitions = paramDefinitions(schema);
  const names = new Set(definitions.map((d) => d.name));

  const params: Record<string, unknown> = {};
  for (const { name, schema: property } of definitions) {
    const given = defaultOf(property);
    if (given !== undefined) params[name] = given;
  }
  for (const [name, value] of Object.entries(userParams)) {
    if ((PLATFORM_PARAMS as readonly string[]).includes(name)) {
      warnings.push(
        `Ignored param "${name}": Arc Reactor sets it to ${platform[name as 'input' | 'outdir']}.`,
      );
      continue;
    }
    if (!names.has(name) && !NF_SCHEMA_IGNORED_PARAMS.includes(name)) {
      // A typo'd name is a param the pipeline never reads: its intended one keeps its default.
      const near = likelyMeant(
        name,
        [...names].filter((k) => !(PLATFORM_PARAMS as readonly string[]).includes(k)),
      );
      const guess = near ? ` Did you mean "${near}"? Without it, ${near} keeps its default.` : '';
      const isNew = policy.newNames === undefined || policy.newNames.includes(name);
      if (near && isNew && !policy.allowUnknown) {
        refused.push({
          field: `params.${name}`,
          rule: 'unknown_param',
          message: `Unrecognised param "${name}": it is not in the pipeline schema.${guess} Fix the name, or launch with "allow_unknown_params": true to pass it to Nextflow as written.`,
        });
      } else {
        warn(
          name,
          `Unrecognised param "${name}": it is not in the pipeline schema and is passed to Nextflow as is.${guess}`,
        );
      }
    }
    params[name] = value;
  }
  Object.assign(params, platform);
  if (known.genomes && names.has('genome')) {
    const message = genomeProblem(params, known.genomes);
    if (message) refused.push({ field: 'params.genome', rule: 'known_genome', message });
  }
  const reference = referenceProblem(params, names);
  if (reference) refused.push({ field: 'params.genome', rule: 'reference_required', message: reference });

  const validate = compileSchema(schema);
  const errors: FieldProblem[] = validate(params)
    ? []
    : schemaProblems(validate.errors).map((p) => ({
        field: p.property === null ? 'params' : `params.${p.property}`,
        rule: p.rule,
        message: p.property === null ? p.message : `${p.property}: ${p.message}`,
      }));
  for (const name of HELP_PARAMS) {
    const value = userParams[name];
    if (value === undefined || value === null || value === false || value === '') continue;
    errors.push({
      field: `params.${name}`,
      rule: 'not_for_launch',
      message: `${name}: makes the pipeline print its help and exit without running anything; remove it (each parameter's help is in the launch form and in GET /api/pipelines/{name}/schema).`,
    });
  }
  errors.push(...refused);
  return { params, errors, warnings, paramWarnings };
}

/** What an nf-schema path format names: a file, a directory, or either. */
export type PathKind = 'file' | 'directory' | 'path';

const PATH_FORMATS: Record<string, PathKind> = {
  'file-path': 'file',
  'directory-path': 'directory',
  path: 'path',
};

/** A param or samplesheet column that nf-schema checks exists (`exists: true` on a path format). */
export interface ExistsField {
  name: string;
  kind: PathKind;
}

/** The properties nf-schema checks exist before the pipeline starts, and what each must be. */
export function existsFields(properties: Record<string, JsonSchema>): ExistsField[] {
  const fields: ExistsField[] = [];
  for (const [name, property] of Object.entries(properties)) {
    const kind = PATH_FORMATS[String(property.format)];
    if (property.exists === true && kind) fields.push({ name, kind });
  }
  return fields;
}

/** The params of a nextflow_schema.json that must exist, less the ones the platform sets itself. */
export function paramsThatMustExist(schema: JsonSchema): ExistsField[] {
  const properties = Object.fromEntries(
    paramDefinitions(schema)
      .filter((d) => !(PLATFORM_PARAMS as readonly string[]).includes(d.name))
      .map((d) => [d.name, d.schema]),
  );
  return existsFields(properties);
}
