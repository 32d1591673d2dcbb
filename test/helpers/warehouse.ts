import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { DEMO_DATABASE, warehouseEnv } from '../../scripts/local/warehouse';
import { demoSeed, type WarehouseSeed } from '../../scripts/local/warehouse-seed';

export interface TestWarehouse {
  database: string;
  seed: WarehouseSeed;
  /** The functions' settings for this database (read-only role; password as a local secret). */
  env: Record<string, string>;
  /** A superuser connection to this database, to reshape it (slow views, outages). */
  admin(): Promise<pg.Client>;
  drop(): Promise<void>;
}

/**
 * A database of its own, copied from the seeded demo warehouse the global setup started, so
 * test files can change theirs without affecting the others.
 */
export async function testWarehouse(): Promise<TestWarehouse> {
  const info = inject('warehouse');
  const database = `test_${randomBytes(6).toString('hex')}`;
  const connect = async (db: string) => {
    const client = new pg.Client({ host: '127.0.0.1', port: info.port, database: db, ...info.admin });
    await client.connect();
    return client;
  };
  const setup = await connect('postgres');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await setup.query(`CREATE DATABASE ${database} TEMPLATE ${DEMO_DATABASE}`);
        break;
      } catch (error) {
        // 55006: another file is copying the template this instant; try again shortly.
        if ((error as { code?: string }).code !== '55006' || attempt > 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
      }
    }
  } finally {
    await setup.end();
  }
  return {
    database,
    seed: demoSeed(new Date(info.referenceDay)),
    env: warehouseEnv(info.port, database, info.reader),
    admin: () => connect(database),
    async drop() {
      const client = await connect('postgres');
      try {
        await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
