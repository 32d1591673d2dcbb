import type pg from 'pg';
import type Cursor from 'pg-cursor';
import {
  type NgsRunFilter,
  type NgsRunSummary,
  type NgsSample,
  type Rows,
  type SampleWarehouse,
  type WarehouseMetadata,
  WarehouseUnavailableError,
} from '../core/benchling/sample-warehouse';
import { UpstreamError } from '../core/shared/errors';
import { before, DeadlineExceeded } from '../deadline';
import type { WarehouseMapping } from './warehouse-mapping';

export interface PgWarehouseOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Resolved when a connection is opened (Secret Manager, cached by the Secrets port). */
  password: () => Promise<string>;
  /** require: encrypted, certificate not checked (libpq sslmode=require); verify-full: checked too. */
  ssl: 'disable' | 'require' | 'verify-full';
  /**
   * Limit for one query, the time to its last row included: enforced by the server
   * (statement_timeout) and, for a server that stops answering altogether, by this client
   * a moment later.
   */
  statementTimeoutMs: number;
  /**
   * How long a request may take to get a usable connection (a pooled one, or a new one with
   * its retries) before the warehouse counts as unavailable. A server that accepts TCP but
   * never answers (frozen, black-holed) is caught here.
   */
  acquireTimeoutMs: number;
  mapping: WarehouseMapping;
  /** Connections kept open when idle (the product spec: 5) … */
  minConnections?: number;
  /** … and the most open under load (5 + 10). */
  maxConnections?: number;
  /** Connections are replaced after this long (the product spec: 30 minutes). */
  maxLifetimeSeconds?: number;
  /** Attempts after the first when connecting fails. */
  retries?: number;
  retryBaseMs?: number;
}

/** SQLSTATE of a statement cancelled by statement_timeout. */
const QUERY_CANCELED = '57014';
/** Errors that mean "could not talk to the server", worth another connection attempt. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up)
  '53300', // too_many_connections
]);
/** Rows fetched per round trip: small, so a query cut short by the timeout still returns most of what arrived. */
const BATCH_ROWS = 10;
/** How long after statement_timeout this client stops waiting for a server that has gone silent. */
const CLIENT_GRACE_MS = 1_000;

function isConnectionError(error: unknown): boolean {
  const code = String((error as { code?: unknown }).code ?? '');
  if (CONNECTION_CODES.has(code) || code.startsWith('08')) return true;
  const message = error instanceof Error ? error.message : '';
  return /timeout exceeded when trying to connect|Connection terminated|connection timeout/i.test(message);
}

/** A quoted SQL identifier, as pg's escapeIdentifier writes it (pg itself loads with the first query). */
const q = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

interface Driver {
  pool: pg.Pool;
  Cursor: typeof Cursor;
}

