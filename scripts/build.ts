/**
 * Bundles each deployed function into dist/functions/<name>/ (index.js + package.json),
 * tree-shaken, and prints each bundle's size. `--quiet` prints nothing but errors.
 */

import { readFileSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { LAZY_SDKS } from '../functions/adapters/google-sdks';
import { VERSION } from '../functions/core/shared/version';
import { writeCatalog } from './pipelines-catalog';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Deployed functions: name → entry file. The name is the Functions Framework target. */
export const FUNCTIONS: Record<string, string> = {
  api: 'functions/api.ts',
  haystack: 'functions/haystack.ts',
  prepareRun: 'functions/prepare-run.ts',
  reconcileRun: 'functions/reconcile-run.ts',
  onBatchJobEvent: 'functions/on-batch-job-event.ts',
  onRunArtifact: 'functions/on-run-artifact.ts',
  onRunEvent: 'functions/on-run-event.ts',
  sweepStaleRuns: 'functions/sweep-stale-runs.ts',
};

/**
 * Left out of the bundle and installed beside it at deploy time: the Functions Framework
 * must be the copy that loads the function (it owns the function registry); express must
 * be the copy the framework uses (functions/http/framework-errors.ts patches it); Google's
 * SDKs load their proto files from disk at run time and cannot be bundled, and
 * google-auth-library is the copy those SDKs share.
 */
function externals(): string[] {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  return Object.keys(manifest.dependencies).filter(
    (dep) =>
      dep.startsWith('@google-cloud/') ||
      dep === 'google-gax' ||
      dep === 'express' ||
      dep === 'google-auth-library',
  );
}

/** The exact version the lockfile pins, so a deploy installs what the tests ran against. */
function lockedVersion(name: string): string {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${name} is not in package-lock.json; run npm install.`);
  return version;
}

/**
 * zod's `z` namespace carries every error-message locale (some 250 KB minified, half of zod in a
 * bundle): `z.object` keeps the whole namespace, so esbuild cannot drop them. We use English
 * only (zod's default), so `z.locales` holds just that; the rest is never parsed at a cold start.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer)
        ? { path: 'zod-locales', namespace: 'zod-english-only', pluginData: dirname(args.importer) }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: join(args.pluginData as string, '..', 'locales'),
      loader: 'js',
    }));
  },
};

export interface BuiltFunction {
  name: string;
  dir: string;
  bytes: number;
  /** npm packages bundled into index.js, and the external ones it imports (installed beside it). */
  packages: { bundled: string[]; external: string[] };
}

/** The npm package a bundled file (node_modules/…) or an external import belongs to; null for Node's own modules. */
function packageOf(path: string): string | null {
  const rest = path.includes('node_modules/') ? path.slice(path.lastIndexOf('node_modules/') + 13) : path;
  if (isBuiltin(rest)) return null;
  const parts = rest.split('/');
  return rest.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

export async function buildFunctions(outRoot = join(root, 'dist', 'functions')): Promise<BuiltFunction[]> {
  const external = externals();
  const built: BuiltFunction[] = [];
  for (const [name, entry] of Object.entries(FUNCTIONS)) {
    const dir = join(outRoot, name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const result = await build({
      entryPoints: { index: join(root, entry) },
      outdir: dir,
      // What a request loads on first use (`await import(…)`: the Anthropic SDK, pg) goes in
      // chunks beside index.js, so a cold start does not even parse it (issue 22).
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      plugins: [zodEnglishOnly],
      metafile: true,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      treeShaking: true,
      minify: true,
      // Class and function names stay readable in logs and stack traces (errors print their name).
      keepNames: true,
      sourcemap: 'linked',
      legalComments: 'linked',
      external,
      // CommonJS dependencies inside an ESM bundle still call require() for Node built-ins.
      banner: {
        js: "import { createRequire as __arcCreateRequire } from 'node:module'; const require = __arcCreateRequire(import.meta.url);",
      },
      logLevel: 'warning',
    });
    const manifest = {
      name: `arc-reactor-${name}`,
      private: true,
      type: 'module',
      main: 'index.js',
      engines: { node: '>=20' },
      scripts: { start: `functions-framework --target=${name}` },
      dependencies: Object.fromEntries(external.map((dep) => [dep, lockedVersion(dep)])),
    };
    await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const outputs = Object.values(result.metafile.outputs);
    const bundled = new Set<string>();
    const imported = new Set<string>();
    for (const output of outputs) {
      for (const input of Object.keys(output.inputs)) {
        const pkg = input.includes('node_modules/') ? packageOf(input) : null;
        if (pkg) bundled.add(pkg);
      }
      for (const imp of output.imports) {
        const pkg = imp.external ? packageOf(imp.path) : null;
        if (pkg) imported.add(pkg);
      }
    }
    // The Google SDKs a bundle loads on first use (functions/adapters/google-sdks.ts) are no
    // import esbuild sees: a bundle can load one when it kept that SDK's loader, whose name is there.
    const code = (
      await Promise.all(
        Object.keys(result.metafile.outputs)
          .filter((file) => file.endsWith('.js'))
          .map((file) => readFile(resolve(root, file), 'utf8')),
      )
    ).join('\n');
    for (const sdk of LAZY_SDKS) if (code.includes(JSON.stringify(sdk))) imported.add(sdk);
    const packages = { bundled: [...bundled].sort(), external: [...imported].sort() };
    // Beside the deployable folder, not in it: what each bundle carries (checked by the tests).
    await writeFile(join(outRoot, `${name}.packages.json`), `${JSON.stringify(packages, null, 2)}\n`);
    built.push({ name, dir, bytes: (await stat(join(dir, 'index.js'))).size, packages });
  }
  return built;
}

const ESM_REQUIRE_BANNER =
  "import { createRequire as __arcCreateRequire } from 'node:module'; const require = __arcCreateRequire(import.meta.url);";

/**
 * The orchestrator agent (dist/orchestrator/main.js), the replay executor that stands in
 * for `nextflow` (dist/orchestrator/nextflow-replay.js, executable) and HAYSTACK's agent job
 * (dist/orchestrator/haystack-agent.js). The Docker images (orchestrator/Dockerfile,
 * orchestrator/haystack/Dockerfile) and the local Batch twin run these files.
 */
export async function buildOrchestrator(
  outDir = join(root, 'dist', 'orchestrator'),
): Promise<{ dir: string; bytes: number }> {
  await mkdir(outDir, { recursive: true });
  const entries: [string, string][] = [
    ['main', 'orchestrator/src/main.ts'],
    ['nextflow-replay', 'orchestrator/src/replay/main.ts'],
    ['haystack-agent', 'orchestrator/haystack/job.ts'],
  ];
  for (const [name, entry] of entries) {
    await build({
      entryPoints: [join(root, entry)],
      outfile: join(outDir, `${name}.js`),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      minify: false,
      sourcemap: 'linked',
      // h5wasm loads its WebAssembly beside its own files: installed in the image, not bundled.
      external: ['@google-cloud/storage', 'google-gax', 'h5wasm'],
      banner: { js: ESM_REQUIRE_BANNER },
      logLevel: 'warning',
    });
  }
  await chmod(join(outDir, 'nextflow-replay.js'), 0o755);
  await writeFile(
    join(outDir, 'package.json'),
    `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`,
  );
  return { dir: outDir, bytes: (await stat(join(outDir, 'main.js'))).size };
}

/** The `arc` command line (cli/main.ts, which always runs it) as one file, dist/cli/arc.js: the package's `bin`. */
export async function buildCli(outDir = join(root, 'dist', 'cli')): Promise<{ dir: string; bytes: number }> {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [join(root, 'cli', 'main.ts')],
    outfile: join(outDir, 'arc.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // google-auth-library loads files at run time: installed beside it, as for the functions.
    external: ['google-auth-library'],
    banner: { js: `#!/usr/bin/env node\n${ESM_REQUIRE_BANNER}` },
    logLevel: 'warning',
  });
  await chmod(join(outDir, 'arc.js'), 0o755);
  // A package of its own: `npm pack dist/cli` gives a tarball that `npm install -g` turns into
  // an `arc` on a person's PATH, with no checkout and no dev dependencies (README, "The CLI").
  const auth = JSON.parse(
    await readFile(join(root, 'node_modules', 'google-auth-library', 'package.json'), 'utf8'),
  ) as { version: string };
  await writeFile(
    join(outDir, 'package.json'),
    `${JSON.stringify(
      {
        name: 'arc-reactor-cli',
        version: VERSION,
        description: 'arc: the Arc Reactor command line (runs, pipelines, cell prompting)',
        type: 'module',
        bin: { arc: 'arc.js' },
        files: ['arc.js'],
        engines: { node: '>=20' },
        // Loaded at run time from files beside it, so not bundled (as for the functions).
        dependencies: { 'google-auth-library': auth.version },
        license: 'UNLICENSED',
      },
      null,
      2,
    )}\n`,
  );
  return { dir: outDir, bytes: (await stat(join(outDir, 'arc.js'))).size };
}

