import { z } from 'zod';
import { RUN_ID_PATTERN } from '../../functions/core/shared/ids';

const GcsUrl = z.string().regex(/^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]\/.*/, 'must be a gs:// URL');

/** The orchestrator's environment: the Batch job spec of ARCHITECTURE §5 sets every variable. */
export const OrchestratorEnv = z.object({
  RUN_ID: z.string().regex(RUN_ID_PATTERN),
  PIPELINE: z.string().min(1),
  PIPELINE_VERSION: z.string().min(1),
  CONFIG_GCS_PATH: GcsUrl,
  PARAMS_GCS_PATH: GcsUrl,
  SAMPLESHEET_GCS_PATH: GcsUrl,
  WORK_DIR: GcsUrl,
  CACHE_DIR: GcsUrl,
  SESSION_ID: z.uuid(),
  RUN_NAME: z.string().min(1),
  IS_RECOVERY: z.enum(['true', 'false']).transform((v) => v === 'true'),
  LOGS_GCS_PREFIX: GcsUrl,
  CHUNK_INTERVAL_SECONDS: z.coerce.number().min(0.05).max(300).default(5),
  /** The nextflow binary; unset: `nextflow` on PATH, else the replay executor. */
  NXF_BIN: z.string().min(1).optional(),
  /** Set by Batch: 0 on the first attempt of the task, 1 after its first retry, … */
  BATCH_TASK_RETRY_ATTEMPT: z.coerce.number().int().min(0).max(100).default(0),
  /** Where Nextflow runs; unset: a new temporary directory. */
  LAUNCH_DIR: z.string().min(1).optional(),
});
export type OrchestratorEnv = z.infer<typeof OrchestratorEnv>;

export function parseGcsUrl(url: string): { bucket: string; name: string } {
  const match = /^gs:\/\/([^/]+)\/(.*)$/.exec(url);
  if (!match) throw new Error(`${url} is not a gs:// URL`);
  return { bucket: match[1]!, name: match[2]! };
}