/** `%`, `_` and `\` in search text are literal characters, not patterns. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

interface RunRow {
  id: string;
  name: string;
  run_date: string | null;
  flowcell_id: string | null;
  created_at: Date;
  modified_at: Date;
  project_id: string | null;
  project_name: string | null;
  instrument_id: string | null;
  instrument_name: string | null;
  sample_count: string | number;
}

interface SampleRow {
  id: string;
  name: string;
  fastq_1: string | null;
  fastq_2: string | null;
  expected_cells: string | number | null;
  sample_type: string | null;
  feature_type: string | null;
  run_id: string;
  run_name: string;
  project_id: string | null;
  project_name: string | null;
  seq_center: string | null;
}

function toRun(row: RunRow): NgsRunSummary {
  return {
    id: row.id,
    name: row.name,
    project: row.project_id ? { id: row.project_id, name: row.project_name ?? row.project_id } : null,
    instrument: row.instrument_id
      ? { id: row.instrument_id, name: row.instrument_name ?? row.instrument_id }
      : null,
    run_date: row.run_date,
    flowcell_id: row.flowcell_id,
    sample_count: Number(row.sample_count),
    created_at: new Date(row.created_at).toISOString(),
    modified_at: new Date(row.modified_at).toISOString(),
  };
}

function toSample(row: SampleRow): NgsSample {
  const cells = row.expected_cells === null ? null : Number(row.expected_cells);
  return {
    id: row.id,
    name: row.name,
    ngs_run: { id: row.run_id, name: row.run_name },
    project: row.project_id ? { id: row.project_id, name: row.project_name ?? row.project_id } : null,
    fastq_1: row.fastq_1,
    fastq_2: row.fastq_2,
    expected_cells: cells !== null && Number.isInteger(cells) ? cells : null,
    sample_type: row.sample_type,
    feature_type: row.feature_type,
    seq_center: row.seq_center,
  };
}

/** The statements, built once from the mapping; every value is a bind parameter. */
function statements(m: WarehouseMapping) {
  const t = (table: string) => `${q(m.schema)}.${q(table)}`;
  const [P, I, R, S] = [m.project, m.instrument, m.ngs_run, m.ngs_sample];
  const live = (alias: string, column: string) => `NOT coalesce(${alias}.${q(column)}, false)`;
  const runSelect = `
    SELECT r.${q(R.id)} AS id, r.${q(R.name)} AS name,
           to_char(r.${q(R.run_date)}, 'YYYY-MM-DD') AS run_date, r.${q(R.flowcell_id)} AS flowcell_id,
           r.${q(R.created_at)} AS created_at, r.${q(R.modified_at)} AS modified_at,
           p.${q(P.id)} AS project_id, p.${q(P.name)} AS project_name,
           i.${q(I.id)} AS instrument_id, i.${q(I.name)} AS instrument_name,
           (SELECT count(*) FROM ${t(S.table)} c
             WHERE c.${q(S.ngs_run)} = r.${q(R.id)} AND ${live('c', S.archived)}) AS sample_count
      FROM ${t(R.table)} r
      LEFT JOIN ${t(P.table)} p ON p.${q(P.id)} = r.${q(R.project)}
      LEFT JOIN ${t(I.table)} i ON i.${q(I.id)} = r.${q(R.instrument)}
     WHERE ${live('r', R.archived)}`;
  const sampleSelect = `
    SELECT s.${q(S.id)} AS id, s.${q(S.name)} AS name, s.${q(S.fastq_1)} AS fastq_1,
           s.${q(S.fastq_2)} AS fastq_2, s.${q(S.expected_cells)} AS expected_cells,
           s.${q(S.sample_type)} AS sample_type, s.${q(S.feature_type)} AS feature_type,
           r.${q(R.id)} AS run_id, r.${q(R.name)} AS run_name,
           p.${q(P.id)} AS project_id, p.${q(P.name)} AS project_name, i.${q(I.location)} AS seq_center
      FROM ${t(S.table)} s
      JOIN ${t(R.table)} r ON r.${q(R.id)} = s.${q(S.ngs_run)}
      LEFT JOIN ${t(P.table)} p ON p.${q(P.id)} = r.${q(R.project)}
      LEFT JOIN ${t(I.table)} i ON i.${q(I.id)} = r.${q(R.instrument)}
     WHERE ${live('s', S.archived)} AND ${live('r', R.archived)}`;
  return {
    listRuns: `${runSelect}
       AND ($1::text IS NULL OR p.${q(P.id)} = $1 OR p.${q(P.name)} = $1)
       AND ($2::text IS NULL OR i.${q(I.id)} = $2 OR i.${q(I.name)} = $2)
       AND ($3::date IS NULL OR r.${q(R.run_date)} >= $3::date)
       AND ($4::date IS NULL OR r.${q(R.run_date)} <= $4::date)
       AND ($5::text IS NULL
            OR r.${q(R.name)} ILIKE $5 ESCAPE '\\'
            OR p.${q(P.name)} ILIKE $5 ESCAPE '\\'
            OR i.${q(I.name)} ILIKE $5 ESCAPE '\\'
            OR EXISTS (SELECT 1 FROM ${t(S.table)} x
                        WHERE x.${q(S.ngs_run)} = r.${q(R.id)} AND ${live('x', S.archived)}
                          AND x.${q(S.name)} ILIKE $5 ESCAPE '\\'))
     ORDER BY r.${q(R.run_date)} DESC NULLS LAST, r.${q(R.created_at)} DESC, r.${q(R.id)}
     OFFSET $6 LIMIT $7`,
    findRun: `${runSelect} AND r.${q(R.name)} = $1 ORDER BY r.${q(R.created_at)} DESC LIMIT 1`,
    runSamples: `${sampleSelect} AND s.${q(S.ngs_run)} = $1 ORDER BY s.${q(S.name)}, s.${q(S.id)}`,
    samplesByIds: `${sampleSelect} AND s.${q(S.id)} = ANY($1::text[]) ORDER BY s.${q(S.name)}, r.${q(R.name)}, s.${q(S.id)}`,
    projects: `SELECT ${q(P.id)} AS id, ${q(P.name)} AS name FROM ${t(P.table)} p
                WHERE ${live('p', P.archived)} ORDER BY 2, 1`,
    instruments: `SELECT ${q(I.id)} AS id, ${q(I.name)} AS name, ${q(I.model)} AS model, ${q(I.location)} AS location
                    FROM ${t(I.table)} i WHERE ${live('i', I.archived)} ORDER BY 2, 1`,
  };
}

