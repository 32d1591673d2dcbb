/**
 * The synthetic atlas: cells of the three datasets, generated deterministically from a seed
 * (same seed → the same counts, byte for byte). Expression rate = gene baseline × cell-type
 * identity × donor × the condition's program (the Hallmark sets its biology implies) ×
 * library size; counts are Poisson draws. Everything it makes says it is synthetic.
 */
import type { AnnData, Column } from './anndata';
import { hallmarkSet } from './gene-sets';
import { hashSeed, Rng } from './random';
import {
  atlasGenes,
  CONDITION_PROGRAMS,
  DATASET_DEFINITIONS,
  type DatasetName,
  HOUSEKEEPING,
} from './vocabulary';

export const ATLAS_VERSION = 1;

interface GeneModel {
  baseline: Float64Array;
  /** cell type → per-gene identity factor */
  identity: Map<string, Float64Array>;
}

function geneModel(seed: number): GeneModel {
  const genes = atlasGenes();
  const rng = new Rng(hashSeed('genes', seed));
  const baseline = new Float64Array(genes.length);
  genes.forEach((gene, g) => {
    baseline[g] = Math.exp(Math.log(1.5) + 0.9 * rng.normal()) * (HOUSEKEEPING.includes(gene) ? 8 : 1);
  });
  const identity = new Map<string, Float64Array>();
  const allTypes = new Map<string, string[]>();
  for (const dataset of Object.values(DATASET_DEFINITIONS))
    for (const { cell_type } of dataset.cell_types) allTypes.set(cell_type.name, cell_type.markers);
  for (const [name, markers] of [...allTypes].sort(([a], [b]) => a.localeCompare(b))) {
    const typeRng = new Rng(hashSeed(`identity/${name}`, seed));
    identity.set(
      name,
      Float64Array.from(
        genes,
        (gene) => Math.exp(0.45 * typeRng.normal()) * (markers.includes(gene) ? 12 : 1),
      ),
    );
  }
  return { baseline, identity };
}

/** Per-gene multiplicative effect of a condition on a cell type of this responsiveness. */
export function conditionEffect(condition: string, responsiveness: number, seed: number): Float64Array {
  const genes = atlasGenes();
  const effect = new Float64Array(genes.length).fill(1);
  const programs = CONDITION_PROGRAMS[condition];
  const rng = new Rng(hashSeed(`program/${condition}`, seed));
  if (programs) {
    for (const { set, strength } of programs) {
      const members = new Set(hallmarkSet(set).genes);
      genes.forEach((gene, g) => {
        if (!members.has(gene)) return;
        const u = 0.5 + rng.uniform();
        effect[g]! *= Math.exp(strength * responsiveness * u);
      });
    }
    return effect;
  }
  // Most conditions do little: a third move a handful of genes weakly, the rest nothing.
  if (rng.uniform() < 1 / 3) {
    for (let k = 0; k < 8; k++) {
      const g = Math.floor(rng.uniform() * genes.length);
      effect[g]! *= Math.exp((rng.uniform() < 0.5 ? -1 : 1) * 0.35 * responsiveness);
    }
  }
  return effect;
}

/** Which donors measured a condition: all for controls, a seeded few for the rest. */
export function donorsFor(dataset: DatasetName, condition: string, seed: number): string[] {
  const definition = DATASET_DEFINITIONS[dataset];
  if (definition.controls.includes(condition)) return definition.donors;
  const rng = new Rng(hashSeed(`donors/${dataset}/${condition}`, seed));
  const donors = [...definition.donors];
  for (let i = donors.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [donors[i], donors[j]] = [donors[j]!, donors[i]!];
  }
  return donors.slice(0, definition.donors_per_condition).sort();
}

export function generateDataset(dataset: DatasetName, seed: number): AnnData {
  const definition = DATASET_DEFINITIONS[dataset];
  const genes = atlasGenes();
  const model = geneModel(seed);
  const rng = new Rng(hashSeed(`cells/${dataset}`, seed));
  const donorFactor = new Map<string, Float64Array>();
  for (const donor of definition.donors) {
    const donorRng = new Rng(hashSeed(`donor/${dataset}/${donor}`, seed));
    donorFactor.set(
      donor,
      Float64Array.from(genes, () => Math.exp(0.15 * donorRng.normal())),
    );
  }
  const obs = {
    cell_type: [] as string[],
    cell_type_label: [] as string[],
    cell_type_ontology_term_id: [] as string[],
    tissue: [] as string[],
    condition: [] as string[],
    donor_id: [] as string[],
    is_control: [] as boolean[],
  };
  const rows: Float32Array[] = [];
  for (const condition of definition.conditions) {
    const control = definition.controls.includes(condition);
    for (const { label, cell_type, tissue } of definition.cell_types) {
      if (control && definition.missing_controls?.includes(label)) continue;
      const effect = conditionEffect(condition, cell_type.responsiveness, seed);
      const identity = model.identity.get(cell_type.name)!;
      for (const donor of donorsFor(dataset, condition, seed)) {
        const perDonor = donorFactor.get(donor)!;
        const n = control ? definition.control_cells_per_group : definition.cells_per_group;
        for (let k = 0; k < n; k++) {
          const library = Math.exp(0.25 * rng.normal());
          const row = new Float32Array(genes.length);
          for (let g = 0; g < genes.length; g++) {
            row[g] = rng.poisson(model.baseline[g]! * identity[g]! * perDonor[g]! * effect[g]! * library);
          }
          rows.push(row);
          obs.cell_type.push(cell_type.name);
          obs.cell_type_label.push(label);
          obs.cell_type_ontology_term_id.push(cell_type.ontology_id);
          obs.tissue.push(tissue);
          obs.condition.push(condition);
          obs.donor_id.push(donor);
          obs.is_control.push(control);
        }
      }
    }
  }
  const X = { rows: rows.length, cols: genes.length, data: new Float32Array(rows.length * genes.length) };
  rows.forEach((row, i) => {
    X.data.set(row, i * genes.length);
  });
  const str = (values: string[]): Column => ({ kind: 'string', values });
  return {
    obs: {
      index: rows.map((_, i) => `${dataset}-${String(i).padStart(6, '0')}`),
      columns: [
        ['dataset', str(rows.map(() => dataset))],
        ['cell_type', str(obs.cell_type)],
        ['cell_type_label', str(obs.cell_type_label)],
        ['cell_type_ontology_term_id', str(obs.cell_type_ontology_term_id)],
        ['tissue', str(obs.tissue)],
        ['condition', str(obs.condition)],
        ['donor_id', str(obs.donor_id)],
        ['is_control', { kind: 'bool', values: obs.is_control }],
      ],
    },
    var: { index: genes, columns: [['gene_symbol', str(genes)]] },
    X,
    uns: {
      synthetic: 'true',
      dataset_kind: 'synthetic',
      dataset,
      title: definition.title,
      seed,
      generator: `arc-reactor synthetic atlas v${ATLAS_VERSION}`,
      note: 'Synthetic cells with the real dataset vocabulary. Not measured data.',
    },
  };
}
