/**
 * What a deployment should hold, read from this checkout: the release it would deploy, and the
 * composite indexes infra/ declares per collection (parsed with HashiCorp's HCL parser).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@cdktn/hcl2json';

/** The release label `npm run deploy` gives the functions: the commit, -dirty with local changes. */
export function checkoutRelease(root: string): string | null {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' }).trim();
    return `${head}${dirty ? '-dirty' : ''}`;
  } catch {
    return null;
  }
}

/** Composite indexes declared in infra/*.tf, counted per collection (for_each maps expanded). */
export async function declaredIndexes(infraDir: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const file of readdirSync(infraDir).filter((f) => f.endsWith('.tf'))) {
    const parsed = (await parse(file, readFileSync(join(infraDir, file), 'utf8'))) as {
      resource?: Record<string, Record<string, { collection?: string; for_each?: unknown }[]>>;
    };
    for (const [block] of Object.values(parsed.resource?.google_firestore_index ?? {})) {
      if (!block?.collection) continue;
      const many =
        block.for_each && typeof block.for_each === 'object' ? Object.keys(block.for_each).length : 1;
      counts[block.collection] = (counts[block.collection] ?? 0) + many;
    }
  }
  return counts;
}