/**
 * The Benchling warehouse over node-postgres: a pool of 5 to 15 connections (replaced every
 * 30 minutes), a statement timeout on every query (the server's, and this client's a moment
 * later for a server gone silent), rows read through a cursor so a query cut short by the
 * timeout still returns what arrived (flagged partial), and connection failures retried 3
 * times with backoff, all within the acquire deadline, before the warehouse counts as unavailable.
 */
export class PgSampleWarehouse implements SampleWarehouse {
  /** Queries sent, and the most connections open at once: for tests and the benchmark. */
  readonly stats = { queries: 0, peakConnections: 0, connectRetries: 0 };
  /** node-postgres and the pool, loaded with the first query: an instance that never asks the warehouse never loads them. */
  private driver: Promise<Driver> | null = null;
  private readonly poolOptions: pg.PoolConfig;
  private readonly sql: ReturnType<typeof statements>;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly acquireTimeoutMs: number;
  private readonly queryTimeoutMs: number;

  constructor(options: PgWarehouseOptions) {
    this.sql = statements(options.mapping);
    this.retries = options.retries ?? 3;
    this.retryBaseMs = options.retryBaseMs ?? 200;
    this.acquireTimeoutMs = options.acquireTimeoutMs;
    this.queryTimeoutMs = options.statementTimeoutMs + CLIENT_GRACE_MS;
    this.poolOptions = {
      host: options.host,
      port: options.port,
      database: options.database,
      user: options.user,
      password: options.password,
      ssl:
        options.ssl === 'disable'
          ? false
          : options.ssl === 'require'
            ? { rejectUnauthorized: false }
            : { rejectUnauthorized: true },
      min: options.minConnections ?? 5,
      max: options.maxConnections ?? 15,
      idleTimeoutMillis: 60_000,
      connectionTimeoutMillis: options.acquireTimeoutMs,
      maxLifetimeSeconds: options.maxLifetimeSeconds ?? 1800,
      statement_timeout: options.statementTimeoutMs,
      application_name: 'arc-reactor',
      keepAlive: true,
    };
  }

  private load(): Promise<Driver> {
    this.driver ??= Promise.all([import('pg'), import('pg-cursor')]).then(([pgModule, cursorModule]) => {
      const pool = new pgModule.default.Pool(this.poolOptions);
      pool.on('connect', () => {
        this.stats.peakConnections = Math.max(this.stats.peakConnections, pool.totalCount);
      });
      // An idle connection the server dropped (restart, failover) is removed by the pool; it must
      // not take the process down.
      pool.on('error', () => {});
      return { pool, Cursor: cursorModule.default };
    });
    return this.driver;
  }

