import { CloudLoggingTaskLogs } from '../adapters/cloud-logging-task-logs';
import { loggingSdk, onFirstUse } from '../adapters/google-sdks';
import type { Config } from '../config';
import { type TaskLogSource, WorkDirTaskLogs } from '../core/runs/task-logs';
import type { JobRunner } from '../core/shared/batch';
import type { ObjectStore } from '../core/shared/ports';
import { emulatorEndpoint } from './platform';

/**
 * Where task stdout/stderr is read from: Cloud Logging (live, Google Batch tasks) then the
 * task work dir. The local stack has no Cloud Logging: work dir only.
 */
export function createTaskLogSources(config: Config, objects: ObjectStore, jobs: JobRunner): TaskLogSource[] {
  const workDir = new WorkDirTaskLogs(objects);
  if (config.storageEmulatorHost && !config.emulators.logging) return [workDir];
  const logging = onFirstUse(
    () =>
      new (loggingSdk().Logging)({
        projectId: config.project,
        ...(config.emulators.logging ? emulatorEndpoint(config.emulators.logging) : {}),
      }),
  );
  return [new CloudLoggingTaskLogs(logging, jobs, config.project, config.region), workDir];
}
