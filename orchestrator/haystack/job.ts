/**
 * The HAYSTACK agent as a Batch job (`haystack-{run_id}`), wired like a function: the agent's
 * configuration (only the sections it uses), its dependencies (functions/deps/haystack-agent.ts)
 * and the job itself (functions/core/haystack/answer.ts). It exits 0 when the run completed or
 * was cancelled, 1 when it failed (the reason on the run); the kernel puts the job's end on the
 * run and stops every job the run left.
 *
 * Environment (the job spec's): HAYSTACK_RUN_ID, GOOGLE_CLOUD_PROJECT, RUNS_BUCKET,
 * RUN_EVENTS_TOPIC, HAYSTACK_ATLAS_SEED, HAYSTACK_INFERENCE_IMAGE …, and locally the emulators'.
 */
import { loadAgentConfig } from '../../functions/config';
import { answerRun } from '../../functions/core/haystack/answer';
import { createHaystackAgentDeps } from '../../functions/deps/haystack-agent';

export async function runJob(env: NodeJS.ProcessEnv): Promise<number> {
  const runId = env.HAYSTACK_RUN_ID;
  if (!runId) throw new Error('HAYSTACK_RUN_ID is not set: the job spec sets it.');
  const deps = createHaystackAgentDeps(loadAgentConfig(env), runId);
  return (await answerRun(deps, runId)).exitCode;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  runJob(process.env).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(
        JSON.stringify({
          severity: 'ERROR',
          message: 'haystack_job_crashed',
          error: (error as Error).message,
        }),
      );
      process.exit(1);
    },
  );
}
