import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { newRunRecord } from '../../../functions/core/runs/run-service';
import { createFirestore } from '../../../functions/deps';
import { memoryLogger } from '../../../functions/logging';
import { buildOrchestrator, buildWeb, formatBytes } from '../../build';
import { launchChromium } from '../../lib/chromium';
import { startLocalStack } from '../../local/stack';
import { type Backends, median, ms, root } from '../harness';

/**
 * The page: bundle size (gzip), and the time from navigation to the first rendered runs list
 * with 1,000 runs in the emulator, in headless Chromium, against an empty list as baseline.
 */
export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log('\n== page ==');
  const web = await buildWeb(join(root, '.bench', 'web'));
  const gz = async (file: string) => gzipSync(await readFile(file)).length;
  const chunks = (await readdir(join(web.dir, 'chunks'))).filter((f) => f.endsWith('.js'));
  // A first visit loads app.js, app.css and the chunks app.js imports statically.
  let initial = 0;
  for (const file of web.initial) initial += await gz(join(web.dir, file));
  let lazy = 0;
  for (const chunk of chunks)
    if (!web.initial.includes(join('chunks', chunk))) lazy += await gz(join(web.dir, 'chunks', chunk));
  console.log(
    `bundle: a first visit loads ${formatBytes(initial)} gzip (app.js, app.css and the ${web.initial.length - 2} chunks app.js imports); loaded on demand: ${formatBytes(lazy)} gzip`,
  );

  const orchestrator = await buildOrchestrator(join(root, '.bench', 'orchestrator'));
  const stack = await startLocalStack({
    dataDir: join(root, '.bench', 'stack-page'),
    fresh: true,
    port: 0,
    orchestratorDir: orchestrator.dir,
    webDir: web.dir,
    logger: memoryLogger(),
    warehouse: 'none',
    env: {
      FIRESTORE_EMULATOR_HOST: backends.emulator.host,
      GOOGLE_CLOUD_PROJECT: 'arc-bench-page',
      RATE_LIMIT_READS_PER_MINUTE: '0',
    },
  });
  const browser = await launchChromium();
  try {
    const db = createFirestore(stack.config);
    const user = 'bench-page@example.com';
    const start = Date.parse('2026-01-01T00:00:00Z');
    for (let batchStart = 0; batchStart < 1000; batchStart += 250) {
      const batch = db.batch();
      for (let i = batchStart; i < batchStart + 250; i++) {
        const run = newRunRecord(stack.config.runsBucket, {
          run_id: `run-bp${String(i).padStart(10, '0')}`,
          pipeline: 'nf-core/scrnaseq',
          pipeline_version: '4.0.0',
          user_email: user,
          user_name: 'bench',
          created_at: new Date(start + i * 60_000).toISOString(),
          batch_request_id: randomUUID(),
          params: {},
          param_warnings: [],
          config_content: '',
          sample_count: 2,
          samples: ['S1', 'S2'],
          source_ngs_runs: [],
          source_project: null,
          session_id: randomUUID(),
        });
        batch.set(db.collection('runs').doc(run.run_id), {
          ...run,
          status: i % 7 === 0 ? 'failed' : 'completed',
        });
      }
      await batch.commit();
    }
    const phases: { email: string; token: number; snapshot: number; rendered: number }[] = [];
    const firstList = async (email: string): Promise<number> => {
      const context = await browser.newContext();
      await context.route(`${stack.url}/api/**`, (route) =>
        route.continue({
          headers: {
            ...route.request().headers(),
            'x-goog-authenticated-user-email': `accounts.google.com:${email}`,
          },
        }),
      );
      const page = await context.newPage();
      await page.goto(stack.url);
      await page.waitForFunction(
        () => performance.getEntriesByName('arc:runs-list-rendered').length > 0,
        null,
        { timeout: 60_000 },
      );
      const [at, token, snapshot] = await page.evaluate(() =>
        ['arc:runs-list-rendered', 'arc:session-token', 'arc:runs-snapshot'].map(
          (name) => performance.getEntriesByName(name)[0]?.startTime ?? Number.NaN,
        ),
      );
      phases.push({ email, token: token!, snapshot: snapshot!, rendered: at! });
      await context.close();
      return at!;
    };
    await firstList(user); // warm the emulator's indexes and the server
    const full: number[] = [];
    const empty: number[] = [];
    for (let i = 0; i < 7; i++) {
      full.push(await firstList(user));
      empty.push(await firstList('nobody@example.com'));
    }
    const p50 = median(full);
    const p50Empty = median(empty);
    // Where the time goes: the session token from the api, the first Firestore snapshot, the render.
    for (const who of [user, 'nobody@example.com']) {
      const mine = phases.slice(1).filter((p) => p.email === who);
      console.log(
        `  ${who === user ? '1,000 runs' : 'no runs  '}: session token at ${ms(median(mine.map((p) => p.token)))}, first snapshot at ${ms(median(mine.map((p) => p.snapshot)))}, rendered at ${ms(median(mine.map((p) => p.rendered)))}`,
      );
    }
    console.log(
      `first rendered runs list, 1,000 runs: p50 ${ms(p50)} (7 loads, fresh browser context each) vs ${ms(p50Empty)} with no runs: ${(p50 / p50Empty).toFixed(2)}×`,
    );
    return {
      initial_gzip_bytes: initial,
      minified_js_bytes: web.bytes,
      lazy_chunks_gzip_bytes: lazy,
      first_list_1000_runs_p50_ms: p50,
      first_list_empty_p50_ms: p50Empty,
      ratio: p50 / p50Empty,
    };
  } finally {
    await browser.close();
    await stack.stop();
  }
}
