/** What runs Nextflow: Google Batch in production; locally a real `nextflow` or the replay executor. */
export const Executor = ['google-batch', 'local', 'replay'] as const;
export type Executor = (typeof Executor)[number];
