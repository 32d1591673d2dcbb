import { join } from 'node:path';

import { buildFunctions } from '../../build';
import { AUDIENCE, iapHeaders, iapToken, signingKey, startJwks } from '../../lib/iap-keys';
import { type Backends, ms, percentile, root, startFunction, stopChild } from '../harness';

export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log('\n== security: IAP JWT verification against the development identity');
  const [api] = await buildFunctions(join(root, '.bench', 'functions'));
  const key = await signingKey('bench-key');
  const jwks = await startJwks([key]);
  const common = {
    FIRESTORE_EMULATOR_HOST: backends.emulator.host,
    STORAGE_EMULATOR_HOST: backends.gcsUrl,
    RUNS_BUCKET: backends.bucket,
    GOOGLE_CLOUD_PROJECT: 'arc-bench-security',
    USER_TOUCH_INTERVAL_SECONDS: '3600',
    RATE_LIMIT_READS_PER_MINUTE: '0',
  };
  const requests = 2_000;
  const measure = async (env: Record<string, string>, headers: Record<string, string>) => {
    const fn = await startFunction(api!.dir, 'api', { ...common, ...env });
    try {
      const times: number[] = [];
      for (let i = 0; i < requests + 100; i++) {
        const t = performance.now();
        const response = await fetch(`${fn.url}/api/pipelines`, { headers });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`GET /api/pipelines answered ${response.status}`);
        if (i >= 100) times.push(performance.now() - t); // the first 100 warm up
      }
      return percentile(times, 50);
    } finally {
      await stopChild(fn.child);
    }
  };
  try {
    const dev = await measure({ AUTH_MODE: 'dev', DEV_USER_EMAIL: 'bench@example.com' }, {});
    const iap = await measure(
      { AUTH_MODE: 'iap', IAP_AUDIENCE: AUDIENCE, IAP_JWKS_URL: jwks.url },
      iapHeaders(
        await iapToken(
          key,
          { email: 'bench@example.com' },
          { expiresAt: Math.floor(Date.now() / 1000) + 3000 },
        ),
      ),
    );
    console.log(
      `GET /api/pipelines p50 over ${requests}: dev identity ${ms(dev)}, verified IAP JWT ${ms(iap)} → ${(iap / dev).toFixed(2)}× (+${ms(iap - dev)} per request, keys cached; ${jwks.state.fetches} key fetch)`,
    );
    return {
      requests,
      dev_p50_ms: dev,
      iap_p50_ms: iap,
      ratio: iap / dev,
      jwks_fetches: jwks.state.fetches,
    };
  } finally {
    await jwks.close();
  }
}
