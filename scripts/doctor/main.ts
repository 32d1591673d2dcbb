/**
 * `npm run doctor`: checks that a deployment is wired as infra/ and workflows/ say, with the
 * same environment the functions read (GOOGLE_CLOUD_PROJECT, GCP_REGION, RUNS_BUCKET, …; Google
 * credentials from `gcloud auth application-default login`). One line per check, the fix under
 * each failure; exit 1 when any failed. Nothing is changed and no secret value is read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../functions/config';
import { FUNCTIONS } from '../build';
import {
  type Check,
  checkBatch,
  checkFunctions,
  checkIap,
  checkIndexes,
  checkLifecycle,
  checkRules,
  checkSecrets,
  checkTriggers,
  checkWorkflow,
  expectedTriggers,
  report,
} from './checks';
import { checkoutRelease, declaredIndexes } from './expected';
import { type DeploymentReader, googleDeployment } from './google';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
/** The functions users reach through the load balancer (infra/load-balancer.tf's frontends). */
const FRONTENDS = ['api', 'haystack'];

/** Runs every check; a check whose read fails is reported as failed with the reason, and the rest go on. */
export async function doctor(
  env: Record<string, string | undefined>,
  reader?: DeploymentReader,
): Promise<Check[]> {
  const config = loadConfig(env);
  const deployment =
    reader ??
    googleDeployment(config, {
      eventarc: env.EVENTARC_EMULATOR_URL,
      workflows: env.WORKFLOWS_REST_EMULATOR_URL,
      googleApis: env.GOOGLE_APIS_EMULATOR_URL,
    });
  const checks: Check[] = [];
  const attempt = async (name: string, run: () => Promise<Check[]>) => {
    try {
      checks.push(...(await run()));
    } catch (error) {
      checks.push({
        name,
        outcome: 'fail',
        detail: `could not be read: ${error instanceof Error ? error.message : String(error)}`,
        fix: 'check the project, region and your credentials (gcloud auth application-default login) and that the API is enabled',
      });
    }
  };
  const triggers = expectedTriggers({
    project: config.project,
    runsBucket: config.runsBucket,
    batchEventsTopic: config.batchEventsTopic,
    runEventsTopic: config.runEventsTopic,
  });
  try {
    await attempt('functions', async () =>
      checkFunctions(await deployment.functions(Object.keys(FUNCTIONS)), {
        frontends: FRONTENDS,
        events: triggers.map((t) => t.fn),
        release: env.ARC_RELEASE ?? checkoutRelease(root),
      }),
    );
    await attempt('IAP', async () =>
      checkIap(await deployment.backendServices(FRONTENDS.map((f) => `arc-${f}`))),
    );
    await attempt('Eventarc triggers', async () => checkTriggers(triggers, await deployment.triggers()));
    await attempt(`workflow ${config.workflow.name}`, async () => [
      checkWorkflow(
        config.workflow.name,
        await deployment.workflow(),
        readFileSync(join(root, 'workflows', 'run-pipeline.workflows.yaml'), 'utf8'),
      ),
    ]);
    const secrets = [
      {
        secret: config.warehouse?.passwordSecret ?? 'warehouse-password',
        purpose: 'the Benchling warehouse password',
        required: Boolean(config.warehouse),
      },
      { secret: config.assistant.keySecret, purpose: 'the assistant (Anthropic API key)', required: false },
      {
        secret: config.notifications.sendgrid.secretName,
        purpose: 'notification email (SendGrid)',
        required: false,
      },
    ];
    await attempt('secrets', async () =>
      checkSecrets(
        await Promise.all(secrets.map(async (s) => ({ ...s, ...(await deployment.secret(s.secret)) }))),
      ),
    );
    await attempt('Firestore rules', async () => [
      checkRules(
        await deployment.firestoreRules(),
        readFileSync(join(root, 'infra', 'firestore.rules'), 'utf8'),
      ),
    ]);
    await attempt('Firestore indexes', async () =>
      checkIndexes(await declaredIndexes(join(root, 'infra')), await deployment.firestoreIndexes()),
    );
    await attempt(`Batch in ${config.region}`, async () => [
      checkBatch(config.region, await deployment.batch()),
    ]);
    await attempt(`bucket ${config.runsBucket}`, async () => [
      checkLifecycle(config.runsBucket, await deployment.lifecycle(), config.workRetentionDays),
    ]);
  } finally {
    if (!reader) await deployment.close();
  }
  return checks;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  doctor(process.env)
    .then((checks) => {
      console.log(report(checks));
      process.exit(checks.some((c) => c.outcome === 'fail') ? 1 : 0);
    })
    .catch((error: unknown) => {
      console.error(`doctor: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(2);
    });
}
