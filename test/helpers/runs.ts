import { randomBytes, randomUUID } from 'node:crypto';
import type { Run } from '../../functions/core/runs/run-model';
import { newRunRecord } from '../../functions/core/runs/run-service';

/**
 * A run document as the functions would have left it, for tests that write runs straight to
 * the emulator: a fresh id (or the one given), one sample, and the fields given.
 */
export function storedRunRecord(overrides: Partial<Run> = {}, bucket = 'arc-test-runs'): Run {
  const runId = overrides.run_id ?? `run-${randomBytes(6).toString('hex')}`;
  return {
    ...newRunRecord(bucket, {
      run_id: runId,
      pipeline: 'nf-core/scrnaseq',
      pipeline_version: '4.0.0',
      user_email: overrides.user_email ?? 'alice@example.com',
      user_name: overrides.user_name ?? 'alice',
      created_at: overrides.created_at ?? new Date().toISOString(),
      batch_request_id: randomUUID(),
      params: {},
      param_warnings: [],
      config_content: '',
      sample_count: 1,
      samples: ['S1'],
      source_ngs_runs: [],
      source_project: null,
      session_id: randomUUID(),
    }),
    executor: 'replay',
    ...overrides,
  };
}
