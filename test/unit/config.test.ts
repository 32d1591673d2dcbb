import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../functions/config';

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
    expect(() => loadConfig({ DEV_USER_EMAIL: 'alice' })).toThrow(/DEV_USER_EMAIL/);
    expect(() => loadConfig({ ADMIN_EMAILS: 'ok@example.com, nope' })).toThrow(/ADMIN_EMAILS/);
  });

  it('parses the dev user and admin list', () => {
    const config = loadConfig({
      DEV_USER_EMAIL: 'Dev@Example.com',
      ADMIN_EMAILS: ' a@example.com ,B@example.com',
    });
    expect(config.devUser).toEqual({ email: 'dev@example.com', name: 'Dev' });
    expect(config.adminEmails).toEqual(['a@example.com', 'b@example.com']);
  });
});