  /** A connection within acquireTimeoutMs, retries included, or WarehouseUnavailableError. */
  private async connect(): Promise<pg.PoolClient> {
    const { pool } = await this.load();
    const deadline = Date.now() + this.acquireTimeoutMs;
    const unavailable = (attempts: number, cause: unknown) =>
      new WarehouseUnavailableError(
        `the warehouse did not give a usable connection within ${this.acquireTimeoutMs} ms (${attempts} attempt${attempts === 1 ? '' : 's'}): ${cause instanceof DeadlineExceeded ? 'no answer' : cause instanceof Error ? cause.message : String(cause)}`,
      );
    for (let attempt = 0; ; attempt++) {
      try {
        // A connection that arrives after the deadline is closed, never leaked into the pool's count.
        return await before(pool.connect(), deadline, (late) => late.release(true));
      } catch (error) {
        if (error instanceof DeadlineExceeded) throw unavailable(attempt + 1, error);
        const code = String((error as { code?: unknown }).code ?? '');
        if (code === '28P01' || code === '28000') {
          throw new UpstreamError(
            'The Benchling warehouse refused the credentials: check WAREHOUSE_USER and the warehouse-password secret (SECRET_WAREHOUSE_PASSWORD locally).',
          );
        }
        if (!isConnectionError(error)) throw error;
        const base = this.retryBaseMs * 2 ** attempt;
        const delay = base / 2 + Math.random() * (base / 2);
        if (attempt >= this.retries || Date.now() + delay >= deadline) throw unavailable(attempt + 1, error);
        this.stats.connectRetries++;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * Runs one statement through a cursor. A statement timeout ends the read with what arrived
   * (partial), and so does a server that goes silent past it (the connection is then dropped);
   * a connection lost before the first row is retried like a failed connect.
   */
  private async rows<R, T>(sql: string, params: unknown[], map: (row: R) => T): Promise<Rows<T>> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.connect();
      const { Cursor } = await this.load();
      const rows: T[] = [];
      this.stats.queries++;
      const deadline = Date.now() + this.queryTimeoutMs;
      const cursor = client.query(new Cursor<R>(sql, params));
      try {
        for (;;) {
          const batch = await before(cursor.read(BATCH_ROWS), deadline);
          if (batch.length === 0) break;
          for (const row of batch) rows.push(map(row));
        }
        await before(cursor.close(), deadline);
        client.release();
        return { rows, partial: false };
      } catch (error) {
        // A cursor that failed cannot be reused: drop the connection rather than risk its state.
        client.release(true);
        const code = (error as { code?: unknown }).code;
        if (code === QUERY_CANCELED || error instanceof DeadlineExceeded) return { rows, partial: true };
        if (isConnectionError(error)) {
          if (rows.length === 0 && attempt < this.retries) {
            this.stats.connectRetries++;
            continue;
          }
          throw new WarehouseUnavailableError(
            `the warehouse connection was lost: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
        throw error;
      }
    }
  }

  listRuns(filter: NgsRunFilter): Promise<Rows<NgsRunSummary>> {
    return this.rows(
      this.sql.listRuns,
      [
        filter.project ?? null,
        filter.instrument ?? null,
        filter.from ?? null,
        filter.to ?? null,
        filter.q ? likePattern(filter.q) : null,
        filter.offset,
        filter.limit,
      ],
      toRun,
    );
  }

  async findRun(name: string): Promise<NgsRunSummary | null> {
    const { rows, partial } = await this.rows(this.sql.findRun, [name], toRun);
    if (partial && rows.length === 0) {
      throw new UpstreamError(`The warehouse took too long to look up NGS run "${name}"; try again.`);
    }
    return rows[0] ?? null;
  }

  runSamples(runId: string): Promise<Rows<NgsSample>> {
    return this.rows(this.sql.runSamples, [runId], toSample);
  }

  samplesByIds(ids: string[]): Promise<Rows<NgsSample>> {
    return this.rows(this.sql.samplesByIds, [ids], toSample);
  }

  async metadata(): Promise<WarehouseMetadata> {
    const projects = await this.rows(this.sql.projects, [], (row: { id: string; name: string }) => ({
      id: row.id,
      name: row.name,
    }));
    const instruments = await this.rows(
      this.sql.instruments,
      [],
      (row: { id: string; name: string; model: string | null; location: string | null }) => ({ ...row }),
    );
    if (projects.partial || instruments.partial) {
      throw new WarehouseUnavailableError('the warehouse timed out listing projects and instruments');
    }
    return { projects: projects.rows, instruments: instruments.rows };
  }

  async ping(): Promise<void> {
    await this.rows('SELECT 1', [], () => null);
  }

  async close(): Promise<void> {
    if (this.driver) await (await this.driver).pool.end();
  }
}
