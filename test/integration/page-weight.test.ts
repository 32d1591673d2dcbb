/**
 * The page's weight (issue 31): what a first visit downloads stays under 200 KB gzip, and the
 * parts only some pages use (the wizard's form, the assistant, the charts) are not in it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltWeb, buildWeb } from '../../scripts/build';
import { tempDir } from '../helpers/env';

let dir: Awaited<ReturnType<typeof tempDir>>;
let web: BuiltWeb;

beforeAll(async () => {
  dir = await tempDir('arc-web-');
  web = await buildWeb(join(dir.path, 'web'));
}, 120_000);
afterAll(() => dir?.remove());

describe('the page bundle', () => {
  it('loads under 200 KB gzip on a first visit, counting every chunk the entry imports', async () => {
    let bytes = 0;
    for (const file of web.initial) bytes += gzipSync(await readFile(join(web.dir, file))).length;
    expect(web.initial).toContain(web.script);
    expect(web.initial).toContain(web.stylesheet);
    expect(bytes).toBeLessThan(200 * 1024);
  });

  it('leaves what only some pages use to chunks loaded when they are shown', () => {
    // The runs list needs Firestore (live) and Preact; not the wizard, the assistant or charts.
    expect(web.initialPackages).toContain('@firebase/firestore');
    for (const pkg of ['uplot', 'micromark', 'papaparse', 'eventsource-parser', '@firebase/auth'])
      expect(web.initialPackages).not.toContain(pkg);
  });
});
