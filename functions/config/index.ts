/**
 * Every setting the functions read, from one env object, parsed once (never at import time).
 * One section a domain (platform, access, runs, benchling, assistant): each variable's schema, with the
 * fix its error names, sits beside what it means in the section's config; the Config type is
 * what the sections build. Every problem is reported at once. Defaults suit the local stack;
 * production sets GOOGLE_CLOUD_PROJECT, RUNS_BUCKET and the rest explicitly.
 */
import type { z } from 'zod';
import { accessConfig, accessEnv, accessProblems } from './access';
import { assistantConfig, assistantEnv, temperatureProblem } from './assistant';
import { benchlingConfig, benchlingEnv } from './benchling';
import { haystackConfig, haystackEnv } from './haystack';
import { notificationsConfig, notificationsEnv } from './notifications';
import { platformConfig, platformEnv } from './platform';
import { runsConfig, runsEnv } from './runs';
import { fixOf } from './schema';

export { IAP_AUDIENCE } from './access';

export class ConfigError extends Error {}

/**
 * Variables whose defaults suit only the local stack (a local project, bucket, page address,
 * sender, `:latest` images): a function on Google Cloud (Cloud Run sets K_SERVICE) must be given
 * each. Terraform sets them on every function; test/unit/infra/terraform.test.ts checks it.
 */
export const REQUIRED_ON_CLOUD = [
  'GOOGLE_CLOUD_PROJECT',
  'RUNS_BUCKET',
  'PUBLIC_URL',
  'NOTIFY_FROM_EMAIL',
  'ORCHESTRATOR_IMAGE',
  'HAYSTACK_AGENT_IMAGE',
  'HAYSTACK_INFERENCE_IMAGE',
] as const;

/** One schema a domain; every problem of every section is reported at once. */
const SECTIONS = [platformEnv, accessEnv, runsEnv, benchlingEnv, assistantEnv, haystackEnv, notificationsEnv];

/** Every variable the functions read, for checking what a deployment sets. */
export const CONFIG_VARIABLES: readonly string[] = SECTIONS.flatMap((schema) => Object.keys(schema.shape));

/** The assistant's settings; a temperature the configured model would refuse stops the instance here. */
function assistantFrom(env: z.output<typeof assistantEnv>) {
  const problem = temperatureProblem(env.ANTHROPIC_MODEL, env.ANTHROPIC_TEMPERATURE);
  if (problem) throw new ConfigError(`Invalid configuration: ${problem}`);
  return assistantConfig(env);
}

export type Config = ReturnType<typeof platformConfig> &
  ReturnType<typeof accessConfig> &
  ReturnType<typeof runsConfig> &
  ReturnType<typeof benchlingConfig> &
  ReturnType<typeof assistantConfig> &
  ReturnType<typeof haystackConfig> &
  ReturnType<typeof notificationsConfig>;

function problemsOf(schema: z.ZodObject, env: Record<string, string>): string[] {
  const parsed = schema.safeParse(env);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    const fix = fixOf(schema.shape, name);
    return `${name} ${issue.message}${fix ? ` (${fix})` : ''}`;
  });
}

/** An empty variable counts as unset (Terraform and shells set optional ones to ""). */
function setVariables(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] => entry[1] !== '' && entry[1] !== undefined,
    ),
  );
}

function checkSections(sections: readonly z.ZodObject[], set: Record<string, string>): void {
  const problems = sections.flatMap((schema) => problemsOf(schema, set));
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
}

/** What the HAYSTACK agent job reads: the platform's clients, the assistant's model, HAYSTACK's jobs. */
export type AgentConfig = ReturnType<typeof platformConfig> &
  ReturnType<typeof assistantConfig> &
  ReturnType<typeof haystackConfig>;

/**
 * The HAYSTACK agent's configuration: only the sections it uses (platform, assistant, haystack),
 * from its job's environment; a variable of another section neither helps nor breaks it.
 */
export function loadAgentConfig(env: Record<string, string | undefined>): AgentConfig {
  const set = setVariables(env);
  checkSections([platformEnv, assistantEnv, haystackEnv], set);
  const platform = platformConfig(platformEnv.parse(set), env);
  return {
    ...platform,
    ...assistantFrom(assistantEnv.parse(set)),
    ...haystackConfig(haystackEnv.parse(set), platform),
  };
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const set = setVariables(env);
  checkSections(SECTIONS, set);
  const platform = platformConfig(platformEnv.parse(set), env);
  const access = accessEnv.parse(set);
  const crossField = [
    ...accessProblems(access, platform),
    ...(platform.cloudService
      ? REQUIRED_ON_CLOUD.filter((name) => set[name] === undefined).map(
          (name) =>
            `${name} must be set on Google Cloud (K_SERVICE=${platform.cloudService}): its default suits only the local stack.`,
        )
      : []),
  ];
  if (crossField.length > 0) throw new ConfigError(`Invalid configuration: ${crossField.join(' ')}`);
  let benchling: ReturnType<typeof benchlingConfig>;
  try {
    benchling = benchlingConfig(benchlingEnv.parse(set));
  } catch (error) {
    throw new ConfigError(`Invalid configuration: ${(error as Error).message}`);
  }
  return {
    ...platform,
    ...accessConfig(access),
    ...runsConfig(runsEnv.parse(set), platform),
    ...benchling,
    ...assistantFrom(assistantEnv.parse(set)),
    ...haystackConfig(haystackEnv.parse(set), platform),
    ...notificationsConfig(notificationsEnv.parse(set), platform.project),
  };
}
