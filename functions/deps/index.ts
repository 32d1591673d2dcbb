/**
 * Every dependency factory, for tests and scripts. Deployed entry files import the files they
 * need (platform.ts, runs.ts, api.ts, …), never this one, so each bundle carries only the
 * clients it uses (`npm run build` lists what each imports).
 */
export * from './access';
export * from './api';
export * from './benchling';
export * from './platform';
export * from './run-kinds';
export * from './runs';
export * from './secrets';
export * from './task-logs';
export * from './workflows';
