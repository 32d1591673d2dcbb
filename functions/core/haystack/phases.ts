/** The closed sets a HAYSTACK run is described by, free of any library (the page shares them). */
export const PHASES = [
  'query_analysis',
  'prompt_generation',
  'inference',
  'evaluation',
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
