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

const ESCAPE = /[.*+?^${}()|[\]\\]/g;

/** Tags longer than this are read to this length (a tag is a few dozen characters in practice). */
const MAX_TAG_CHARS = 2_000;

export type SampleMatcher = (tag: string | null) => string[];

/**
 * A matcher of tags to the given sample ids (rules above). Built once per run: one regular
 * expression of every id, longest first, so a tag costs one scan whatever the number of samples.
 */
export function sampleMatcher(sampleIds: readonly string[]): SampleMatcher {
  const ids = [...new Set(sampleIds.filter((id) => id.length > 0))].sort((a, b) => b.length - a.length);
  if (ids.length === 0) return () => [];
  const pattern = new RegExp(
    `(?<![\\p{L}\\p{N}])(?:${ids.map((id) => id.replace(ESCAPE, '\\$&')).join('|')})(?![\\p{L}\\p{N}])`,
    'gu',
  );
  return (tag) => {
    if (!tag) return [];
    const found = new Set<string>();
    for (const match of tag.slice(0, MAX_TAG_CHARS).matchAll(pattern)) found.add(match[0]);
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
