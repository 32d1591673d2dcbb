import { z } from 'zod';
import { NotFoundError, UpstreamError, ValidationError } from '../shared/errors';
import type { Clock } from '../shared/ports';

/** A Benchling project or instrument: what the filters of the NGS run search pick from. */
export type WarehouseProject = z.infer<typeof Project>;
/** `location`: where it stands (the sequencing centre); becomes the samplesheet's seq_center. */
export type WarehouseInstrument = z.infer<typeof Instrument>;

export interface WarehouseMetadata {
  projects: WarehouseProject[];
  instruments: WarehouseInstrument[];
}

/** `run_date`: the sequencing date, YYYY-MM-DD; `sample_count`: samples of the run not archived. */
export type NgsRunSummary = z.infer<typeof NgsRunSummarySchema>;
export type NgsSample = z.infer<typeof NgsSampleSchema>;

export interface NgsRunFilter {
  /** A project id or name. */
  project?: string;
  /** An instrument id or name. */
  instrument?: string;
  /** run_date on or after (YYYY-MM-DD). */
  from?: string;
  /** run_date on or before (YYYY-MM-DD). */
  to?: string;
  /** Words in the run's, its project's, its instrument's or one of its samples' names. */
  q?: string;
  offset: number;
  limit: number;
}

/** Rows a query returned; `partial` when it hit the statement timeout before the last row. */
export interface Rows<T> {
  rows: T[];
  partial: boolean;
}

/** The Benchling data warehouse (read-only PostgreSQL), or the demo warehouse locally. */
export interface SampleWarehouse {
  /** Runs that are not archived, newest run_date first. */
  listRuns(filter: NgsRunFilter): Promise<Rows<NgsRunSummary>>;
  /** The run of that exact name (not archived); null when there is none. */
  findRun(name: string): Promise<NgsRunSummary | null>;
  /** Samples of a run that are not archived, by name. */
  runSamples(runId: string): Promise<Rows<NgsSample>>;
  /** The samples of those ids that exist and are not archived. */
  samplesByIds(ids: string[]): Promise<Rows<NgsSample>>;
  metadata(): Promise<WarehouseMetadata>;
  ping(): Promise<void>;
  /** Closes its connections (tests, shutdown). */
  close(): Promise<void>;
}

/** The warehouse could not be reached (refused, timed out connecting, dropped), after retries. */
export class WarehouseUnavailableError extends Error {
  override readonly name = 'WarehouseUnavailableError';
}

const SearchText = z
  .string()
  .max(200, 'must be at most 200 characters')
  .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');
const Name = z
  .string()
  .min(1)
  .max(200, 'must be at most 200 characters')
  .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');
const Day = z.iso.date('must be a date as YYYY-MM-DD');

export const BENCHLING_MAX_PAGE_SIZE = 100;

