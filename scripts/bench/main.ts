/**
 * `npm run bench`: speed and size figures, reported as ratios and counts against a
 * baseline measured in the same run. `npm run bench -- --only=api` runs one section.
 * Each section (scripts/bench/sections/) returns its figures; they are printed and written
 * to .bench/results.json. A new section is a file there plus a line below.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goalsTable } from './goals';
import { type Backends, root, startBackends } from './harness';
import * as api from './sections/api';
import * as assistant from './sections/assistant';
import * as benchling from './sections/benchling';
import * as coldStart from './sections/cold-start';
import * as estimate from './sections/estimate';
import * as execution from './sections/execution';
import * as faults from './sections/faults';
import * as haystack from './sections/haystack';
import * as load from './sections/load';
import * as monitoring from './sections/monitoring';
import * as page from './sections/page';
import * as recovery from './sections/recovery';
import * as samples from './sections/samples';
import * as samplesheet from './sections/samplesheet';
import * as security from './sections/security';
import * as storage from './sections/storage';

const SECTIONS: Record<string, { run(backends: Backends): Promise<Record<string, unknown>> }> = {
  cold: coldStart,
  api,
  security,
  execution,
  monitoring,
  samples,
  recovery,
  estimate,
  storage,
  benchling,
  page,
  faults,
  samplesheet,
  assistant,
  haystack,
  load,
};

async function main(): Promise<void> {
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  if (only && !SECTIONS[only])
    throw new Error(`No bench section ${only}; the sections are ${Object.keys(SECTIONS).join(', ')}.`);
  const results: Record<string, unknown> = {};
  const started = performance.now();
  const backends = await startBackends();
  try {
    for (const [name, section] of Object.entries(SECTIONS)) {
      if (only && only !== name) continue;
      results[name] = await section.run(backends);
    }
  } finally {
    await backends.gcs.stop();
    await backends.emulator.stop();
    await backends.pubsub.stop();
  }
  if (!only) results.elapsed_ms = performance.now() - started;
  console.log(`\n== goals (issue 22)\n${goalsTable(results)}`);
  await mkdir(join(root, '.bench'), { recursive: true });
  await writeFile(
    join(root, '.bench', 'results.json'),
    `${JSON.stringify({ at: new Date().toISOString(), ...results }, null, 2)}\n`,
  );
  console.log('\nWritten to .bench/results.json');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