/** The page's files: content-hashed names, so a browser may keep them a year (index.html is never kept). */
export interface BuiltWeb {
  dir: string;
  /** Minified size of the entry script. */
  bytes: number;
  /** The entry script and stylesheet, as index.html names them (e.g. `app-5KQ2NV3H.js`). */
  script: string;
  stylesheet: string;
  /**
   * What a first visit downloads, relative to `dir`: the stylesheet, the entry script and every
   * chunk it imports statically (not those `import()` loads when a page needs them).
   */
  initial: string[];
  /** The packages (node_modules) inside those initial files. */
  initialPackages: string[];
}

/** The entry's output and every output it imports statically, recursively. */
function staticClosure(metafile: Metafile, entryOutput: string): string[] {
  const seen = new Set<string>();
  const walk = (output: string) => {
    if (seen.has(output)) return;
    seen.add(output);
    for (const imported of metafile.outputs[output]?.imports ?? [])
      if (imported.kind === 'import-statement' && !imported.external) walk(imported.path);
  };
  walk(entryOutput);
  return [...seen];
}

/** The one output of `entry` in an esbuild metafile, relative to `outDir`. */
function outputOf(metafile: Metafile, entry: string, outDir: string): string {
  const found = Object.entries(metafile.outputs).find(
    ([, o]) => o.entryPoint && resolve(o.entryPoint) === entry,
  );
  if (!found) throw new Error(`esbuild wrote no output for ${entry}`);
  return relative(outDir, resolve(found[0]));
}

