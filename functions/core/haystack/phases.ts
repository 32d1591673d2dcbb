/** The closed sets a HAYSTACK run is described by, free of any library (the page shares them). */
export const PHASES = [
  'query_analysis',
  'prompt_generation',
  'inference',
  'evaluation',
  /** Only when the question compares two conditions: the second one's prediction and the contrast. */
  'comparison',
  'output_generation',
] as const;
export type Phase = (typeof PHASES)[number];

export const CONTROL_STRATEGIES = ['synthetic_control', 'query_as_control'] as const;
export type ControlStrategy = (typeof CONTROL_STRATEGIES)[number];

export const TERMINATION_REASONS = [
  'threshold_reached',
  'max_iterations',
  'plateau',
  'prompts_exhausted',
  'cancelled',
  'error',
] as const;
export type TerminationReason = (typeof TERMINATION_REASONS)[number];

/** The model call of a comparison's second condition (its label in job ids and file names). */
export const COMPARISON_LABEL = 'cmp-treat';
