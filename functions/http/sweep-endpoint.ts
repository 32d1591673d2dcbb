import { z } from 'zod';
import { SWEEP_LIMIT, type SweepDeps, sweepStaleRuns } from '../core/shared/kernel';
import type { Logger } from '../logging';
import { jsonEndpoint } from './json-endpoint';

const SweepRequest = z.strictObject({
  limit: z.number().int().min(1).max(1000).default(SWEEP_LIMIT),
});

/**
 * sweepStaleRuns: called by Cloud Scheduler (a timer in the local stack) with `{}`. Sweeps every
 * kind of run; answers the sweep's report, and each run it settles is logged.
 */
export function createSweepStaleRunsHandler(deps: SweepDeps & { logger: Logger }) {
  return jsonEndpoint('sweepStaleRuns', deps.logger, SweepRequest, async ({ limit }) => {
    const report = await sweepStaleRuns(deps, limit);
    for (const change of report.changed) deps.logger.log('NOTICE', 'run_swept', { ...change });
    for (const failure of report.errors) deps.logger.log('WARNING', 'sweep_check_failed', { ...failure });
    // A sweep that found nothing says so only at DEBUG: an idle platform is quiet.
    const idle =
      report.checked === 0 &&
      report.changed.length === 0 &&
      report.errors.length === 0 &&
      report.events_published === 0;
    deps.logger.log(idle ? 'DEBUG' : 'INFO', 'sweep_done', {
      checked: report.checked,
      changed: report.changed.length,
      errors: report.errors.length,
      events_published: report.events_published,
    });
    return report;
  });
}
