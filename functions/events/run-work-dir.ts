import type { RunStore } from '../core/runs/ports';
import { recordWorkDirAtEnd } from '../core/runs/work-dir';
import type { Clock, ObjectStore } from '../core/shared/ports';
import { isTerminal } from '../core/shared/run-status';
import type { Logger } from '../logging';
import type { RunEventReaction } from './run-status-notifier';

/**
 * When a Nextflow run ends (completed, failed or cancelled): its chain's work dir is measured
 * by listing and kept on the chain's root run (ARCHITECTURE §3b′), once per event.
 */
export function measureWorkDirWhenRunEnds(deps: {
  runs: RunStore;
  objects: ObjectStore;
  clock: Clock;
  logger: Logger;
}): RunEventReaction {
  return async (event) => {
    if (event.data.kind !== 'nextflow' || !isTerminal(event.data.to)) return;
    const measured = await recordWorkDirAtEnd(deps, event.data.run_id, event.id);
    if (measured)
      deps.logger.log('INFO', 'work_dir_measured', {
        run_id: event.data.run_id,
        event_id: event.id,
        bytes: measured.bytes,
        objects: measured.objects,
        complete: measured.complete,
      });
  };
}
