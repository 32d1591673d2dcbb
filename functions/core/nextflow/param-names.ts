/**
 * Params no launch asks the user for, as plain names so the page can share them without the
 * validator.
 */

/** Params the platform sets itself: the uploaded samplesheet and the run's results prefix. */
export const PLATFORM_PARAMS = ['input', 'outdir'] as const;

/**
 * nf-schema's help switches (nf-core templates declare them without `hidden`): set, the
 * pipeline prints its help and exits without running anything.
 */
export const HELP_PARAMS = ['help', 'help_full', 'show_hidden'] as const;

/** Whether a launch form shows the param: not the platform's own, not a help switch. */
export function isFormParam(name: string): boolean {
  return (
    !(PLATFORM_PARAMS as readonly string[]).includes(name) &&
    !(HELP_PARAMS as readonly string[]).includes(name)
  );
}
