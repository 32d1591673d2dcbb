import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overrideVariable, secretsReadiness } from '../../functions/adapters/secret-manager-secrets';
import { loadConfig } from '../../functions/config';
import { createSecrets } from '../../functions/deps';
import { memoryLogger, redacting } from '../../functions/logging';
import { LocalSecretManager, serveSecretManager } from '../../scripts/local/grpc/secret-manager-service';
import { request, startTestApi, type TestApi } from '../helpers/api-server';

const PROJECT = 'arc-secrets-test';
const PASSWORD = 'hunter2-warehouse-Pa55';
let manager: LocalSecretManager;
let twin: Awaited<ReturnType<typeof serveSecretManager>>;

beforeAll(async () => {
  manager = new LocalSecretManager();
  manager.set(PROJECT, 'warehouse-password', PASSWORD);
  manager.deny(PROJECT, 'someone-elses-secret');
  twin = await serveSecretManager(manager);
});
afterAll(async () => {
  await twin?.stop();
});

function secrets(env: Record<string, string> = {}) {
  const config = loadConfig({
    GOOGLE_CLOUD_PROJECT: PROJECT,
    SECRET_MANAGER_EMULATOR_HOST: twin.host,
  });
  return createSecrets(config, env);
}

describe('Secrets over Secret Manager (gRPC twin, real client)', () => {
  it('fetches a secret once per instance, even when asked concurrently', async () => {
    const store = secrets();
    const before = manager.accesses.length;
    const values = await Promise.all([store.get('warehouse-password'), store.get('warehouse-password')]);
    expect(values).toEqual([PASSWORD, PASSWORD]);
    expect(await store.get('warehouse-password')).toBe(PASSWORD);
    expect(manager.accesses.slice(before)).toEqual([
      `projects/${PROJECT}/secrets/warehouse-password/versions/latest`,
    ]);
  });

  it('takes an environment override first, without asking Secret Manager', async () => {
    const before = manager.accesses.length;
    const store = secrets({ [overrideVariable('warehouse-password')]: 'local-only' });
    expect(overrideVariable('warehouse-password')).toBe('SECRET_WAREHOUSE_PASSWORD');
    expect(await store.get('warehouse-password')).toBe('local-only');
    expect(manager.accesses.length).toBe(before);
  });

  it('names the secret and the fix when it is missing or forbidden, and tries again next time', async () => {
    const store = secrets();
    await expect(store.get('not-created-yet')).rejects.toMatchObject({
      name: 'UpstreamError',
      message: `Secret not-created-yet does not exist in project ${PROJECT} (or has no enabled version): create it with gcloud secrets create not-created-yet --data-file=-.`,
    });
    await expect(store.get('someone-elses-secret')).rejects.toMatchObject({
      message: expect.stringContaining('grant it roles/secretmanager.secretAccessor'),
    });
    manager.set(PROJECT, 'not-created-yet', 'now-it-exists');
    expect(await store.get('not-created-yet')).toBe('now-it-exists');
  });

  it('keeps resolved values out of log lines, whatever carries them', async () => {
    const store = secrets();
    await store.get('warehouse-password');
    const logs = memoryLogger();
    const logger = redacting(logs, (text) => store.redact(text));
    logger.log('ERROR', `connect failed with password ${PASSWORD}`, {
      error: `FATAL: password authentication failed for "${PASSWORD}"`,
      nested: { dsn: `postgres://reader:${PASSWORD}@warehouse/db` },
    });
    expect(JSON.stringify(logs.entries)).not.toContain(PASSWORD);
    expect(logs.entries[0]).toEqual({
      severity: 'ERROR',
      message: 'connect failed with password [redacted]',
      fields: {
        error: 'FATAL: password authentication failed for "[redacted]"',
        nested: { dsn: 'postgres://reader:[redacted]@warehouse/db' },
      },
    });
  });
});

describe('/api/ready with secrets', () => {
  let api: TestApi;
  beforeAll(async () => {
    const store = secrets();
    api = await startTestApi({
      overrides: {
        secrets: store,
        readiness: [secretsReadiness(store, ['warehouse-password', 'missing-secret'])],
      },
    });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('says which secrets are unavailable, and shows no value', async () => {
    const ready = await request<{ status: string; checks: Record<string, { ok: boolean; error?: string }> }>(
      `${api.url}/api/ready`,
    );
    expect(ready.status).toBe(503);
    expect(ready.body.checks.secrets).toEqual({ ok: false, error: 'secrets not available: missing-secret' });
    expect(JSON.stringify(ready.body)).not.toContain(PASSWORD);
    expect(JSON.stringify(api.logs.entries)).not.toContain(PASSWORD);
  });
});
