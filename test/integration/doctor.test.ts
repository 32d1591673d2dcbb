/**
 * `npm run doctor` against twins of what a deployment holds: Eventarc's triggers (REST twin),
 * the deployed workflow (the Workflows twin's REST face), Secret Manager (gRPC twin, metadata
 * only) and the runs bucket (the local GCS server, through the real client). Run as an operator
 * runs it: a child process, one line per check, exit 1 with each failure's fix.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorCredentials } from '../../functions/deps/platform';
import { FUNCTIONS } from '../../scripts/build';
import { declaredIndexes } from '../../scripts/doctor/expected';
import { EventarcTwin } from '../../scripts/local/eventarc/twin';
import { LocalGcsServer } from '../../scripts/local/gcs-server';
import { GoogleApisTwin } from '../../scripts/local/google-apis/twin';
import { LocalSecretManager, serveSecretManager } from '../../scripts/local/grpc/secret-manager-service';
import { LocalBatch } from '../../scripts/local/local-batch';
import { LocalWorkflows } from '../../scripts/local/local-workflows';
import { serveWorkflowsRest } from '../../scripts/local/workflows-rest';
import { tempDir } from '../helpers/env';

const PROJECT = 'arc-doctor-test';
const REGION = 'us-central1';
const BUCKET = 'arc-doctor-runs';
const WORKFLOW_SOURCE = readFileSync('workflows/run-pipeline.workflows.yaml', 'utf8');

let dir: Awaited<ReturnType<typeof tempDir>>;
let eventarc: EventarcTwin;
let eventarcUrl: string;
let workflows: LocalWorkflows;
let workflowsRest: Awaited<ReturnType<typeof serveWorkflowsRest>>;
let secrets: LocalSecretManager;
let secretsTwin: Awaited<ReturnType<typeof serveSecretManager>>;
let gcs: LocalGcsServer;
let gcsUrl: string;
let apis: GoogleApisTwin;
let apisUrl: string;
const RELEASE = '0123456789ab';
const TSX = pathToFileURL(join(process.cwd(), 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const RULES = readFileSync('infra/firestore.rules', 'utf8');
const EVENT_FUNCTIONS = ['onBatchJobEvent', 'onRunArtifact', 'onRunEvent'];

const trigger = (fn: string, type: string, extra: Partial<Parameters<EventarcTwin['put']>[0]> = {}) => ({
  name: `projects/${PROJECT}/locations/${REGION}/triggers/${fn.toLowerCase()}-482913`,
  eventFilters: [{ attribute: 'type', value: type }],
  destination: { cloudRun: { service: fn.toLowerCase(), region: REGION } },
  ...extra,
});
const PUBLISHED = 'google.cloud.pubsub.topic.v1.messagePublished';

function healthy(): void {
  eventarc.put(
    trigger('onBatchJobEvent', PUBLISHED, {
      transport: { pubsub: { topic: `projects/${PROJECT}/topics/arc-batch-events` } },
    }),
  );
  eventarc.put(
    trigger('onRunArtifact', 'google.cloud.storage.object.v1.finalized', {
      eventFilters: [
        { attribute: 'type', value: 'google.cloud.storage.object.v1.finalized' },
        { attribute: 'bucket', value: BUCKET },
      ],
    }),
  );
  eventarc.put(
    trigger('onRunEvent', PUBLISHED, {
      transport: { pubsub: { topic: `projects/${PROJECT}/topics/arc-run-events` } },
    }),
  );
  workflows.deploy('run-pipeline', WORKFLOW_SOURCE);
  secrets.set(PROJECT, 'warehouse-password', 'do-not-print-me-3f9a');
  secrets.set(PROJECT, 'anthropic-api-key', 'sk-ant-do-not-print');
  secrets.set(PROJECT, 'sendgrid-api-key', 'SG.do-not-print');
  for (const fn of Object.keys(FUNCTIONS))
    apis.functions.set(`projects/${PROJECT}/locations/${REGION}/functions/${fn}`, {
      name: `projects/${PROJECT}/locations/${REGION}/functions/${fn}`,
      state: 'ACTIVE',
      labels: { 'arc-release': RELEASE },
      serviceConfig: {
        ingressSettings: ['api', 'haystack'].includes(fn)
          ? 'ALLOW_INTERNAL_AND_GCLB'
          : EVENT_FUNCTIONS.includes(fn)
            ? 'ALLOW_INTERNAL_ONLY'
            : 'ALLOW_ALL',
      },
    });
  for (const backend of ['arc-api', 'arc-haystack'])
    apis.backendServices.set(backend, { iap: { enabled: true } });
  apis.firestoreRules = RULES;
  apis.indexes.length = 0;
  for (const [collection, count] of Object.entries(declared))
    for (let i = 0; i < count; i++)
      apis.indexes.push({
        name: `projects/${PROJECT}/databases/(default)/collectionGroups/${collection}/indexes/CICAg${i}`,
        queryScope: 'COLLECTION',
        fields: [],
        state: 'READY',
      });
  apis.batchRegions.add(REGION);
}
let declared: Record<string, number>;

/**
 * Asynchronously: the twins answer from this process while it runs. `command` is what the
 * operator types after node (npm run doctor's script, or arc doctor), `cwd` where.
 */
