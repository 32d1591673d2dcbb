/** Exit code Batch reports for a task whose Spot VM was preempted. */
export const SPOT_PREEMPTION_EXIT_CODE = 50001;

/**
 * The failed task's own exit code, from Nextflow's error block (`Command exit status:` then the
 * code on the next line); null when the block names none. Nextflow itself exits 1 whenever a
 * task fails, so this is the code that says why (137: out of memory).
 */
export function failedTaskExitCode(errorDetail: string | null | undefined): number | null {
  const found = /Command exit status:\s*\n\s*(-?\d+)\s*(?:\n|$)/.exec(errorDetail ?? '');
  return found ? Number(found[1]) : null;
}

/**
 * What a failed task's exit code most likely means, in words a scientist can act on
 * (null when the code says nothing beyond "the command failed").
 */
export function exitCodeHint(code: number | null | undefined): string | null {
  switch (code) {
    case 137:
      return "Out of memory: the task was killed (exit 137, SIGKILL) because it used more memory than it was given. Recover the run with more memory for this process, e.g. a config override `process { withName: 'STAR_ALIGN' { memory = 64.GB } }`, or fewer samples per task.";
    case 143:
      return 'Stopped from outside (exit 143, SIGTERM): usually a time limit or a cancelled run. Recover the run; if it keeps happening, raise the process time limit.';
    case SPOT_PREEMPTION_EXIT_CODE:
      return 'Spot VM preempted (exit 50001): Google Cloud reclaimed the machine. This is not a problem with your data; Recover the run to continue from where it stopped.';
    case 127:
      return 'Command not found (exit 127): the container does not have the tool the process calls. Check the pipeline version and any container overrides in your config.';
    case 126:
      return 'Permission denied (exit 126): a script could not be executed. Check custom scripts or containers in your config.';
    case 130:
      return 'Interrupted (exit 130). Recover the run to continue.';
    default:
      return null;
  }
}