export const BenchlingRunsQuery = z
  .strictObject({
    project: Name.optional().describe('project id or name'),
    instrument: Name.optional().describe('instrument id or name'),
    from: Day.optional().describe('runs sequenced on or after this day (YYYY-MM-DD)'),
    to: Day.optional().describe('runs sequenced on or before this day (YYYY-MM-DD)'),
    q: SearchText.optional().describe("text in the run's, project's, instrument's or a sample's name"),
    page: z.coerce.number().int().min(1).max(10_000).default(1),
    page_size: z.coerce.number().int().min(1).max(BENCHLING_MAX_PAGE_SIZE).default(25),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, {
    message: 'from must be on or before to',
    path: ['from'],
  });
export type BenchlingRunsQuery = z.infer<typeof BenchlingRunsQuery>;

/** A run name or sample id as a request names it. */
export const WarehouseName = Name;

const Project = z.object({ id: z.string(), name: z.string() });
const Instrument = z.object({
  id: z.string(),
  name: z.string(),
  model: z.string().nullable(),
  location: z.string().nullable(),
});
export const NgsRunSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  project: Project.nullable(),
  instrument: z.object({ id: z.string(), name: z.string() }).nullable(),
  run_date: z.string().nullable(),
  flowcell_id: z.string().nullable(),
  sample_count: z.number().int(),
  created_at: z.string(),
  modified_at: z.string(),
});
export const NgsSampleSchema = z.object({
  id: z.string(),
  name: z.string(),
  ngs_run: z.object({ id: z.string(), name: z.string() }),
  project: Project.nullable(),
  fastq_1: z.string().nullable(),
  fastq_2: z.string().nullable(),
  expected_cells: z.number().int().nullable(),
  sample_type: z.string().nullable(),
  feature_type: z.string().nullable(),
  seq_center: z.string().nullable(),
});
const Degraded = {
  partial: z.boolean().describe('the warehouse timed out before the last row: what it returned so far'),
  warning: z.string().optional(),
};
export const BenchlingRunsResponse = z.object({
  runs: z.array(NgsRunSummarySchema),
  page: z.number().int(),
  page_size: z.number().int(),
  has_more: z.boolean(),
  ...Degraded,
});
export const BenchlingSamplesResponse = z.object({
  run: NgsRunSummarySchema,
  samples: z.array(NgsSampleSchema),
  ...Degraded,
});
export const BenchlingMetadataResponse = z.object({
  projects: z.array(Project),
  instruments: z.array(Instrument),
  fetched_at: z.string(),
  stale: z.boolean().describe('the warehouse is unreachable: the last lookup, possibly older than 5 minutes'),
});

/** What GET /api/benchling/runs, /runs/{name}/samples and /metadata answer. */
export type BenchlingRunsPage = z.infer<typeof BenchlingRunsResponse>;
export type BenchlingSamplesPage = z.infer<typeof BenchlingSamplesResponse>;
export type BenchlingMetadata = z.infer<typeof BenchlingMetadataResponse>;

export const METADATA_TTL_MS = 5 * 60 * 1000;

const UNAVAILABLE =
  'Unable to access sample data: the Benchling warehouse is not answering. Try again in a few minutes; GET /api/ready shows when it is back.';

function partialWarning(what: string, count: number): string {
  return `The warehouse took too long and returned only the first ${count} ${what}. Narrow the filters (project, instrument, dates or search text) to see everything.`;
}

/**
 * The Benchling features over a SampleWarehouse: projects and instruments cached for five
 * minutes (and served stale while the warehouse is down); runs and samples always read fresh;
 * a connection failure becomes 503 "Unable to access sample data"; a query timeout returns
 * what arrived, flagged partial.
 */
export class BenchlingService {
  private cached: { value: WarehouseMetadata; at: Date } | null = null;
  private loading: Promise<{ value: WarehouseMetadata; at: Date }> | null = null;

  constructor(
    private readonly warehouse: SampleWarehouse | null,
    private readonly clock: Clock,
    private readonly metadataTtlMs = METADATA_TTL_MS,
  ) {}

  private source(): SampleWarehouse {
    if (!this.warehouse) {
      throw new UpstreamError(
        'The Benchling warehouse is not configured: set WAREHOUSE_HOST, WAREHOUSE_DATABASE and WAREHOUSE_USER (see the README, "Benchling warehouse").',
      );
    }
    return this.warehouse;
  }

