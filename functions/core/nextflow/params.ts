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

export interface ParamsValidation {
  /** The user's params over the schema defaults, with the platform params set. */
  params: Record<string, unknown>;
  errors: FieldProblem[];
  warnings: string[];
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
): ParamsValidation {
  const warnings: string[] = [];
  const definitions = paramDefinitions(schema);
  const known = new Set(definitions.map((d) => d.name));

  const params: Record<string, unknown> = {};
  for (const { name, schema: property } of definitions) {
    if (property.default !== undefined && property.default !== null) params[name] = property.default;
  }
  for (const [name, value] of Object.entries(userParams)) {
    if ((PLATFORM_PARAMS as readonly string[]).includes(name)) {
      warnings.push(
        `Ignored param "${name}": Arc Reactor sets it to ${platform[name as 'input' | 'outdir']}.`,
      );
      continue;
    }
    if (!known.has(name) && !NF_SCHEMA_IGNORED_PARAMS.includes(name)) {
      // A typo'd name is a param the pipeline never reads: its intended one keeps its default.
      const near = closest(
        name,
        [...known].filter((k) => !(PLATFORM_PARAMS as readonly string[]).includes(k)),
      );
      const guess =
        near && distance(name.toLowerCase(), near.toLowerCase()) <= Math.max(2, Math.floor(near.length / 4))
          ? ` Did you mean "${near}"? Without it, ${near} keeps its default.`
          : '';
      warnings.push(
        `Unrecognised param "${name}": it is not in the pipeline schema and is passed to Nextflow as is.${guess}`,
      );
    }
    params[name] = value;
  }
  Object.assign(params, platform);

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
  return { params, errors, warnings };
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
