import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../functions/config';
import { modelTakesTemperature } from '../../functions/core/shared/claude-models';
import { CLOUD_SAMPLE } from '../helpers/env';

describe('loadConfig', () => {
  it('has defaults that suit the local stack', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      project: 'arc-reactor-local',
      region: 'us-central1',
      runsBucket: 'arc-nf-pipeline-runs',
      devUser: undefined,
      adminEmails: [],
    });
  });

  it('names the variable and the fix when a value is wrong', () => {
    expect(() => loadConfig({ RUNS_BUCKET: 'gs://my-bucket' })).toThrow(ConfigError);
    expect(() => loadConfig({ RUNS_BUCKET: 'gs://my-bucket' })).toThrow(
      /RUNS_BUCKET must be a bucket name \(no gs:\/\/ prefix\) \(set it to the bucket that holds run inputs, logs and results\)/,
    );
    expect(() => loadConfig({ AUTH_MODE: 'dev', DEV_USER_EMAIL: 'alice' })).toThrow(/DEV_USER_EMAIL/);
    expect(() => loadConfig({ ADMIN_EMAILS: 'ok@example.com, nope' })).toThrow(/ADMIN_EMAILS/);
  });

  it('reports every problem at once, across sections, each with its fix', () => {
    let message = '';
    try {
      loadConfig({
        RUNS_BUCKET: 'gs://x',
        MAX_CONCURRENT_JOBS: '-1',
        WAREHOUSE_PORT: 'x',
        AUTH_MODE: 'sometimes',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/RUNS_BUCKET .*\(set it to the bucket/);
    expect(message).toMatch(/MAX_CONCURRENT_JOBS .*\(set it to the most Batch jobs to run at once/);
    expect(message).toMatch(/WAREHOUSE_PORT /);
    expect(message).toMatch(/AUTH_MODE /);
  });

  it('parses the dev user and admin list', () => {
    const config = loadConfig({
      AUTH_MODE: 'dev',
      DEV_USER_EMAIL: 'Dev@Example.com',
      ADMIN_EMAILS: ' a@example.com ,B@example.com',
    });
    expect(config.devUser).toEqual({ email: 'dev@example.com', name: 'Dev' });
    expect(config.adminEmails).toEqual(['a@example.com', 'b@example.com']);
  });

  it('verifies identity by default, and keeps the development identity off Google Cloud', () => {
    expect(loadConfig({}).auth).toMatchObject({ mode: 'iap', audiences: [] });
    expect(() => loadConfig({ DEV_USER_EMAIL: 'dev@example.com' })).toThrow(
      /DEV_USER_EMAIL is only used with AUTH_MODE=dev/,
    );
    expect(() => loadConfig({ AUTH_MODE: 'dev', K_SERVICE: 'api' })).toThrow(
      /AUTH_MODE=dev trusts unverified identity headers, and this function runs on Google Cloud \(K_SERVICE=api\)/,
    );
    expect(
      loadConfig({ ...CLOUD_SAMPLE, AUTH_MODE: 'dev', K_SERVICE: 'api', ALLOW_DEV_AUTH_IN_CLOUD: 'true' })
        .auth.mode,
    ).toBe('dev');
    expect(() => loadConfig({ IAP_AUDIENCE: '/projects/123/apps' })).toThrow(/IAP_AUDIENCE must be/);
    // On Google Cloud, what defaults only to the local stack must be given, each named.
    expect(() => loadConfig({ K_SERVICE: 'api', GOOGLE_CLOUD_PROJECT: 'arc-test-project' })).toThrow(
      /RUNS_BUCKET must be set on Google Cloud \(K_SERVICE=api\): its default suits only the local stack\. PUBLIC_URL must be set/,
    );
    expect(loadConfig({ K_SERVICE: 'api', ...CLOUD_SAMPLE }).runsBucket).toBe('arc-test-runs');
    expect(
      loadConfig({
        IAP_AUDIENCE: '/projects/123/global/backendServices/456, /projects/123/apps/my-lab-prod',
      }).auth.audiences,
    ).toEqual(['/projects/123/global/backendServices/456', '/projects/123/apps/my-lab-prod']);
    expect(loadConfig({ IAP_HOSTED_DOMAIN: '', CORS_ALLOWED_ORIGINS: '' })).toMatchObject({
      auth: { hostedDomain: undefined },
      corsOrigins: [],
    });
  });

  it('points at a warehouse only when WAREHOUSE_HOST is set, with the names a tenant overrides', () => {
    expect(loadConfig({}).warehouse).toBeUndefined();
    const config = loadConfig({
      WAREHOUSE_HOST: 'warehouse.example.org',
      WAREHOUSE_MAPPING: '{"schema":"acme","ngs_sample":{"table":"sc_library","fastq_1":"read_1_uri"}}',
      SECRET_WAREHOUSE_PASSWORD: 'local-only',
    });
    expect(config.warehouse).toMatchObject({ host: 'warehouse.example.org', port: 5432, ssl: 'require' });
    expect(config.warehouse!.mapping.schema).toBe('acme');
    expect(config.warehouse!.mapping.ngs_sample).toMatchObject({
      table: 'sc_library',
      fastq_1: 'read_1_uri',
      fastq_2: 'fastq_r2',
    });
    expect(config.secretOverrides).toEqual({ SECRET_WAREHOUSE_PASSWORD: 'local-only' });
    expect(() => loadConfig({ WAREHOUSE_MAPPING: '{"ngs_run":{"name":"name; DROP TABLE x"}}' })).toThrow(
      /WAREHOUSE_MAPPING.ngs_run.name must be a PostgreSQL identifier/,
    );
    expect(() => loadConfig({ WAREHOUSE_MAPPING: '{"ngs_run":{"colour":"x"}}' })).toThrow(
      /WAREHOUSE_MAPPING/,
    );
    expect(() => loadConfig({ WAREHOUSE_MAPPING: 'not json' })).toThrow(/must be a JSON object/);
  });

  it('sends no temperature to models that refuse one, and will not start with one set for them', () => {
    expect(loadConfig({}).assistant).toMatchObject({ model: 'claude-sonnet-5-5', temperature: undefined });
    expect(() => loadConfig({ ANTHROPIC_TEMPERATURE: '0.1' })).toThrow(
      /ANTHROPIC_TEMPERATURE is set but claude-sonnet-5-5 does not accept a temperature/,
    );
    // The spec's pair, while that model lives.
    expect(
      loadConfig({ ANTHROPIC_MODEL: 'claude-sonnet-4-5-20250929', ANTHROPIC_TEMPERATURE: '0.1' }).assistant,
    ).toMatchObject({ temperature: 0.1 });
    for (const [model, takes] of [
      ['claude-sonnet-4-5-20250929', true],
      ['claude-opus-4-6', true],
      ['claude-3-7-sonnet-20250219', true],
      ['claude-haiku-4-5', true],
      ['claude-sonnet-4-6', false],
      ['claude-opus-4-7', false],
      ['claude-sonnet-5-5', false],
      ['some-proxy-model', false],
    ] as const)
      expect(modelTakesTemperature(model), model).toBe(takes);
  });
});
