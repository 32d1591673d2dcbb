import { CsvError, parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { parse as parseYaml } from 'yaml';
import { hostProblem } from '../shared/addresses';
import type { FieldProblem } from '../shared/errors';
import { compileSchema, type JsonSchema, schemaProblems } from '../shared/json-schema';
import { type ExistsField, existsFields } from './params';
import { sampleIdColumn } from './sample-attribution';

export type SamplesheetRow = Record<string, string | number | boolean>;

export interface SamplesheetValidation {
  header: string[];
  /** The rows that passed every check. */
  rows: SamplesheetRow[];
  /**
   * Every data row's readable values by position (row n is cells[n - 1]), failing rows
   * included: their input files are checked too, so all problems are reported at once.
   */
  cells: SamplesheetRow[];
  errors: FieldProblem[];
  /** Errors beyond MAX_REPORTED_ERRORS are counted, not listed. */
  error_count: number;
  warnings: string[];
  /** The same warnings, each where it belongs (a row, a column, a cell), for the form to mark. */
  located_warnings: FieldProblem[];
  /** Distinct samples: a sample sequenced on several lanes has several rows. */
  sample_count: number;
  samples: string[];
}

export const MAX_REPORTED_ERRORS = 200;
/** Data rows a samplesheet may have: a sequencing run of several flow cells fits many times over. */
export const MAX_SAMPLESHEET_ROWS = 20_000;
/** An input Nextflow stages itself from the internet: http(s) or ftp with a host and a path. */
const REMOTE_INPUT = /^(?:https?|ftp):\/\/[^\s/?#]+\/\S+$/i;

/** Characters a cell may hold: a gs:// URI is at most 1,024 bytes of object name plus the bucket. */
export const MAX_CELL_CHARS = 2_048;
/** Columns a header may name. */
export const MAX_COLUMNS = 100;

interface ColumnSchema {
  type?: string | string[];
}

function itemSchema(inputSchema: JsonSchema): JsonSchema {
  return (inputSchema.items ?? {}) as JsonSchema;
}

/** The samplesheet columns nf-schema checks exist (`exists: true` on a path format). */
export function columnsThatMustExist(inputSchema: JsonSchema): ExistsField[] {
  return existsFields((itemSchema(inputSchema).properties ?? {}) as Record<string, JsonSchema>);
}

function columnsOf(inputSchema: JsonSchema): {
  properties: Record<string, ColumnSchema>;
  required: string[];
} {
  const items = itemSchema(inputSchema);
  return {
    properties: (items.properties ?? {}) as Record<string, ColumnSchema>,
    required: (items.required ?? []) as string[],
  };
}

const INTEGER = /^[+-]?\d+$/;
/** Cells a spreadsheet would execute (CSV injection): =, +, -, @, tab or carriage return first. */
export const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Casts a cell the way nf-schema does before validating: by the column's declared type. */
function castCell(value: string, column: ColumnSchema | undefined): string | number | boolean {
  const types = column?.type === undefined ? [] : Array.isArray(column.type) ? column.type : [column.type];
  if (types.includes('integer') && INTEGER.test(value)) return Number(value);
  if (types.includes('number') && NUMBER.test(value)) return Number(value);
  if (types.includes('boolean') && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return value;
}

/** The formats nf-schema reads a samplesheet in (it goes by the file's extension). */
export const SamplesheetFormat = ['csv', 'tsv', 'yaml', 'json'] as const;
export type SamplesheetFormat = (typeof SamplesheetFormat)[number];

/** What a samplesheet's text most likely is: JSON or YAML by their openings, TSV when its header has tabs and no commas. */
export function detectFormat(text: string): SamplesheetFormat {
  const start = text.replace(/^\uFEFF/, '').trimStart();
  if (start.startsWith('[') || start.startsWith('{')) return 'json';
  if (start.startsWith('---') || start.startsWith('- ')) return 'yaml';
  const firstLine = start.split(/\r?\n/, 1)[0] ?? '';
  return firstLine.includes('\t') && !firstLine.includes(',') ? 'tsv' : 'csv';
}

type Cell = string | number | boolean | null;

interface Table {
  header: string[];
  /** One entry a row, the header's order; CSV/TSV cells are strings, YAML/JSON values as written. */
  records: Cell[][];
  /** 1-based source line of each row, where the format has lines. */
  lines: (number | null)[];
}

function parseDelimited(text: string, delimiter: ',' | '\t'): string[][] | FieldProblem {
  try {
    return parse(text, {
      bom: true,
      delimiter,
      skip_empty_lines: true,
      relax_column_count: true,
      relax_quotes: delimiter === '\t',
      trim: true,
    }) as string[][];
  } catch (error) {
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines;
      return {
        rule: 'csv',
        message: `The samplesheet is not valid ${delimiter === ',' ? 'CSV' : 'TSV'}${line ? ` (line ${line})` : ''}: ${error.message}`,
      };
    }
    throw error;
  }
}

/** YAML or JSON: a list of rows (maps), or of values for a header-less list schema. */
function parseStructured(text: string, format: 'yaml' | 'json'): unknown[] | FieldProblem {
  let value: unknown;
  try {
    value = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    return {
      rule: format,
      message: `The samplesheet is not valid ${format.toUpperCase()}: ${(error as Error).message}`,
    };
  }
  if (!Array.isArray(value))
    return { rule: format, message: `A ${format.toUpperCase()} samplesheet must be a list of rows.` };
  return value;
}

function tableOf(text: string, format: SamplesheetFormat): Table | FieldProblem {
  if (format === 'csv' || format === 'tsv') {
    const records = parseDelimited(text, format === 'csv' ? ',' : '\t');
    if (!Array.isArray(records)) return records;
    const [header = [], ...rows] = records;
    return { header, records: rows, lines: rows.map(() => null) };
  }
  const list = parseStructured(text, format);
  if (!Array.isArray(list)) return list;
  const header: string[] = [];
  for (const row of list) {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) continue;
    for (const key of Object.keys(row)) if (!header.includes(key)) header.push(key);
  }
  const records = list.map((row) =>
    row !== null && typeof row === 'object' && !Array.isArray(row)
      ? header.map((key) => {
          const value = (row as Record<string, unknown>)[key];
          return value === undefined || value === null || typeof value === 'object' ? null : (value as Cell);
        })
      : [],
  );
  return { header, records, lines: list.map(() => null) };
}

/**
 * The schema each line of a header-less sheet is checked against (nf-core/fetchngs: one id a
 * line), or null for a sheet of named columns. Two ways to write it: nf-schema's plain `items`
 * (`{type: string, pattern}`), and nf-validation 1.x's one property named "" (an object whose
 * only column has no name), which fetchngs 1.12.0 uses.
 */
function listItemSchema(inputSchema: JsonSchema): JsonSchema | null {
  const items = itemSchema(inputSchema);
  const properties = items.properties as Record<string, JsonSchema> | undefined;
  if (properties === undefined) return items.type === 'object' ? null : items;
  const names = Object.keys(properties);
  return names.length === 1 && names[0] === '' ? properties['']! : null;
}

function isListSchema(inputSchema: JsonSchema): boolean {
  return listItemSchema(inputSchema) !== null;
}

function listValues(text: string, format: SamplesheetFormat): Cell[] | FieldProblem {
  if (format === 'csv' || format === 'tsv') {
    const records = parseDelimited(text, format === 'csv' ? ',' : '\t');
    if (!Array.isArray(records)) return records;
    return records.map((record) => record[0] ?? '');
  }
  const list = parseStructured(text, format);
  if (!Array.isArray(list)) return list;
  return list.map((value) => (value === null || typeof value === 'object' ? null : (value as Cell)));
}

/**
 * nf-schema's `uniqueEntries`, wherever a samplesheet schema writes it: on the array, inside
 * `items` (as sarek does), and inside `allOf`/`anyOf`/`oneOf` of either (a `$ref` to the
 * schema's own `$defs`/`definitions` followed). Each list: these columns together are unique.
 */
function uniqueEntriesOf(inputSchema: JsonSchema): string[][] {
  const found = new Map<string, string[]>();
  const resolve = (node: unknown): unknown => {
    const ref = (node as { $ref?: unknown } | null)?.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#/')) return node;
    let target: unknown = inputSchema;
    for (const part of ref.slice(2).split('/'))
      target = (target as Record<string, unknown> | undefined)?.[
        part.replaceAll('~1', '/').replaceAll('~0', '~')
      ];
    return target;
  };
  const visit = (node: unknown, depth: number) => {
    const schema = resolve(node) as Record<string, unknown> | null;
    if (!schema || typeof schema !== 'object' || depth > 6) return;
    const value = schema.uniqueEntries;
    if (Array.isArray(value) && value.length > 0 && value.every((c) => typeof c === 'string'))
      found.set(JSON.stringify(value), value as string[]);
    for (const key of ['allOf', 'anyOf', 'oneOf'])
      for (const branch of Array.isArray(schema[key]) ? (schema[key] as unknown[]) : [])
        visit(branch, depth + 1);
  };
  visit(inputSchema, 0);
  visit(itemSchema(inputSchema), 0);
  return [...found.values()];
}

interface ColumnRules {
  /** nf-validation `unique`: true (the column alone), or the columns whose group it is unique within. */
  unique?: true | string[];
  /** nf-validation `dependentRequired` on a column: when it has a value, these columns must too. */
  dependentRequired?: string[];
  /** The same under `anyOf` (sarek 3.4.4's lane): when it has a value, one of these groups must be complete. */
  dependentAnyOf?: string[][];
}

function columnRules(properties: Record<string, ColumnSchema>): Map<string, ColumnRules> {
  const rules = new Map<string, ColumnRules>();
  for (const [column, schema] of Object.entries(properties)) {
    const raw = schema as { unique?: unknown; dependentRequired?: unknown; anyOf?: unknown };
    const rule: ColumnRules = {};
    if (raw.unique === true) rule.unique = true;
    else if (Array.isArray(raw.unique)) rule.unique = raw.unique.map(String);
    if (Array.isArray(raw.dependentRequired)) rule.dependentRequired = raw.dependentRequired.map(String);
    const alternatives = Array.isArray(raw.anyOf)
      ? raw.anyOf.flatMap((option: { dependentRequired?: unknown }) =>
          Array.isArray(option?.dependentRequired) ? [option.dependentRequired.map(String)] : [],
        )
      : [];
    if (alternatives.length > 0) rule.dependentAnyOf = alternatives;
    if (rule.unique || rule.dependentRequired || rule.dependentAnyOf) rules.set(column, rule);
  }
  return rules;
}

const describeEntries = (columns: string[], values: SamplesheetRow) =>
  `[${columns.map((c) => `${c}:${values[c] ?? ''}`).join(', ')}]`;

/**
 * Parses a samplesheet (CSV, TSV, YAML or JSON: `format`, or detected) and validates every row
 * against the pipeline's schema_input.json as nf-schema does: every problem at once, each
 * naming its 1-based data row (the header is row 0) and column; `uniqueEntries`, nf-validation's
 * `unique` and `dependentRequired` over the whole sheet; a row's extra empty trailing cells
 * ignored (spreadsheet exports add them); a header-less list schema read one value a line.
 */
export function validateSamplesheet(
  text: string,
  inputSchema: JsonSchema,
  format: SamplesheetFormat = detectFormat(text),
): SamplesheetValidation {
  const result: SamplesheetValidation = {
    header: [],
    rows: [],
    cells: [],
    errors: [],
    error_count: 0,
    warnings: [],
    located_warnings: [],
    sample_count: 0,
    samples: [],
  };
  const located = result.located_warnings;
  /** A warning that belongs to a row (or a cell): said in words, and where for the form. */
  const warn = (warning: { row: number; column?: string; message: string }) => {
    result.warnings.push(warning.message);
    located.push({ ...warning, rule: 'warning' });
  };
  const report = (problem: FieldProblem) => {
    result.error_count += 1;
    if (result.errors.length < MAX_REPORTED_ERRORS) result.errors.push(problem);
  };
  const tooLong = (cell: Cell) => typeof cell === 'string' && cell.length > MAX_CELL_CHARS;
  const longCell = (row: number, column: string | undefined, cell: string): FieldProblem => ({
    row,
    ...(column === undefined ? {} : { column }),
    rule: 'maxLength',
    message: `Row ${row}${column ? `, column ${column}` : ''}: the cell has ${cell.length.toLocaleString('en-US')} characters; at most ${MAX_CELL_CHARS.toLocaleString('en-US')} are accepted.`,
  });
  const tooManyRows = (count: number) =>
    report({
      rule: 'rows',
      message: `The samplesheet has ${count.toLocaleString('en-US')} rows; at most ${MAX_SAMPLESHEET_ROWS.toLocaleString('en-US')} are accepted. Split the samples over several runs.`,
    });

  if (isListSchema(inputSchema))
    return validateList(text, inputSchema, format, result, report, tooLong, longCell, tooManyRows);

  const table = tableOf(text, format);
  if (!('records' in table)) {
    report(table);
    return result;
  }
  const { header, records } = table;
  const { properties, required } = columnsOf(inputSchema);
  const expected = Object.keys(properties);
  if (header.length === 0 || header.every((cell) => cell === '')) {
    report({
      rule: 'header',
      message: `The samplesheet is empty: it needs a header row (${expected.join(',')}).`,
    });
    return result;
  }
  // Trailing empty header cells (a spreadsheet's trailing commas) are not columns.
  while (header.length > 1 && header.at(-1) === '') header.pop();
  result.header = header;
  if (header.length > MAX_COLUMNS) {
    report({
      row: 0,
      rule: 'columns',
      message: `The header has ${header.length} columns; at most ${MAX_COLUMNS} are accepted. Remove the columns the pipeline does not read.`,
    });
    return result;
  }
  if (records.length > MAX_SAMPLESHEET_ROWS) {
    tooManyRows(records.length);
    return result;
  }
  if (header.some(tooLong)) {
    header.forEach((cell, i) => {
      if (tooLong(cell)) report(longCell(0, `#${i + 1}`, cell));
    });
    return result;
  }

  if (!header.some((cell) => Object.hasOwn(properties, cell))) {
    const optional = expected.filter((c) => !required.includes(c));
    const wanted = [
      required.length > 0 ? `${required.join(', ')} ${required.length === 1 ? 'is' : 'are'} required` : '',
      optional.length > 0
        ? `${required.length > 0 ? 'also allowed' : 'allowed'}: ${optional.join(', ')}`
        : '',
    ]
      .filter(Boolean)
      .join('; ');
    report({
      row: 0,
      rule: 'header',
      message: `The first line must be a header naming the columns${wanted ? ` (${wanted})` : ''}. Found: ${header.join(',') || 'an empty line'}.`,
    });
    return result;
  }
  const seen = new Set<string>();
  for (const cell of header.filter((c) => FORMULA_START.test(c))) {
    report({
      row: 0,
      column: cell,
      rule: 'formula',
      message: `Header column "${cell}" starts with a character spreadsheets run as a formula; rename it.`,
    });
  }
  for (const cell of header) {
    if (seen.has(cell))
      report({
        row: 0,
        column: cell,
        rule: 'header',
        message: `Column "${cell}" appears twice in the header.`,
      });
    seen.add(cell);
  }
  // A missing required column is reported once, here; the rows' other problems still are.
  const missing = required.filter((column) => !header.includes(column));
  for (const column of missing) {
    report({
      row: 0,
      column,
      rule: 'required',
      message: `The header has no "${column}" column; required columns are ${required.join(', ')}.`,
    });
  }
  const unknown = header.filter((cell) => cell !== '' && !Object.hasOwn(properties, cell));
  if (unknown.length > 0) {
    // Not "ignored": a pipeline may read a column its schema does not declare (contrast
    // variables, say); what is known is that nf-schema does not check it.
    result.warnings.push(
      `Columns not in the pipeline's samplesheet schema (nothing checks them here; the pipeline may or may not read them): ${unknown.join(', ')}.`,
    );
    for (const column of unknown)
      located.push({
        row: 0,
        column,
        rule: 'warning',
        message: `Column ${column} is not in the pipeline's samplesheet schema.`,
      });
  }

  if (records.length === 0) {
    report({ rule: 'rows', message: 'The samplesheet has a header but no samples.' });
    return result;
  }

  const validateRow = compileSchema(itemSchema(inputSchema), inputSchema);
  const fileColumns = columnsThatMustExist(inputSchema).map((c) => c.name);
  const rules = columnRules(properties);
  const uniqueEntries = uniqueEntriesOf(inputSchema);
  const idColumn = sampleIdColumn(inputSchema);
  const samples = new Set<string>();
  const fingerprints = new Map<string, number>();
  const entries = uniqueEntries.map(() => new Map<string, number>());
  const uniques = new Map<string, number>();
  records.forEach((raw, index) => {
    const row = index + 1;
    result.cells.push({});
    // Extra cells past the header are fine when empty (trailing commas), an error otherwise.
    let record = raw;
    if (record.length > header.length) {
      if (record.slice(header.length).every((cell) => cell === '' || cell === null)) {
        record = record.slice(0, header.length);
      } else {
        report({
          row,
          rule: 'columns',
          message: `Row ${row} has ${record.length} cells but the header has ${header.length} columns.`,
        });
        return;
      }
    }
    const long = record.flatMap((cell, i) =>
      tooLong(cell) ? [longCell(row, header[i], cell as string)] : [],
    );
    if (long.length > 0) {
      long.forEach(report);
      return;
    }
    const values: SamplesheetRow = {};
    header.forEach((column, i) => {
      const cell = record[i] ?? '';
      if (cell === '' || cell === null || !Object.hasOwn(properties, column)) return;
      values[column] = typeof cell === 'string' ? castCell(cell, properties[column]) : cell;
    });
    result.cells[index] = values;
    const formulas = header.filter(
      (column) => typeof values[column] === 'string' && FORMULA_START.test(values[column]),
    );
    for (const column of formulas) {
      report({
        row,
        column,
        rule: 'formula',
        message: `Row ${row}, column ${column}: starts with "${String(values[column]).charAt(0)}", which spreadsheets run as a formula; rename it.`,
      });
    }
    if (formulas.length > 0) return;
    let valid = true;
    // What cannot be right is refused, not warned about: the pipeline would read one file twice,
    // or be told to expect no cells.
    if (typeof values.fastq_1 === 'string' && values.fastq_1 !== '' && values.fastq_1 === values.fastq_2) {
      valid = false;
      report({
        row,
        column: 'fastq_2',
        rule: 'distinct_reads',
        message: `Row ${row}, column fastq_2: it is the same file as fastq_1; read 2 must be the other read of the pair.`,
      });
    }
    if (typeof values.expected_cells === 'number' && values.expected_cells <= 0) {
      valid = false;
      report({
        row,
        column: 'expected_cells',
        rule: 'positive',
        message: `Row ${row}, column expected_cells: ${values.expected_cells} is not a number of cells; write how many cells you expect, or leave it empty to let the pipeline estimate it.`,
      });
    }
    const flagged = new Set<string>();
    if (!validateRow(values)) {
      for (const problem of schemaProblems(validateRow.errors)) {
        const column = problem.property ?? undefined;
        // Said once for the whole sheet, at the header.
        if (problem.rule === 'required' && column !== undefined && missing.includes(column)) continue;
        valid = false;
        if (column !== undefined) flagged.add(column);
        report({
          row,
          ...(column === undefined ? {} : { column }),
          rule: problem.rule,
          message: `Row ${row}${column ? `, column ${column}` : ''}: ${problem.message}`,
        });
      }
    }
    // Input files in Cloud Storage are checked before launch. Nextflow itself stages
    // http(s):// and ftp:// inputs into the work directory when a task needs them (nf-core's
    // own sheets point at ENA and GitHub this way): accepted, with a warning that nobody looks
    // before launch (the functions never fetch a user's URL: that would be request forgery).
    // A local path exists on nobody's machine but the user's, and s3:// needs AWS credentials
    // the platform does not hold: the run would fail later, so they are refused now.
    for (const column of fileColumns) {
      const value = values[column];
      if (typeof value !== 'string' || value.startsWith('gs://') || flagged.has(column)) continue;
      const remote = REMOTE_INPUT.test(value) ? new URL(value) : null;
      const inside = remote ? hostProblem(remote) : null;
      if (remote && inside) {
        // The task's VM would fetch it from inside Google's network: the metadata server,
        // or a neighbour, is not an input.
        valid = false;
        report({
          row,
          column,
          rule: 'public_address',
          message: `Row ${row}, column ${column}: ${inside}; an input must be in Cloud Storage (gs://) or on the public internet.`,
        });
        continue;
      }
      if (remote) {
        warn({
          row,
          column,
          message: `Row ${row}, column ${column}: ${value.slice(0, 200)} is fetched by Nextflow when a task needs it; it is not checked before launch, so a wrong address fails the run then.`,
        });
        continue;
      }
      valid = false;
      report({
        row,
        column,
        rule: 'gs_path',
        message: value.startsWith('s3://')
          ? `Row ${row}, column ${column}: "${value.slice(0, 200)}" is in Amazon S3, which this platform holds no credentials for; copy it to Cloud Storage (gs://) or give its https:// address.`
          : `Row ${row}, column ${column}: "${value.slice(0, 200)}" must be a gs://, https:// or ftp:// address; the pipeline runs on Google Batch, which cannot read a path on your machine.`,
      });
    }
    for (const [column, rule] of rules) {
      if (values[column] === undefined) continue;
      for (const needed of rule.dependentRequired ?? []) {
        if (values[needed] !== undefined) continue;
        valid = false;
        report({
          row,
          column: needed,
          rule: 'dependentRequired',
          message: `Row ${row}, column ${needed}: a value is required when ${column} is set.`,
        });
      }
      if (
        rule.dependentAnyOf &&
        !rule.dependentAnyOf.some((group) => group.every((c) => values[c] !== undefined))
      ) {
        valid = false;
        report({
          row,
          column,
          rule: 'dependentRequired',
          message: `Row ${row}, column ${column}: it needs one of ${rule.dependentAnyOf.map((g) => g.join(' and ')).join(', or ')} as well.`,
        });
      }
      if (rule.unique) {
        const group = rule.unique === true ? [] : rule.unique;
        const key = JSON.stringify([column, values[column], ...group.map((c) => values[c] ?? '')]);
        const first = uniques.get(key);
        if (first !== undefined) {
          valid = false;
          report({
            row,
            column,
            rule: 'unique',
            message: `Row ${row}, column ${column}: "${String(values[column])}" appears in row ${first} too${group.length > 0 ? ` for the same ${group.join(' and ')}` : ''}; it must be unique.`,
          });
        } else uniques.set(key, row);
      }
    }
    uniqueEntries.forEach((group, index) => {
      // As nf-schema: an empty cell is no entry (null), and a row with none of the group's
      // columns filled is not compared at all.
      const present = group.filter((c) => values[c] !== undefined && values[c] !== null && values[c] !== '');
      if (present.length === 0) return;
      const key = JSON.stringify(present.map((c) => `${c}:${String(values[c])}`));
      const seen = entries[index]!;
      const first = seen.get(key);
      if (first !== undefined) {
        valid = false;
        report({
          row,
          rule: 'uniqueEntries',
          message: `Row ${row}: Detected duplicate entries: ${describeEntries(present, values)} (the same as row ${first}).`,
        });
      } else seen.set(key, row);
    });
    if (!valid) return;
    const fingerprint = JSON.stringify(header.map((column) => values[column] ?? ''));
    const previous = fingerprints.get(fingerprint);
    if (previous !== undefined) warn({ row, message: `Row ${row} repeats row ${previous} exactly.` });
    else fingerprints.set(fingerprint, row);
    if (idColumn !== null && values[idColumn] !== undefined) samples.add(String(values[idColumn]));
    result.rows.push(values);
  });
  result.samples = [...samples];
  result.sample_count = samples.size || result.rows.length;
  return result;
}

/** A header-less list sheet: each line (or list item) one value, checked against `items`. */
function validateList(
  text: string,
  inputSchema: JsonSchema,
  format: SamplesheetFormat,
  result: SamplesheetValidation,
  report: (problem: FieldProblem) => void,
  tooLong: (cell: Cell) => boolean,
  longCell: (row: number, column: string | undefined, cell: string) => FieldProblem,
  tooManyRows: (count: number) => void,
): SamplesheetValidation {
  const values = listValues(text, format);
  if (!Array.isArray(values)) {
    report(values);
    return result;
  }
  if (values.length === 0) {
    report({ rule: 'rows', message: 'The samplesheet lists nothing: write one entry a line.' });
    return result;
  }
  if (values.length > MAX_SAMPLESHEET_ROWS) {
    tooManyRows(values.length);
    return result;
  }
  const validate = compileSchema(listItemSchema(inputSchema)!, inputSchema);
  const seen = new Map<string, number>();
  values.forEach((value, index) => {
    const row = index + 1;
    if (tooLong(value)) {
      report(longCell(row, undefined, value as string));
      return;
    }
    if (!validate(value)) {
      for (const problem of schemaProblems(validate.errors))
        report({ row, rule: problem.rule, message: `Row ${row}: ${problem.message}` });
      return;
    }
    const first = seen.get(String(value));
    if (first !== undefined) {
      const message = `Row ${row} repeats row ${first} exactly.`;
      result.warnings.push(message);
      result.located_warnings.push({ row, rule: 'warning', message });
    } else seen.set(String(value), row);
    result.rows.push({ value: value as string | number | boolean });
    result.samples.push(String(value));
  });
  result.sample_count = result.rows.length;
  return result;
}

/**
 * A cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP's advice for
 * CSV injection). Every CSV the platform writes goes through this, even of validated data.
 */
export function neutraliseFormula(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}

/**
 * A samplesheet in another format (TSV, YAML, JSON) as the CSV the pipeline reads, the header
 * first (a header-less list: one value a line). A CSV is returned as given.
 */
export function samplesheetToCsv(text: string, format: SamplesheetFormat = detectFormat(text)): string {
  if (format === 'csv') return text;
  const cell = (value: Cell) => neutraliseFormula(value === null ? '' : String(value));
  if (format !== 'tsv') {
    const list = parseStructured(text, format);
    if (Array.isArray(list) && list.every((v) => v === null || typeof v !== 'object'))
      return stringify(
        list.map((v) => [cell(v as Cell)]),
        { record_delimiter: 'unix' },
      );
  }
  const table = tableOf(text, format);
  if (!('records' in table)) return text;
  return stringify([table.header.map(cell), ...table.records.map((record) => record.map(cell))], {
    record_delimiter: 'unix',
  });
}

/** How a samplesheet the platform stored (CSV) is read back: blank lines and stray spaces dropped. */
const STORED_SHEET = { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true } as const;

/**
 * The samplesheet the pipeline reads: parsed and written back by a CSV library, so quoting
 * is uniform, blank lines and stray spaces are gone, and every cell is kept.
 */
export function renderSamplesheet(csv: string): string {
  const records = parse(csv, STORED_SHEET) as string[][];
  return stringify(
    records.map((record) => record.map(neutraliseFormula)),
    { record_delimiter: 'unix' },
  );
}

/**
 * A stored samplesheet (CSV, as the platform keeps it) read back by sample: each sample id's
 * rows in order, read from `idColumn` (sample-attribution.ts `sampleIdColumn`), or, for a
 * header-less list (`idColumn` null), each line its own sample.
 */
export function rowsBySample(csv: string, idColumn: string | null): Map<string, Record<string, string>[]> {
  const bySample = new Map<string, Record<string, string>[]>();
  const add = (id: string, row: Record<string, string>) => {
    if (id === '') return;
    const rows = bySample.get(id) ?? [];
    rows.push(row);
    bySample.set(id, rows);
  };
  const options = STORED_SHEET;
  if (idColumn === null) {
    for (const [value] of parse(csv, options) as string[][]) add(value ?? '', { value: value ?? '' });
    return bySample;
  }
  for (const row of parse(csv, { ...options, columns: true }) as Record<string, string>[])
    add(row[idColumn] ?? '', row);
  return bySample;
}

/**
 * The stored samplesheet with only the rows of `keep` (in their order), the header kept: the
 * samplesheet of a recovery of some samples. Cells are written back formula-neutralised.
 */
export function samplesheetOfSamples(
  csv: string,
  idColumn: string | null,
  keep: ReadonlySet<string>,
): string {
  const records = parse(csv, STORED_SHEET) as string[][];
  const header = idColumn === null ? [] : records.slice(0, 1);
  const column = idColumn === null ? 0 : (header[0] ?? []).indexOf(idColumn);
  const kept = records.slice(header.length).filter((row) => keep.has(row[column] ?? ''));
  return stringify(
    [...header, ...kept].map((record) => record.map(neutraliseFormula)),
    { record_delimiter: 'unix' },
  );
}
