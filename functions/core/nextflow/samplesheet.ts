import { CsvError, parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { FieldProblem } from '../shared/errors';
import { compileSchema, type JsonSchema, schemaProblems } from '../shared/json-schema';

export type SamplesheetRow = Record<string, string | number | boolean>;

export interface SamplesheetValidation {
  header: string[];
  rows: SamplesheetRow[];
  errors: FieldProblem[];
  /** Errors beyond MAX_REPORTED_ERRORS are counted, not listed. */
  error_count: number;
  warnings: string[];
  /** Distinct samples: a sample sequenced on several lanes has several rows. */
  sample_count: number;
  samples: string[];
}

export const MAX_REPORTED_ERRORS = 200;
/** Data rows a samplesheet may have: a sequencing run of several flow cells fits many times over. */
export const MAX_SAMPLESHEET_ROWS = 20_000;
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

function parseRecords(csv: string): { records: string[][]; lines: number[] } | FieldProblem {
  try {
    const lines: number[] = [];
    const records = parse(csv, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
      on_record: (record: string[], context) => {
        lines.push(context.lines);
        return record;
      },
    });
    return { records, lines };
  } catch (error) {
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines;
      return {
        rule: 'csv',
        message: `The samplesheet is not valid CSV${line ? ` (line ${line})` : ''}: ${error.message}`,
      };
    }
    throw error;
  }
}

/**
 * Parses a samplesheet with a real CSV parser and validates every row against the pipeline's
 * schema_input.json. Every problem names the 1-based data row (the header is row 0) and the column.
 */
export function validateSamplesheet(csv: string, inputSchema: JsonSchema): SamplesheetValidation {
  const result: SamplesheetValidation = {
    header: [],
    rows: [],
    errors: [],
    error_count: 0,
    warnings: [],
    sample_count: 0,
    samples: [],
  };
  const report = (problem: FieldProblem) => {
    result.error_count += 1;
    if (result.errors.length < MAX_REPORTED_ERRORS) result.errors.push(problem);
  };

  const parsed = parseRecords(csv);
  if (!('records' in parsed)) {
    report(parsed);
    return result;
  }
  const [header, ...records] = parsed.records;
  const { properties, required } = columnsOf(inputSchema);
  const expected = Object.keys(properties);
  if (!header || header.every((cell) => cell === '')) {
    report({
      rule: 'header',
      message: `The samplesheet is empty: it needs a header row (${expected.join(',')}).`,
    });
    return result;
  }
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
    report({
      rule: 'rows',
      message: `The samplesheet has ${records.length.toLocaleString('en-US')} rows; at most ${MAX_SAMPLESHEET_ROWS.toLocaleString('en-US')} are accepted. Split the samples over several runs.`,
    });
    return result;
  }
  const tooLong = (cell: string) => cell.length > MAX_CELL_CHARS;
  const longCell = (row: number, column: string | undefined, cell: string): FieldProblem => ({
    row,
    ...(column === undefined ? {} : { column }),
    rule: 'maxLength',
    message: `Row ${row}${column ? `, column ${column}` : ''}: the cell has ${cell.length.toLocaleString('en-US')} characters; at most ${MAX_CELL_CHARS.toLocaleString('en-US')} are accepted.`,
  });
  if (header.some(tooLong)) {
    header.forEach((cell, i) => {
      if (tooLong(cell)) report(longCell(0, `#${i + 1}`, cell));
    });
    return result;
  }

  if (!header.some((cell) => Object.hasOwn(properties, cell))) {
    report({
      row: 0,
      rule: 'header',
      message:
        `The first line must be a header naming the columns (${required.join(',')} are required; ` +
        `also allowed: ${expected.filter((c) => !required.includes(c)).join(', ')}). Found: ${header.join(',')}`,
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
    result.warnings.push(`Unrecognised columns are ignored by the pipeline: ${unknown.join(', ')}.`);
  }
  if (missing.length > 0) return result;

  if (records.length === 0) {
    report({ rule: 'rows', message: 'The samplesheet has a header but no samples.' });
    return result;
  }

  const validateRow = compileSchema(itemSchema(inputSchema), inputSchema);
  const samples = new Set<string>();
  const fingerprints = new Map<string, number>();
  records.forEach((record, index) => {
    const row = index + 1;
    const line = parsed.lines[index + 1];
    if (record.length > header.length) {
      report({
        row,
        rule: 'columns',
        message: `Row ${row} (line ${line}) has ${record.length} cells but the header has ${header.length} columns.`,
      });
      return;
    }
    const long = record.flatMap((cell, i) => (tooLong(cell) ? [longCell(row, header[i], cell)] : []));
    if (long.length > 0) {
      long.forEach(report);
      return;
    }
    const values: SamplesheetRow = {};
    header.forEach((column, i) => {
      const cell = record[i] ?? '';
      if (cell !== '' && Object.hasOwn(properties, column))
        values[column] = castCell(cell, properties[column]);
    });
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
    if (!validateRow(values)) {
      for (const problem of schemaProblems(validateRow.errors)) {
        const column = problem.property ?? undefined;
        report({
          row,
          ...(column === undefined ? {} : { column }),
          rule: problem.rule,
          message: `Row ${row}${column ? `, column ${column}` : ''}: ${problem.message}`,
        });
      }
      return;
    }
    const fingerprint = JSON.stringify(header.map((column) => values[column] ?? ''));
    const previous = fingerprints.get(fingerprint);
    if (previous !== undefined) result.warnings.push(`Row ${row} repeats row ${previous} exactly.`);
    else fingerprints.set(fingerprint, row);
    samples.add(String(values.sample));
    result.rows.push(values);
  });
  result.samples = [...samples];
  result.sample_count = samples.size;
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
 * The samplesheet the pipeline reads: parsed and written back by a CSV library, so quoting
 * is uniform, blank lines and stray spaces are gone, and every cell is kept.
 */
export function renderSamplesheet(csv: string): string {
  const records = parse(csv, {
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    trim: true,
  }) as string[][];
  return stringify(
    records.map((record) => record.map(neutraliseFormula)),
    { record_delimiter: 'unix' },
  );
}
