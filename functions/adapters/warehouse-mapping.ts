import { z } from 'zod';

/**
 * Every table and column name the warehouse queries use, in one place. The defaults are the
 * demo warehouse's (a Benchling warehouse's shape: one table per registry schema, system
 * columns suffixed `$`, links stored as entity ids). A tenant whose schemas are named
 * differently sets WAREHOUSE_MAPPING to a JSON object with only what differs, e.g.
 * `{"schema":"acme","ngs_sample":{"table":"sc_library","fastq_1":"read_1_uri"}}`.
 * Names come from configuration, never from a request, and are still validated and quoted.
 */
export const DEFAULT_WAREHOUSE_MAPPING = {
  /** The PostgreSQL schema holding the tables (a Benchling tenant's warehouse schema). */
  schema: 'public',
  project: { table: 'project', id: 'id', name: 'name$', archived: 'archived$' },
  instrument: {
    table: 'instrument',
    id: 'id',
    name: 'name$',
    archived: 'archived$',
    model: 'model',
    location: 'location',
  },
  ngs_run: {
    table: 'ngs_run',
    id: 'id',
    name: 'name$',
    archived: 'archived$',
    created_at: 'created_at$',
    modified_at: 'modified_at$',
    /** Link to project (its id). */
    project: 'project',
    /** Link to instrument (its id). */
    instrument: 'instrument',
    run_date: 'run_date',
    flowcell_id: 'flowcell_id',
  },
  ngs_sample: {
    table: 'ngs_sample',
    id: 'id',
    name: 'name$',
    archived: 'archived$',
    /** Link to ngs_run (its id). */
    ngs_run: 'ngs_run',
    fastq_1: 'fastq_r1',
    fastq_2: 'fastq_r2',
    expected_cells: 'expected_cells',
    sample_type: 'sample_type',
    feature_type: 'feature_type',
  },
};

export type WarehouseMapping = typeof DEFAULT_WAREHOUSE_MAPPING;

const Identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, 'must be a PostgreSQL identifier (letters, digits, _ and $)');

function tableSchema<T extends Record<string, string>>(defaults: T) {
  return z
    .strictObject(Object.fromEntries(Object.keys(defaults).map((key) => [key, Identifier.optional()])))
    .optional();
}

const MappingOverride = z.strictObject({
  schema: Identifier.optional(),
  project: tableSchema(DEFAULT_WAREHOUSE_MAPPING.project),
  instrument: tableSchema(DEFAULT_WAREHOUSE_MAPPING.instrument),
  ngs_run: tableSchema(DEFAULT_WAREHOUSE_MAPPING.ngs_run),
  ngs_sample: tableSchema(DEFAULT_WAREHOUSE_MAPPING.ngs_sample),
});

/** The mapping WAREHOUSE_MAPPING describes (JSON, only the names that differ); throws naming the bad key. */
export function parseWarehouseMapping(json: string | undefined): WarehouseMapping {
  if (!json) return DEFAULT_WAREHOUSE_MAPPING;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('WAREHOUSE_MAPPING must be a JSON object such as {"ngs_sample":{"fastq_1":"read_1"}}');
  }
  const parsed = MappingOverride.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`WAREHOUSE_MAPPING.${issue.path.join('.')} ${issue.message}`);
  }
  const o = parsed.data;
  const merge = <T extends Record<string, string>>(
    defaults: T,
    override?: Record<string, string | undefined>,
  ) => ({ ...defaults, ...Object.fromEntries(Object.entries(override ?? {}).filter(([, v]) => v)) }) as T;
  return {
    schema: o.schema ?? DEFAULT_WAREHOUSE_MAPPING.schema,
    project: merge(DEFAULT_WAREHOUSE_MAPPING.project, o.project),
    instrument: merge(DEFAULT_WAREHOUSE_MAPPING.instrument, o.instrument),
    ngs_run: merge(DEFAULT_WAREHOUSE_MAPPING.ngs_run, o.ngs_run),
    ngs_sample: merge(DEFAULT_WAREHOUSE_MAPPING.ngs_sample, o.ngs_sample),
  };
}
