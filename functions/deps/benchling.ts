import { PgSampleWarehouse } from '../adapters/pg-warehouse';
import type { Config } from '../config';
import type { Secrets } from '../core/shared/ports';

/** The Benchling domain's client: the warehouse over pg (only the api function carries it). */

/** The Benchling warehouse when WAREHOUSE_HOST is set; its password comes from Secret Manager. */
export function createWarehouse(config: Config, secrets: Secrets): PgSampleWarehouse | null {
  const w = config.warehouse;
  if (!w) return null;
  return new PgSampleWarehouse({
    host: w.host,
    port: w.port,
    database: w.database,
    user: w.user,
    password: () => secrets.get(w.passwordSecret),
    ssl: w.ssl,
    statementTimeoutMs: w.statementTimeoutMs,
    acquireTimeoutMs: w.acquireTimeoutMs,
    mapping: w.mapping,
  });
}
