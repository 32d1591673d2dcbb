/** The Benchling warehouse (read-only PostgreSQL): set WAREHOUSE_HOST to use one. */
import { z } from 'zod';
import { parseWarehouseMapping } from '../adapters/warehouse-mapping';

export const benchlingEnv = z.object({
  WAREHOUSE_HOST: z.string().min(1).optional(),
  WAREHOUSE_PORT: z.coerce.number().int().min(1).max(65535).default(5432),
  WAREHOUSE_DATABASE: z.string().min(1).default('warehouse'),
  WAREHOUSE_USER: z.string().min(1).default('arc_reader'),
  WAREHOUSE_PASSWORD_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a Secret Manager secret id')
    .default('warehouse-password'),
  WAREHOUSE_SSL: z.enum(['require', 'verify-full', 'disable']).default('require'),
  WAREHOUSE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  WAREHOUSE_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  WAREHOUSE_MAPPING: z.string().optional(),
});

/** Throws (with the variable named) when WAREHOUSE_MAPPING is not valid. */
export function benchlingConfig(c: z.output<typeof benchlingEnv>) {
  const mapping = parseWarehouseMapping(c.WAREHOUSE_MAPPING);
  return {
    /** The Benchling warehouse; undefined when WAREHOUSE_HOST is not set. */
    warehouse: c.WAREHOUSE_HOST
      ? {
          host: c.WAREHOUSE_HOST,
          port: c.WAREHOUSE_PORT,
          database: c.WAREHOUSE_DATABASE,
          user: c.WAREHOUSE_USER,
          /** Secret Manager secret holding the password (SECRET_<NAME> overrides it locally). */
          passwordSecret: c.WAREHOUSE_PASSWORD_SECRET,
          ssl: c.WAREHOUSE_SSL,
          statementTimeoutMs: c.WAREHOUSE_STATEMENT_TIMEOUT_MS,
          acquireTimeoutMs: c.WAREHOUSE_ACQUIRE_TIMEOUT_MS,
          mapping,
        }
      : undefined,
  };
}
