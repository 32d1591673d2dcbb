/**
 * The demo Benchling warehouse's content: projects, instruments, NGS runs over the last six
 * months and their samples, generated from a fixed seed relative to a reference day, so the
 * same day always gives the same rows. Shaped like a Benchling warehouse (one table per
 * registry schema, `$`-suffixed system columns, links stored as entity ids).
 */

export const DEMO_FASTQ_BUCKET = 'arc-demo-sequencing';

export interface SeedProject {
  id: string;
  name: string;
  archived: boolean;
  description: string;
  created_at: string;
}

export interface SeedInstrument {
  id: string;
  name: string;
  archived: boolean;
  model: string;
  serial_number: string;
  location: string;
  created_at: string;
}

export interface SeedRun {
  id: string;
  name: string;
  archived: boolean;
  project: string;
  instrument: string;
  run_date: string;
  flowcell_id: string;
  read_length: string;
  created_at: string;
  modified_at: string;
}

export interface SeedSample {
  id: string;
  name: string;
  archived: boolean;
  ngs_run: string;
  fastq_r1: string;
  fastq_r2: string;
  expected_cells: number | null;
  sample_type: string;
  feature_type: string;
  tissue: string;
  created_at: string;
  modified_at: string;
}

export interface WarehouseSeed {
  projects: SeedProject[];
  instruments: SeedInstrument[];
  runs: SeedRun[];
  samples: SeedSample[];
}

/** mulberry32: a tiny deterministic PRNG, so the demo data is the same on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const DAY = 86_400_000;

export function demoSeed(referenceDay: Date = new Date()): WarehouseSeed {
  const random = prng(20_261_123);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const id = (prefix: string) =>
    `${prefix}_${Array.from({ length: 8 }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]).join('')}`;
  const today = Date.UTC(
    referenceDay.getUTCFullYear(),
    referenceDay.getUTCMonth(),
    referenceDay.getUTCDate(),
  );
  const iso = (ms: number) => new Date(ms).toISOString();
  const day = (ms: number) => iso(ms).slice(0, 10);

  const projects: SeedProject[] = [
    ['Immune Atlas', 'PBMC and lymph node atlas across healthy donors', 'IA'],
    ['Tumor Microenvironment', 'Resected NSCLC and CRC tumours, with matched normal tissue', 'TME'],
    ['Organoid Development', 'Intestinal organoid differentiation time course', 'ORG'],
    ['CAR-T Persistence', 'Longitudinal CAR-T product and patient blood samples', 'CART'],
    ['Pilot 2024 (closed)', 'First feasibility runs; superseded', 'PIL'],
  ].map(([name, description], index) => ({
    id: id('src'),
    name: name!,
    archived: index === 4,
    description: description!,
    created_at: iso(today - (400 - index * 30) * DAY),
  }));
  const prefixes = ['IA', 'TME', 'ORG', 'CART', 'PIL'];
  const tissues = [
    ['PBMC', 'lymph_node', 'bone_marrow'],
    ['tumor', 'adjacent_normal', 'PBMC'],
    ['organoid_d0', 'organoid_d7', 'organoid_d14'],
    ['CAR_T_product', 'PBMC'],
    ['PBMC'],
  ];

  const instruments: SeedInstrument[] = [
    ['NovaSeq-X-01', 'Illumina NovaSeq X Plus', 'LH00412', 'Genomics Core Boston'],
    ['NovaSeq-6000-02', 'Illumina NovaSeq 6000', 'A01187', 'Genomics Core Boston'],
    ['NextSeq-2000-03', 'Illumina NextSeq 2000', 'VH00963', 'Sequencing Lab Cambridge'],
    ['MiSeq-04 (retired)', 'Illumina MiSeq', 'M04122', 'Sequencing Lab Cambridge'],
  ].map(([name, model, serial, location], index) => ({
    id: id('bfi'),
    name: name!,
    archived: index === 3,
    model: model!,
    serial_number: serial!,
    location: location!,
    created_at: iso(today - 700 * DAY),
  }));
  const liveInstruments = instruments.filter((i) => !i.archived);

  const runs: SeedRun[] = [];
  const samples: SeedSample[] = [];
  const sampleCounters = new Map<string, number>();
  const RUN_COUNT = 30;
  for (let r = 0; r < RUN_COUNT; r++) {
    // Spread over the last ~180 days, roughly weekly, newest last.
    const runDay = today - Math.round((RUN_COUNT - r) * 6 + random() * 3) * DAY;
    const projectIndex = r < 3 ? 4 : Math.floor(random() * 4);
    const project = projects[projectIndex]!;
    const instrument = r < 2 ? instruments[3]! : pick(liveInstruments);
    const date = day(runDay).replace(/-/g, '');
    const serialShort = instrument.serial_number;
    const flowcell = `${Array.from({ length: 5 }, () => pick('ABCDEFGHJKLMNPRSTVWXY0123456789'.split(''))).join('')}DSX${Math.floor(random() * 9) + 1}`;
    const run: SeedRun = {
      id: id('bfi'),
      name: `${date.slice(2)}_${serialShort}_${String(100 + r).padStart(4, '0')}_${flowcell}`,
      archived: r === 7 || r === 19,
      project: project.id,
      instrument: instrument.id,
      run_date: day(runDay),
      flowcell_id: flowcell,
      read_length: pick(['28x90', '28x90', '28x150', '26x91']),
      created_at: iso(runDay + 20 * 3600_000),
      modified_at: iso(runDay + 30 * 3600_000),
    };
    runs.push(run);

    const prefix = prefixes[projectIndex]!;
    const count = 8 + Math.floor(random() * 9);
    for (let s = 0; s < count; s++) {
      const tissue = pick(tissues[projectIndex]!);
      // Every fifth run tops up two samples of the run before it: the same sample, resequenced.
      const topUp = r % 5 === 4 && s < 2 && runs.length > 1;
      let name: string;
      if (topUp) {
        const earlier = samples.filter((x) => x.ngs_run === runs[r - 1]!.id);
        name = earlier[s]?.name ?? `${prefix}-${tissue}-${String(s + 1).padStart(3, '0')}`;
      } else {
        const n = (sampleCounters.get(prefix) ?? 0) + 1;
        sampleCounters.set(prefix, n);
        name = `${prefix}-${tissue.replace(/_/g, '-')}-${String(n).padStart(3, '0')}`;
      }
      const lane = `S${s + 1}_L00${1 + (s % 2)}`;
      const base = `gs://${DEMO_FASTQ_BUCKET}/${run.name}/${name}_${lane}`;
      const antibody = projectIndex === 3 && s % 4 === 3;
      samples.push({
        id: id('bfi'),
        name,
        archived: random() < 0.04,
        ngs_run: run.id,
        fastq_r1: `${base}_R1_001.fastq.gz`,
        fastq_r2: `${base}_R2_001.fastq.gz`,
        expected_cells: random() < 0.1 ? null : 3000 + Math.floor(random() * 15) * 500,
        sample_type: 'gex',
        feature_type: antibody ? 'ab' : 'gex',
        tissue,
        created_at: run.created_at,
        modified_at: run.modified_at,
      });
    }
  }
  return { projects, instruments, runs, samples };
}

/** `gs://bucket/name` → its parts. */
export function splitGsUri(uri: string): { bucket: string; name: string } {
  const match = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new Error(`not a gs:// URI: ${uri}`);
  return { bucket: match[1]!, name: match[2]! };
}
