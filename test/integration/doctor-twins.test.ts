/**
 * The twins `doctor` reads refuse what the real services refuse, in their own words: no bearer
 * token, an unknown resource, a region without Batch, a workflow definition that cannot run, a
 * lifecycle rule Cloud Storage would reject, a secret that is not there.
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorCredentials, emulatorEndpoint } from '../../functions/deps/platform';
import { EventarcTwin } from '../../scripts/local/eventarc/twin';
import { LocalGcsServer } from '../../scripts/local/gcs-server';
import { GoogleApisTwin } from '../../scripts/local/google-apis/twin';
import { LocalSecretManager, serveSecretManager } from '../../scripts/local/grpc/secret-manager-service';
import { LocalBatch } from '../../scripts/local/local-batch';
import { LocalWorkflows } from '../../scripts/local/local-workflows';
import { serveWorkflowsRest } from '../../scripts/local/workflows-rest';
import { tempDir } from '../helpers/env';

const PROJECT = 'arc-twins-test';
let dir: Awaited<ReturnType<typeof tempDir>>;
const eventarc = new EventarcTwin();
const apis = new GoogleApisTwin();
let eventarcUrl: string;
let apisUrl: string;

beforeAll(async () => {
  dir = await tempDir('arc-twins-');
  eventarcUrl = await eventarc.start();
  apisUrl = await apis.start();
});
afterAll(async () => {
  await eventarc.stop();
  await apis.stop();
  await dir.remove();
});

const get = async (url: string, token: string | null = 'local') => {
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return {
    status: response.status,
    body: (await response.json()) as { error?: { status: string; message: string } },
  };
};

describe('the REST twins doctor reads', () => {
  it('answer 401 UNAUTHENTICATED without a bearer token, as Google does', async () => {
    for (const url of [
      `${eventarcUrl}/v1/projects/${PROJECT}/locations/us-central1/triggers`,
      `${apisUrl}/v2/projects/${PROJECT}/locations/us-central1/functions/api`,
    ]) {
      const answer = await get(url, null);
      expect(answer.status, url).toBe(401);
      expect(answer.body.error?.status).toBe('UNAUTHENTICATED');
    }
  });

  it('answer 404 NOT_FOUND for what does not exist, and Batch refuses a region it does not run in', async () => {
    const trigger = await get(`${eventarcUrl}/v1/projects/${PROJECT}/locations/us-central1/triggers/nope`);
    expect(trigger).toMatchObject({ status: 404, body: { error: { status: 'NOT_FOUND' } } });
    const fn = await get(`${apisUrl}/v2/projects/${PROJECT}/locations/us-central1/functions/api`);
    expect(fn).toMatchObject({ status: 404, body: { error: { status: 'NOT_FOUND' } } });
    const batch = await get(`${apisUrl}/v1/projects/${PROJECT}/locations/mars-north1/jobs`);
    expect(batch).toMatchObject({
      status: 400,
      body: {
        error: { status: 'INVALID_ARGUMENT', message: 'Location mars-north1 is not supported for Batch.' },
      },
    });
  });

  it('keep a workflow the service would reject from being deployed, and answer 404 for one not deployed', async () => {
    const workflows = new LocalWorkflows({
      definitionPath: 'workflows/run-pipeline.workflows.yaml',
      jobs: new LocalBatch({
        command: [process.execPath, '-e', ''],
        env: {},
        publish: () => {},
        logDir: dir.path,
      }),
    });
    expect(() => workflows.deploy('run-pipeline', 'main:\n  steps: [not, a, step]\n')).toThrow();
    const rest = await serveWorkflowsRest(workflows);
    try {
      const missing = await get(`${rest.url}/v1/projects/${PROJECT}/locations/us-central1/workflows/absent`);
      expect(missing).toMatchObject({ status: 404, body: { error: { status: 'NOT_FOUND' } } });
      const deployed = await get(
        `${rest.url}/v1/projects/${PROJECT}/locations/us-central1/workflows/run-pipeline`,
      );
      expect(deployed.status).toBe(200);
    } finally {
      await rest.stop();
    }
  });
});

describe('Cloud Storage and Secret Manager twins, through the real clients', () => {
  it('refuses a lifecycle rule with an unknown action or no condition (400)', async () => {
    const gcs = new LocalGcsServer({ dataDir: dir.path });
    const url = await gcs.start();
    try {
      await gcs.createBucket('arc-twins-runs');
      const bucket = new Storage({
        apiEndpoint: url,
        projectId: PROJECT,
        credentials: emulatorCredentials,
      }).bucket('arc-twins-runs');
      // An action the client's types do not even allow, as another client could send it.
      const unknownAction = await fetch(`${url}/storage/v1/b/arc-twins-runs`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          lifecycle: { rule: [{ action: { type: 'Explode' }, condition: { age: 1 } }] },
        }),
      });
      expect(unknownAction.status).toBe(400);
      await expect(
        bucket.setMetadata({ lifecycle: { rule: [{ action: { type: 'Delete' }, condition: {} }] } }),
      ).rejects.toMatchObject({
        code: 400,
      });
      const [metadata] = await bucket.getMetadata();
      expect(metadata.lifecycle).toBeUndefined();
    } finally {
      await gcs.stop();
    }
  });

  it('answers NOT_FOUND for a secret that does not exist, and lists no version of one without a value', async () => {
    const manager = new LocalSecretManager();
    manager.create(PROJECT, 'empty');
    const twin = await serveSecretManager(manager);
    const client = new SecretManagerServiceClient({ projectId: PROJECT, ...emulatorEndpoint(twin.host) });
    try {
      await expect(client.getSecret({ name: `projects/${PROJECT}/secrets/absent` })).rejects.toMatchObject({
        code: 5,
      });
      const [versions] = await client.listSecretVersions({ parent: `projects/${PROJECT}/secrets/empty` });
      expect(versions).toEqual([]);
      expect(manager.accesses).toEqual([]);
    } finally {
      await client.close();
      await twin.stop();
    }
  });
});
