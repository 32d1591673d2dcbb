/**
 * `npm run doctor` against twins of what a deployment holds: Eventarc's triggers (REST twin),
 * the deployed workflow (the Workflows twin's REST face), Secret Manager (gRPC twin, metadata
 * only) and the runs bucket (the local GCS server, through the real client). Run as an operator
 * runs it: a child process, one line per check, exit 1 with each failure's fix.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorCredentials } from '../../functions/deps/platform';
import { EventarcTwin } from '../../scripts/local/eventarc/twin';
import { LocalGcsServer } from '../../scripts/local/gcs-server';
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
}

/** Asynchronously: the twins answer from this process while it runs. */
function doctor(env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/doctor/main.ts'],
      {
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
      'All 8 checks passed.',
    ])
      expect(out).toContain(line);
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
      expect(result.out).toContain('3 of 8 checks failed.');
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

  it('reports what it cannot read, and goes on with the rest', async () => {
    const result = await doctor({ EVENTARC_EMULATOR_URL: 'http://127.0.0.1:9' });
    expect(result.code).toBe(1);
    expect(result.out).toMatch(
      /✗ Eventarc triggers: could not be read: .*\n {4}fix: check the project, region and your credentials/,
    );
    expect(result.out).toContain('✓ workflow run-pipeline');
  });
});
