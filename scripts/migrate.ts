/**
 * `npm run migrate`: brings what is stored up to what the current code queries, against the
 * Firestore the environment names (GOOGLE_CLOUD_PROJECT, FIRESTORE_DATABASE, or
 * FIRESTORE_EMULATOR_HOST locally). Today one step: runs stored before `search_terms`,
 * `label_pairs` and `recovery_run_ids` existed get them, so the page's search and label filter
 * find them too and reading a run needs no query for its recoveries. Every
 * step leaves done work alone, so it is safe to run again, or to stop and run again.
 */
import { fileURLToPath } from 'node:url';
import { FirestoreRunStore } from '../functions/adapters/firestore-run-store';
import { loadConfig } from '../functions/config';
import { createFirestore } from '../functions/deps';

export async function migrate(
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
): Promise<{ scanned: number; updated: number }> {
  const config = loadConfig(env);
  const db = createFirestore(config);
  try {
    say(`Runs in ${config.project}: writing search_terms, label_pairs and recovery_run_ids where missing…`);
    const counts = await new FirestoreRunStore(db).backfillDerivedFields(300, (c) =>
      say(`  ${c.scanned} runs read, ${c.updated} updated`),
    );
    say(`Done: ${counts.updated} of ${counts.scanned} runs updated.`);
    return counts;
  } finally {
    await db.terminate();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  migrate(process.env, (line) => console.log(line)).catch((error: unknown) => {
    console.error(`migrate failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