function doctor(
  env: Record<string, string> = {},
  command: string[] = ['scripts/doctor/main.ts'],
  cwd = process.cwd(),
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      // tsx by its path: `cwd` may be outside the checkout.
      ['--import', TSX, ...command],
      {
        cwd,
        env: {
          PATH: process.env.PATH,
          GOOGLE_CLOUD_PROJECT: PROJECT,
          GCP_REGION: REGION,
          RUNS_BUCKET: BUCKET,
          WAREHOUSE_HOST: 'warehouse.example.org',
          EVENTARC_EMULATOR_URL: eventarcUrl,
          WORKFLOWS_REST_EMULATOR_URL: workflowsRest.url,
          SECRET_MANAGER_EMULATOR_HOST: secretsTwin.host,
          STORAGE_EMULATOR_HOST: gcsUrl,
          GOOGLE_APIS_EMULATOR_URL: apisUrl,
          ARC_RELEASE: RELEASE,
          ...env,
        },
        encoding: 'utf8',
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          out: `${stdout}${stderr}`,
        }),
    );
  });
}

beforeAll(async () => {
  dir = await tempDir('arc-doctor-');
  eventarc = new EventarcTwin();
  eventarcUrl = await eventarc.start();
  workflows = new LocalWorkflows({
    definitionPath: 'workflows/run-pipeline.workflows.yaml',
    jobs: new LocalBatch({
      command: [process.execPath, '-e', ''],
      env: {},
      publish: () => {},
      logDir: dir.path,
    }),
  });
  workflowsRest = await serveWorkflowsRest(workflows);
  secrets = new LocalSecretManager();
  secretsTwin = await serveSecretManager(secrets);
  apis = new GoogleApisTwin();
  apisUrl = await apis.start();
  declared = await declaredIndexes('infra');
  gcs = new LocalGcsServer({ dataDir: dir.path });
  gcsUrl = await gcs.start();
  await gcs.createBucket(BUCKET);
  const storage = new Storage({ apiEndpoint: gcsUrl, projectId: PROJECT, credentials: emulatorCredentials });
  await storage.bucket(BUCKET).setMetadata({
    lifecycle: {
      rule: [{ action: { type: 'Delete' }, condition: { age: 30, matchesPrefix: ['work/', 'cache/'] } }],
    },
  });
  healthy();
});

afterAll(async () => {
  await eventarc?.stop();
  await workflowsRest?.stop();
  await secretsTwin?.stop();
  await gcs?.stop();
  await apis?.stop();
  await dir?.remove();
});

