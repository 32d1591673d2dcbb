import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import ajvErrors from 'ajv-errors';
import addFormats from 'ajv-formats';

/** Keywords nf-core schemas carry for nf-schema and the UI; they annotate, they don't validate. */
const NF_SCHEMA_ANNOTATIONS = ['fa_icon', 'help_text', 'hidden', 'mimetype', 'exists', 'schema', 'meta'];
/** nf-schema path formats. Whether the path exists is checked elsewhere (it needs I/O). */
const NF_SCHEMA_PATH_FORMATS = ['file-path', 'directory-path', 'path', 'file-path-pattern'];

export type JsonSchema = Record<string, unknown>;

export function isDraft2020(schema: JsonSchema): boolean {
  return typeof schema.$schema === 'string' && schema.$schema.includes('2020-12');
}

/**
 * As nf-schema does: keywords the validator does not know are annotations, never errors (real
 * schemas carry `min`, nf-validation's `unique`, `uniqueEntries` inside `items`), and a group
 * may declare `required` without `type`. The samplesheet keywords nf-schema enforces over the
 * whole sheet are applied by nextflow/samplesheet.ts.
 */
function newAjv(draft2020: boolean): Ajv {
  const options = { allErrors: true, strict: false, logger: false as const, allowUnionTypes: true };
  const ajv = draft2020 ? new Ajv2020(options) : new Ajv(options);
  addFormats(ajv);
  ajvErrors(ajv);
  for (const keyword of NF_SCHEMA_ANNOTATIONS) ajv.addKeyword({ keyword, schemaType: undefined });
  for (const format of NF_SCHEMA_PATH_FORMATS)
    ajv.addFormat(format, { type: 'string', validate: () => true });
  return ajv;
}

const compiled = new WeakMap<JsonSchema, ValidateFunction>();

/** Compiles a schema with the validator for its own `$schema` dialect (draft-07 or 2020-12), once. */
export function compileSchema(schema: JsonSchema, dialectOf: JsonSchema = schema): ValidateFunction {
  const cached = compiled.get(schema);
  if (cached) return cached;
  const { $id: _id, ...withoutId } = schema;
  const validate = newAjv(isDraft2020(dialectOf)).compile(withoutId);
  compiled.set(schema, validate);
  return validate;
}

export interface SchemaProblem {
  /** The top-level property the problem is about (a param name or a samplesheet column). */
  property: string | null;
  /** The keyword that failed: type, pattern, enum, required, … */
  rule: string;
  message: string;
}

/**
 * A pattern's rule as a sentence, for the shapes nf-core schemas use (emails, file
 * extensions, no spaces); anything else is said plainly, with the rule in brackets.
 */
export function patternInWords(pattern: string): string {
  if (pattern.includes('@')) return 'must be an email address, e.g. name@example.org';
  if (/f\(ast\)\?q|fastq|\\\.fq/.test(pattern)) return 'must be a FASTQ file name (.fastq.gz or .fq.gz)';
  if (/fn\?a\(sta\)\?|fasta/.test(pattern))
    return 'must be a FASTA file name (.fa or .fasta, optionally .gz)';
  let rest = pattern;
  let gz = '';
  const optionalGz = /\(\\\.gz\)\?\$$/;
  if (optionalGz.test(rest)) {
    rest = rest.replace(optionalGz, '$');
    gz = ' (optionally .gz)';
  }
  const extensions = /\\\.\(?([\w|]+)\)?\$$/.exec(rest);
  if (extensions) {
    const list = extensions[1]!.split('|').map((e) => `.${e}`);
    return `must be a file name ending in ${list.join(' or ')}${gz}`;
  }
  if (pattern === '^\\S+$') return 'must not contain spaces';
  return `is not in the form this field takes (the rule is ${pattern})`;
}

function describe(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return 'a value is required';
    case 'type':
      return `must be ${String(params.type)}`;
    case 'enum':
      return `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'pattern':
      return patternInWords(String(params.pattern));
    case 'format':
      return `must be a valid ${String(params.format)}`;
    default:
      return error.message ?? `fails the ${error.keyword} rule`;
  }
}

function propertyOf(error: ErrorObject): string | null {
  if (error.keyword === 'required')
    return String((error.params as { missingProperty: string }).missingProperty);
  const first = error.instancePath.split('/')[1];
  return first === undefined || first === '' ? null : first.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * Turns Ajv errors into problems that name the property and the rule. A schema's own
 * `errorMessage` (nf-schema's custom message) replaces Ajv's wording but keeps the rule.
 */
export function schemaProblems(errors: ErrorObject[] | null | undefined): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const error of errors ?? []) {
    if (error.keyword === 'errorMessage') {
      const originals = (error.params as { errors: ErrorObject[] }).errors;
      const first = originals[0];
      problems.push({
        property: first ? propertyOf(first) : propertyOf(error),
        rule: originals.map((e) => e.keyword).join(', '),
        message: error.message ?? 'is invalid',
      });
      continue;
    }
    const property = propertyOf(error);
    problems.push({ property, rule: error.keyword, message: describe(error) });
  }
  return problems;
}