  private async read<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      if (error instanceof WarehouseUnavailableError)
        throw new UpstreamError(UNAVAILABLE, { cause: error, dependency: 'warehouse' });
      throw error;
    }
  }

  async metadata(): Promise<z.infer<typeof BenchlingMetadataResponse>> {
    const warehouse = this.source();
    const now = this.clock.now();
    const fresh = this.cached && now.getTime() - this.cached.at.getTime() < this.metadataTtlMs;
    if (this.cached && fresh) return this.metadataView(this.cached, false);
    this.loading ??= warehouse
      .metadata()
      .then((value) => {
        this.cached = { value, at: this.clock.now() };
        return this.cached;
      })
      .finally(() => {
        this.loading = null;
      });
    try {
      return this.metadataView(await this.loading, false);
    } catch (error) {
      if (error instanceof WarehouseUnavailableError) {
        if (this.cached) return this.metadataView(this.cached, true);
        throw new UpstreamError(UNAVAILABLE, { cause: error, dependency: 'warehouse' });
      }
      throw error;
    }
  }

  private metadataView(entry: { value: WarehouseMetadata; at: Date }, stale: boolean) {
    return { ...entry.value, fetched_at: entry.at.toISOString(), stale };
  }

  async runs(query: BenchlingRunsQuery): Promise<z.infer<typeof BenchlingRunsResponse>> {
    const warehouse = this.source();
    const { page, page_size: pageSize, ...filters } = query;
    const result = await this.read(() =>
      warehouse.listRuns({ ...filters, offset: (page - 1) * pageSize, limit: pageSize + 1 }),
    );
    const runs = result.rows.slice(0, pageSize);
    return {
      runs,
      page,
      page_size: pageSize,
      has_more: result.rows.length > pageSize,
      partial: result.partial,
      ...(result.partial ? { warning: partialWarning('runs', runs.length) } : {}),
    };
  }

  /** The run and its samples; 404 when there is no such run (or it is archived). */
  async runSamples(name: string): Promise<z.infer<typeof BenchlingSamplesResponse>> {
    const warehouse = this.source();
    const run = await this.read(() => warehouse.findRun(name));
    if (!run) {
      throw new NotFoundError(
        `There is no NGS run named "${name}" in the warehouse (or it is archived); GET /api/benchling/runs?q=… searches by name.`,
      );
    }
    const samples = await this.read(() => warehouse.runSamples(run.id));
    return {
      run,
      samples: samples.rows,
      partial: samples.partial,
      ...(samples.partial ? { warning: partialWarning('samples', samples.rows.length) } : {}),
    };
  }

  /**
   * Every sample of the selection, complete: a samplesheet missing samples because the
   * warehouse was slow would launch the wrong analysis, so a timeout is an error here.
   */
  async selectSamples(selection: { sample_ids?: string[]; ngs_runs?: string[] }): Promise<NgsSample[]> {
    const warehouse = this.source();
    const samples: NgsSample[] = [];
    const incomplete = () =>
      new UpstreamError(
        'The warehouse took too long to list every selected sample, so no samplesheet was built. Try again, or select fewer samples.',
      );
    const perRun = await Promise.all(
      (selection.ngs_runs ?? []).map(async (name) => {
        const run = await this.read(() => warehouse.findRun(name));
        if (!run) {
          throw new ValidationError(
            `There is no NGS run named "${name}" in the warehouse (or it is archived).`,
            [{ field: 'ngs_runs', rule: 'known', message: `unknown NGS run "${name}"` }],
          );
        }
        const result = await this.read(() => warehouse.runSamples(run.id));
        if (result.partial) throw incomplete();
        return result.rows;
      }),
    );
    samples.push(...perRun.flat());
    const ids = [...new Set(selection.sample_ids ?? [])];
    if (ids.length > 0) {
      const result = await this.read(() => warehouse.samplesByIds(ids));
      if (result.partial) throw incomplete();
      const found = new Set(result.rows.map((s) => s.id));
      const missing = ids.filter((id) => !found.has(id));
      if (missing.length > 0) {
        throw new ValidationError(
          `${missing.length} selected sample(s) are not in the warehouse (or are archived): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}.`,
          missing.map((id) => ({ field: 'sample_ids', rule: 'known', message: `unknown sample ${id}` })),
        );
      }
      samples.push(...result.rows);
    }
    const seen = new Set<string>();
    return samples.filter((s) => !seen.has(s.id) && Boolean(seen.add(s.id)));
  }

  /** For /api/ready: the warehouse answers a trivial query. */
  async ping(): Promise<void> {
    await this.source().ping();
  }

  async close(): Promise<void> {
    await this.warehouse?.close();
  }

  get configured(): boolean {
    return this.warehouse !== null;
  }
}
