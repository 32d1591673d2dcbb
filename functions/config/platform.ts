/** Where the platform runs: the project, its storage and Firestore, and the local twins' addresses. */
import { z } from 'zod';
import { fix, HostPort } from './schema';

export const platformEnv = z.object({
  GOOGLE_CLOUD_PROJECT: fix(
    z
      .string()
      .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be a GCP project id such as my-lab-prod')
      .default('arc-reactor-local'),
    'set it to the project that runs Arc Reactor',
  ),
  GCP_REGION: z.string().min(1).default('us-central1'),
  RUNS_BUCKET: fix(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, 'must be a bucket name (no gs:// prefix)')
      .default('arc-nf-pipeline-runs'),
    'set it to the bucket that holds run inputs, logs and results',
  ),
  FIRESTORE_DATABASE: z.string().min(1).default('(default)'),
  FIRESTORE_EMULATOR_HOST: z.string().min(1).optional(),
  STORAGE_EMULATOR_HOST: fix(
    z.url().optional(),
    'set it to the local GCS server URL, e.g. http://127.0.0.1:4443, or unset it',
  ),
  SIGNED_URL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(3600),
  STORAGE_SIGNER_CREDENTIALS: z
    .string()
    .transform((text, ctx) => {
      try {
        return z
          .object({ client_email: z.email(), private_key: z.string().includes('PRIVATE KEY') })
          .parse(JSON.parse(text));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON {client_email, private_key}' });
        return z.NEVER;
      }
    })
    .optional(),
  FUNCTIONS_SERVICE_ACCOUNT: z.email().optional(),
  K_SERVICE: z.string().optional(),
  BATCH_EMULATOR_HOST: fix(
    HostPort.optional(),
    'set it to the local Batch twin, e.g. 127.0.0.1:8790, or unset it',
  ),
  LOGGING_EMULATOR_HOST: HostPort.optional(),
  WORKFLOWS_EMULATOR_HOST: fix(
    HostPort.optional(),
    'set it to the local Workflows twin, e.g. 127.0.0.1:8791, or unset it',
  ),
  SECRET_MANAGER_EMULATOR_HOST: HostPort.optional(),
  /** Firebase's standard variable: the Auth emulator the page signs in with (its CSP allows it). */
  FIREBASE_AUTH_EMULATOR_HOST: HostPort.optional(),
  PUBSUB_EMULATOR_HOST: fix(
    HostPort.optional(),
    'set it to the Pub/Sub emulator, e.g. 127.0.0.1:8085, or unset it',
  ),
  RUN_EVENTS_TOPIC: fix(
    z
      .string()
      .regex(/^[A-Za-z][\w.~+%-]{2,254}$/, 'must be a Pub/Sub topic id')
      .default('arc-run-events'),
    'the topic every run status change is published to (Terraform: arc-run-events)',
  ),
});

export function platformConfig(c: z.output<typeof platformEnv>, env: Record<string, string | undefined>) {
  return {
    project: c.GOOGLE_CLOUD_PROJECT,
    region: c.GCP_REGION,
    runsBucket: c.RUNS_BUCKET,
    firestore: { databaseId: c.FIRESTORE_DATABASE, emulatorHost: c.FIRESTORE_EMULATOR_HOST },
    storageEmulatorHost: c.STORAGE_EMULATOR_HOST,
    /** Every run status change is published here (ARCHITECTURE §7a). */
    runEventsTopic: c.RUN_EVENTS_TOPIC,
    signedUrlTtlSeconds: c.SIGNED_URL_TTL_SECONDS,
    /** Only for local stacks: a key to sign download links with (on GCP, the IAM Credentials API signs). */
    storageSigner: c.STORAGE_SIGNER_CREDENTIALS,
    /** The functions' own service account: it signs Firebase custom tokens through IAM. */
    functionsServiceAccount:
      c.FUNCTIONS_SERVICE_ACCOUNT ?? `arc-functions@${c.GOOGLE_CLOUD_PROJECT}.iam.gserviceaccount.com`,
    /** Set by Cloud Run: the function runs on Google Cloud. */
    cloudService: c.K_SERVICE,
    emulators: {
      batch: c.BATCH_EMULATOR_HOST,
      workflows: c.WORKFLOWS_EMULATOR_HOST,
      logging: c.LOGGING_EMULATOR_HOST,
      secretManager: c.SECRET_MANAGER_EMULATOR_HOST,
      pubsub: c.PUBSUB_EMULATOR_HOST,
      firebaseAuth: c.FIREBASE_AUTH_EMULATOR_HOST,
    },
    /** SECRET_<NAME> variables: local values for Secret Manager secrets (never logged). */
    secretOverrides: Object.fromEntries(
      Object.entries(env).filter(
        (entry): entry is [string, string] => /^SECRET_[A-Z0-9_]+$/.test(entry[0]) && entry[1] !== undefined,
      ),
    ),
  };
}
export type PlatformConfig = ReturnType<typeof platformConfig>;