/** Bundles the page (web/src) into dist/web with its index.html. */
export async function buildWeb(outDir = join(root, 'dist', 'web')): Promise<BuiltWeb> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const mainEntry = join(root, 'web', 'src', 'main.tsx');
  const cssEntry = join(root, 'web', 'src', 'app.css');
  const js = await build({
    entryPoints: { app: mainEntry },
    entryNames: '[name]-[hash]',
    metafile: true,
    outdir: outDir,
    bundle: true,
    // Firebase Auth is only needed in production (custom token): a chunk loaded on demand.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari17'],
    format: 'esm',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  const css = await build({
    entryPoints: { app: cssEntry },
    entryNames: '[name]-[hash]',
    metafile: true,
    outdir: outDir,
    bundle: true,
    minify: true,
    logLevel: 'warning',
  });
  const script = outputOf(js.metafile, mainEntry, outDir);
  const stylesheet = outputOf(css.metafile, cssEntry, outDir);
  const html = await readFile(join(root, 'web', 'index.html'), 'utf8');
  if (!html.includes('/app.js') || !html.includes('/app.css'))
    throw new Error('web/index.html must load /app.js and /app.css (the build puts the hashed names there).');
  await writeFile(
    join(outDir, 'index.html'),
    html.replace('/app.js', `/${script}`).replace('/app.css', `/${stylesheet}`),
  );
  const entryOutput = Object.keys(js.metafile.outputs).find(
    (output) => relative(outDir, resolve(output)) === script,
  )!;
  const closure = staticClosure(js.metafile, entryOutput);
  const initialPackages = new Set<string>();
  for (const output of closure)
    for (const input of Object.keys(js.metafile.outputs[output]!.inputs)) {
      const found = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      if (found) initialPackages.add(found[1]!);
    }
  return {
    dir: outDir,
    bytes: (await stat(join(outDir, script))).size,
    script,
    stylesheet,
    initial: [stylesheet, ...closure.map((output) => relative(outDir, resolve(output)))],
    initialPackages: [...initialPackages].sort(),
  };
}

/**
 * The page goes out inside the api function's source (its `web/`; Terraform sets WEB_DIR=web),
 * so the api function serves it on the API's origin, behind the same IAP.
 */
export async function addPageToApi(
  webDir: string,
  functionsDir = join(root, 'dist', 'functions'),
): Promise<void> {
  const target = join(functionsDir, 'api', 'web');
  await rm(target, { recursive: true, force: true });
  await cp(webDir, target, { recursive: true });
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quiet = process.argv.includes('--quiet');
  if (process.argv.includes('--cli-only')) {
    // `npm run cli:pack`: the command line alone, for a person's PATH.
    const cli = await buildCli();
    if (!quiet) console.log(`  ${'arc (cli)'.padEnd(20)} ${formatBytes(cli.bytes).padStart(10)}  ${cli.dir}`);
    process.exit(0);
  }
  // A pipeline folder added since the last build joins the catalog the bundles carry.
  await writeCatalog();
  const built = await buildFunctions();
  const web = await buildWeb();
  await addPageToApi(web.dir);
  const orchestrator = await buildOrchestrator();
  const cli = await buildCli();
  if (!quiet) {
    console.log(`  ${'arc (cli)'.padEnd(20)} ${formatBytes(cli.bytes).padStart(10)}  ${cli.dir}`);
    console.log(
      `  ${'orchestrator'.padEnd(20)} ${formatBytes(orchestrator.bytes).padStart(10)}  ${orchestrator.dir}`,
    );
    for (const fn of built) {
      console.log(`  ${fn.name.padEnd(20)} ${formatBytes(fn.bytes).padStart(10)}  ${fn.dir}`);
      console.log(
        `  ${''.padEnd(20)} ${''.padStart(10)}  imports ${fn.packages.external.join(', ') || 'nothing'}`,
      );
      console.log(
        `  ${''.padEnd(20)} ${''.padStart(10)}  bundles ${fn.packages.bundled.join(', ') || 'nothing'}`,
      );
    }
    console.log(`  ${'web page'.padEnd(20)} ${formatBytes(web.bytes).padStart(10)}  ${web.dir}`);
  }
}