describe('npm run doctor', () => {
  it('passes a deployment wired as infra/ says, one line per check, printing no secret', async () => {
    const { code, out } = await doctor();
    expect(code, out).toBe(0);
    for (const line of [
      '✓ trigger onBatchJobEvent: onbatchjobevent-482913 → onBatchJobEvent, active',
      '✓ trigger onRunArtifact:',
      '✓ trigger onRunEvent:',
      '✓ workflow run-pipeline: revision',
      '✓ secret warehouse-password: present (1 enabled version; not read)',
      '✓ bucket arc-doctor-runs lifecycle: work/ and cache/ deleted after 30 days',
      `✓ function api: active, release ${RELEASE}, ALLOW_INTERNAL_AND_GCLB`,
      '✓ IAP on arc-haystack: on',
      '✓ Firestore rules: infra/firestore.rules in force',
      `✓ Firestore indexes on runs: ${declared.runs} ready (${declared.runs} declared)`,
      '✓ Batch in us-central1: the API answers in the region',
    ])
      expect(out).toContain(line);
    expect(out).toMatch(/\nAll \d+ checks passed\.\n?$/);
    expect(out).not.toMatch(/do-not-print/);
    // Values were never read: only metadata was asked for.
    expect(secrets.accesses).toEqual([]);
  });

  it('reports a missing trigger, a stale workflow and a missing secret, each with its fix, and exits 1', async () => {
    eventarc.remove(`projects/${PROJECT}/locations/${REGION}/triggers/onrunartifact-482913`);
    workflows.deploy('run-pipeline', WORKFLOW_SOURCE.replace('main:', 'main:\n  # an older revision\n'));
    try {
      const result = await doctor({ SENDGRID_API_KEY_SECRET: 'sendgrid-key-typo' });
      expect(result.code, result.out).toBe(1);
      expect(result.out).toContain(
        '✗ trigger onRunArtifact: no Eventarc trigger delivers to onRunArtifact, so its events are never handled',
      );
      expect(result.out).toMatch(
        /✗ workflow run-pipeline: revision 00000\d-local is not workflows\/run-pipeline\.workflows\.yaml \(deployed sha256 [0-9a-f]{12}, here [0-9a-f]{12}\)/,
      );
      expect(result.out).toContain('✗ secret sendgrid-key-typo: missing (notification email (SendGrid))');
      expect(result.out.match(/\n {4}fix: /g)?.length).toBe(3);
      expect(result.out).toContain(
        'fix: run `npm run deploy` (or `terraform apply` in infra/) to put it back',
      );
      expect(result.out).toMatch(/\n3 of \d+ checks failed\./);
    } finally {
      healthy();
    }
  });

  it('says a trigger is wired to the wrong topic or not active, and a secret without a value', async () => {
    eventarc.put(
      trigger('onRunEvent', PUBLISHED, {
        transport: { pubsub: { topic: `projects/${PROJECT}/topics/arc-batch-events` } },
        conditions: { pubsubTopic: { code: 'NOT_FOUND', message: 'Topic does not exist' } },
      }),
    );
    const empty = 'anthropic-api-key-empty';
    secrets.create(PROJECT, empty);
    try {
      const result = await doctor({ ANTHROPIC_API_KEY_SECRET: empty });
      expect(result.code, result.out).toBe(1);
      expect(result.out).toContain(
        `✗ trigger onRunEvent: topic projects/${PROJECT}/topics/arc-batch-events, not projects/${PROJECT}/topics/arc-run-events; not active: pubsubTopic NOT_FOUND (Topic does not exist)`,
      );
      // No Anthropic key only turns the assistant off: a warning with the command that adds one.
      expect(result.out).toContain(
        `! secret ${empty}: has no value yet: the assistant (Anthropic API key) is off`,
      );
      expect(result.out).toContain(`fix: gcloud secrets versions add ${empty} --data-file=-`);
    } finally {
      healthy();
    }
  });

  it('reports IAP off, a function of another release or open to all, rules out of date, an index still building, Batch not in the region', async () => {
    apis.backendServices.set('arc-haystack', {});
    const api = `projects/${PROJECT}/locations/${REGION}/functions/api`;
    apis.functions.set(api, {
      name: api,
      state: 'ACTIVE',
      labels: { 'arc-release': 'fedcba987654' },
      serviceConfig: { ingressSettings: 'ALLOW_ALL' },
    });
    apis.firestoreRules = `${RULES}\n// edited in the console\n`;
    apis.indexes[0]!.state = 'CREATING';
    apis.batchRegions.delete(REGION);
    const collection = /collectionGroups\/([^/]+)\//.exec(apis.indexes[0]!.name)![1];
    try {
      const result = await doctor();
      expect(result.code, result.out).toBe(1);
      expect(result.out).toContain('✗ IAP on arc-haystack: IAP is off');
      expect(result.out).toContain(
        `✗ function api: release fedcba987654, not ${RELEASE} (this checkout); ingress ALLOW_ALL, not ALLOW_INTERNAL_AND_GCLB`,
      );
      expect(result.out).toContain('✗ Firestore rules: the rules in force are not infra/firestore.rules');
      expect(result.out).toContain(`! Firestore indexes on ${collection}: 1 still building`);
      expect(result.out).toMatch(
        /✗ Batch in us-central1: Batch does not answer: .* 400 INVALID_ARGUMENT: Location us-central1 is not supported for Batch\./,
      );
    } finally {
      healthy();
    }
  });

  it('answers as `arc doctor` in a checkout, and says where to run it outside one', async () => {
    const arc = join(process.cwd(), 'cli', 'main.ts');
    const inside = await doctor({}, [arc, 'doctor'], join(process.cwd(), 'docs'));
    expect(inside.code, inside.out).toBe(0);
    expect(inside.out).toMatch(/\nAll \d+ checks passed\.\n?$/);
    const outside = await doctor({}, [arc, 'doctor'], dir.path);
    expect(outside.code).toBe(2);
    expect(outside.out).toContain(
      'arc: arc doctor compares a deployment with infra/ and workflows/ of an Arc Reactor checkout',
    );
  });

  it('reports what it cannot read, and goes on with the rest', async () => {
    const result = await doctor({ EVENTARC_EMULATOR_URL: 'http://127.0.0.1:9' });
    expect(result.code).toBe(1);
    expect(result.out).toMatch(
      /✗ Eventarc triggers: could not be read: .*\n {4}fix: check the project, region and your credentials/,
    );
    expect(result.out).toContain('✓ workflow run-pipeline');
  });
});
