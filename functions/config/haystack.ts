/** HAYSTACK on the platform: the agent's and the model's Batch jobs. */
import { z } from 'zod';
import { fix } from './schema';

export const haystackEnv = z.object({
  HAYSTACK_AGENT_IMAGE: z.string().min(1).optional(),
  HAYSTACK_INFERENCE_IMAGE: z.string().min(1).optional(),
  HAYSTACK_AGENT_MACHINE_TYPE: z.string().min(1).default('e2-standard-4'),
  HAYSTACK_GPU_MACHINE_TYPE: z.string().min(1).default('a3-highgpu-1g'),
  HAYSTACK_GPU_ACCELERATOR: z.string().min(1).default('nvidia-h100-80gb'),
  HAYSTACK_SERVICE_ACCOUNT: z.string().min(1).optional(),
  HAYSTACK_POLL_MS: fix(
    z.coerce.number().int().min(50).max(60_000),
    'set it to how often (ms) the agent reads a model job’s state, 50–60000',
  ).default(5_000),
  HAYSTACK_ATLAS_SEED: fix(
    z.coerce
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    'set it to a non-negative integer',
  ).default(0),
});

export function haystackConfig(
  c: z.output<typeof haystackEnv>,
  platform: { project: string; region: string },
) {
  const registry = `${platform.region}-docker.pkg.dev/${platform.project}/arc-reactor`;
  return {
    haystack: {
      /** The agent's container: CPU, one per run (haystack-{run_id}). */
      agentImage: c.HAYSTACK_AGENT_IMAGE ?? `${registry}/haystack-agent:latest`,
      /** STACK's container (orchestrator/haystack/inference): GPU, one per model call. */
      inferenceImage: c.HAYSTACK_INFERENCE_IMAGE ?? `${registry}/stack-inference:latest`,
      agentMachineType: c.HAYSTACK_AGENT_MACHINE_TYPE,
      gpuMachineType: c.HAYSTACK_GPU_MACHINE_TYPE,
      gpuAccelerator: c.HAYSTACK_GPU_ACCELERATOR,
      serviceAccount:
        c.HAYSTACK_SERVICE_ACCOUNT ?? `arc-haystack@${platform.project}.iam.gserviceaccount.com`,
      /** How often the agent reads a model job's state (the local stack: 200 ms). */
      pollMs: c.HAYSTACK_POLL_MS,
      /** Every function and job generates the same synthetic atlas from it. */
      atlasSeed: c.HAYSTACK_ATLAS_SEED,
    },
  };
}
