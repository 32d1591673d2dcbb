/**
 * Which samplesheet samples a Nextflow task processed, from what Nextflow tells us about the
 * task: its tag (the trace's `tag` column, or the part of its name in parentheses,
 * `STAR_ALIGN (PBMC_1)`). nf-core modules tag a task with `meta.id`, which pipelines build from
 * the sample id column (`PBMC_1`), sometimes with a suffix (`PBMC_1_T2` for a technical
 * replicate, `PBMC_1-L002` for a lane) or joined with another sample (`tumour_vs_normal`).
 *
 * The rules, in order (ARCHITECTURE §3b):
 * 1. A sample id counts where it appears in the tag as a whole word: the characters on either
 *    side are not letters or digits (`PBMC_1` is in `PBMC_1_T2` and `PBMC_1-L002`, not in
 *    `PBMC_10`).
 * 2. Where ids overlap, the longest wins (`S1_a` in `S1_a_T1`, not `S1`).
 * 3. A tag naming several samples belongs to each of them (its CPU time is split evenly).
 * 4. A task whose tag names no sample (MultiQC, the genome index, version dumps) is a
 *    whole-run step.
 * Zod-free: the page uses it too.
 */

/** The part of a task's name in parentheses: `NFCORE:X:STAR_ALIGN (PBMC_1)` → `PBMC_1`. */
export function tagOfName(name: string | null): string | null {
  if (!name) return null;
  const open = name.indexOf(' (');
  if (open === -1 || !name.endsWith(')')) return null;
  return name.slice(open + 2, -1);
}

/** The task's tag: the trace's `tag` column when present, else its name's parenthesised part. */
export function taskTag(task: { tag?: string | null; name?: string | null }): string | null {
  const tag = task.tag?.trim();
  return tag ? tag : tagOfName(task.name ?? null);
}

/** Tags longer than this are read to this length (a tag is a few dozen characters in practice). */
const MAX_TAG_CHARS = 2_000;

const WORD = /[\p{L}\p{N}]/u;
/** A letter or digit (ASCII decided by its code, the rest by Unicode's classes). */
function isWordChar(c: string | undefined): boolean {
  if (c === undefined) return false;
  const code = c.charCodeAt(0);
  if (code < 128)
    return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
  return WORD.test(c);
}

export type SampleMatcher = (tag: string | null) => string[];

/**
 * A matcher of tags to the given sample ids (rules above). Built once per run. A tag is read
 * left to right: at each place a word starts, the longest id that ends where a word ends is
 * taken, and reading goes on after it; each candidate is one lookup in a set, so a tag costs
 * the same whatever the number of samples.
 */
export function sampleMatcher(sampleIds: readonly string[]): SampleMatcher {
  const ids = new Set(sampleIds.filter((id) => id.length > 0));
  if (ids.size === 0) return () => [];
  const longest = Math.max(...[...ids].map((id) => id.length));
  return (tag) => {
    if (!tag) return [];
    const text = tag.slice(0, MAX_TAG_CHARS);
    const found = new Set<string>();
    let i = 0;
    while (i < text.length) {
      if (i > 0 && isWordChar(text[i - 1])) {
        i++;
        continue;
      }
      let matched = 0;
      for (let j = Math.min(text.length, i + longest); j > i; j--) {
        if (isWordChar(text[j])) continue;
        const candidate = text.slice(i, j);
        if (ids.has(candidate)) {
          found.add(candidate);
          matched = j - i;
          break;
        }
      }
      i += matched > 0 ? matched : 1;
    }
    return [...found];
  };
}

/** Column names read as the sample id when the schema marks none (nf-core's usual spellings). */
const SAMPLE_ID_NAMES = ['sample', 'sampleID', 'sample_id', 'sampleId', 'id'];

type PropertySchema = { meta?: unknown };

function metaNames(property: PropertySchema): string[] {
  const meta = property.meta;
  if (typeof meta === 'string') return [meta];
  return Array.isArray(meta) ? meta.filter((m): m is string => typeof m === 'string') : [];
}

/**
 * The samplesheet column that names a sample, from the pipeline's samplesheet schema: the one
 * nf-schema maps to `meta.id` (scrnaseq, rnaseq), else the one mapped to `meta.sample` (sarek,
 * ampliseq), else a column named like a sample id; null when the sheet has no such column
 * (a header-less list: each row is its own sample).
 */
export function sampleIdColumn(inputSchema: { items?: unknown }): string | null {
  const items = (inputSchema.items ?? {}) as { properties?: Record<string, PropertySchema> };
  const properties = Object.entries(items.properties ?? {});
  for (const meta of ['id', 'sample']) {
    const column = properties.find(([, property]) => metaNames(property).includes(meta));
    if (column) return column[0];
  }
  return SAMPLE_ID_NAMES.find((name) => properties.some(([column]) => column === name)) ?? null;
}
