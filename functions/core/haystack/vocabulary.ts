/**
 * The three datasets HAYSTACK prompts from, with their real vocabulary: names of conditions,
 * cell types (with Cell Ontology ids), donors and compounds. The cells themselves are
 * synthetic (atlas.ts); the names are the datasets' own.
 */
import { PARSE_PBMC_CONDITIONS_TXT } from './data/reference';
import { hallmarkSet } from './gene-sets';

export const DATASETS = ['parse_pbmc', 'openproblems', 'tabula_sapiens'] as const;
export type DatasetName = (typeof DATASETS)[number];

export interface CellType {
  name: string;
  ontology_id: string;
  /** Marker genes expressed high in this type. */
  markers: string[];
  /** How strongly the type responds to a cytokine program (monocytes most). */
  responsiveness: number;
}

export const CELL_TYPES: Record<string, CellType> = {
  'CD14-positive monocyte': {
    name: 'CD14-positive monocyte',
    ontology_id: 'CL:0001054',
    markers: ['CD14', 'LYZ', 'S100A8', 'S100A9', 'FCN1'],
    responsiveness: 1,
  },
  'natural killer cell': {
    name: 'natural killer cell',
    ontology_id: 'CL:0000623',
    markers: ['NKG7', 'GNLY', 'KLRD1', 'PRF1', 'GZMB'],
    responsiveness: 0.7,
  },
  'CD4-positive, alpha-beta T cell': {
    name: 'CD4-positive, alpha-beta T cell',
    ontology_id: 'CL:0000624',
    markers: ['CD3E', 'CD4', 'IL7R', 'CCR7', 'LTB'],
    responsiveness: 0.6,
  },
  'CD8-positive, alpha-beta T cell': {
    name: 'CD8-positive, alpha-beta T cell',
    ontology_id: 'CL:0000625',
    markers: ['CD3E', 'CD8A', 'CD8B', 'GZMK', 'CCL5'],
    responsiveness: 0.6,
  },
  'regulatory T cell': {
    name: 'regulatory T cell',
    ontology_id: 'CL:0000815',
    markers: ['CD3E', 'FOXP3', 'IL2RA', 'CTLA4', 'TIGIT'],
    responsiveness: 0.6,
  },
  'B cell': {
    name: 'B cell',
    ontology_id: 'CL:0000236',
    markers: ['MS4A1', 'CD79A', 'CD79B', 'CD19', 'BANK1'],
    responsiveness: 0.5,
  },
  'plasmacytoid dendritic cell': {
    name: 'plasmacytoid dendritic cell',
    ontology_id: 'CL:0000784',
    markers: ['LILRA4', 'IL3RA', 'CLEC4C', 'IRF7', 'TCF4'],
    responsiveness: 0.8,
  },
  macrophage: {
    name: 'macrophage',
    ontology_id: 'CL:0000235',
    markers: ['CD68', 'C1QA', 'C1QB', 'APOE', 'MRC1'],
    responsiveness: 0.9,
  },
  hepatocyte: {
    name: 'hepatocyte',
    ontology_id: 'CL:0000182',
    markers: ['ALB', 'APOA1', 'TTR', 'SERPINA1', 'HP'],
    responsiveness: 0.4,
  },
  'fibroblast of lung': {
    name: 'fibroblast of lung',
    ontology_id: 'CL:0002553',
    markers: ['COL1A1', 'COL1A2', 'DCN', 'PDGFRA', 'LUM'],
    responsiveness: 0.8,
  },
  'myeloid leukocyte': {
    name: 'myeloid leukocyte',
    ontology_id: 'CL:0000766',
    markers: ['CD14', 'LYZ', 'CSF1R', 'FCN1', 'S100A8'],
    responsiveness: 1,
  },
};

/** Cell Ontology parents (is_a) used by the ontology prompt strategy. */
export const ONTOLOGY_PARENTS: Record<string, { id: string; name: string }> = {
  'CL:0001054': { id: 'CL:0000576', name: 'monocyte' },
  'CL:0000235': { id: 'CL:0000766', name: 'myeloid leukocyte' },
  'CL:0000766': { id: 'CL:0000738', name: 'leukocyte' },
  'CL:0000623': { id: 'CL:0000542', name: 'lymphocyte' },
  'CL:0000624': { id: 'CL:0000624', name: 'CD4-positive, alpha-beta T cell' },
  'CL:0000625': { id: 'CL:0000084', name: 'T cell' },
  'CL:0000815': { id: 'CL:0000084', name: 'T cell' },
  'CL:0000236': { id: 'CL:0000542', name: 'lymphocyte' },
  'CL:0000784': { id: 'CL:0000451', name: 'dendritic cell' },
  'CL:0002553': { id: 'CL:0000057', name: 'fibroblast' },
  'CL:0000182': { id: 'CL:0000066', name: 'epithelial cell' },
};

export interface Dataset {
  name: DatasetName;
  title: string;
  /** Conditions, the control(s) among them. */
  conditions: string[];
  controls: string[];
  cell_types: { label: string; cell_type: CellType; tissue: string }[];
  donors: string[];
  /** Cells per (donor, cell type, condition) group. */
  cells_per_group: number;
  /** Controls get more cells: every perturbed group's donor and type has matched controls. */
  control_cells_per_group: number;
  /** Only some (donor, condition) pairs are measured, as in a real screen. */
  donors_per_condition: number;
  /** Cell types whose control wells are missing (failed QC, as happens): no synthetic control for them. */
  missing_controls?: string[];
  /**
   * The donors' disease state in CELLxGENE's words: all three real datasets profiled healthy
   * donors ("normal"), so every cell of the synthetic atlas is "normal" too.
   */
  disease_state: string;
}

export const PARSE_PBMC_CONDITIONS: string[] = PARSE_PBMC_CONDITIONS_TXT.split('\n').filter(Boolean);

/** OpenProblems' NeurIPS 2023 perturbation compounds used here (sm_name), controls first. */
export const OPENPROBLEMS_COMPOUNDS = [
  'Dimethyl Sulfoxide',
  'Dabrafenib',
  'Belinostat',
  'Alvocidib',
  'Crizotinib',
  'Dasatinib',
  'Idelalisib',
  'Trametinib',
];

const pbmc = (label: string, tissue = 'blood') => ({ label, cell_type: CELL_TYPES[label]!, tissue });

export const DATASET_DEFINITIONS: Record<DatasetName, Dataset> = {
  parse_pbmc: {
    name: 'parse_pbmc',
    title: 'Parse Biosciences 10M PBMCs, 90 cytokines (synthetic cells, real condition names)',
    conditions: PARSE_PBMC_CONDITIONS,
    controls: ['PBS'],
    cell_types: [
      pbmc('CD14-positive monocyte'),
      pbmc('natural killer cell'),
      pbmc('CD4-positive, alpha-beta T cell'),
      pbmc('CD8-positive, alpha-beta T cell'),
      pbmc('B cell'),
      pbmc('plasmacytoid dendritic cell'),
    ],
    donors: Array.from({ length: 12 }, (_, i) => `Donor${i + 1}`),
    cells_per_group: 4,
    control_cells_per_group: 6,
    donors_per_condition: 2,
    disease_state: 'normal',
  },
  openproblems: {
    name: 'openproblems',
    title: 'OpenProblems single-cell perturbations (synthetic cells, real compound names)',
    conditions: OPENPROBLEMS_COMPOUNDS,
    controls: ['Dimethyl Sulfoxide'],
    cell_types: [
      { label: 'NK cells', cell_type: CELL_TYPES['natural killer cell']!, tissue: 'blood' },
      { label: 'T cells CD4+', cell_type: CELL_TYPES['CD4-positive, alpha-beta T cell']!, tissue: 'blood' },
      { label: 'T cells CD8+', cell_type: CELL_TYPES['CD8-positive, alpha-beta T cell']!, tissue: 'blood' },
      { label: 'T regulatory cells', cell_type: CELL_TYPES['regulatory T cell']!, tissue: 'blood' },
      { label: 'B cells', cell_type: CELL_TYPES['B cell']!, tissue: 'blood' },
      { label: 'Myeloid cells', cell_type: CELL_TYPES['myeloid leukocyte']!, tissue: 'blood' },
    ],
    donors: ['Donor 1', 'Donor 2', 'Donor 3'],
    cells_per_group: 8,
    control_cells_per_group: 12,
    donors_per_condition: 3,
    // Their DMSO wells are missing: a question about them cannot have a synthetic control.
    missing_controls: ['T regulatory cells'],
    disease_state: 'normal',
  },
  tabula_sapiens: {
    name: 'tabula_sapiens',
    title: 'Tabula Sapiens, unperturbed tissues (synthetic cells, real Cell Ontology names)',
    conditions: ['untreated'],
    controls: ['untreated'],
    cell_types: [
      pbmc('fibroblast of lung', 'lung'),
      pbmc('macrophage', 'lung'),
      pbmc('hepatocyte', 'liver'),
      pbmc('CD14-positive monocyte'),
      pbmc('natural killer cell'),
      pbmc('CD4-positive, alpha-beta T cell'),
      pbmc('CD8-positive, alpha-beta T cell'),
      pbmc('regulatory T cell'),
      pbmc('B cell'),
      pbmc('plasmacytoid dendritic cell'),
    ],
    donors: ['TSP1', 'TSP2', 'TSP3', 'TSP4'],
    cells_per_group: 30,
    control_cells_per_group: 30,
    donors_per_condition: 4,
    disease_state: 'normal',
  },
};

/** What a condition does: the Hallmark programs its biology implies, and how strongly. */
export const CONDITION_PROGRAMS: Record<string, { set: string; strength: number }[]> = {
  'IFN-gamma': [{ set: 'HALLMARK_INTERFERON_GAMMA_RESPONSE', strength: 1.04 }],
  'IFN-beta': [{ set: 'HALLMARK_INTERFERON_ALPHA_RESPONSE', strength: 0.91 }],
  'IFN-alpha1': [{ set: 'HALLMARK_INTERFERON_ALPHA_RESPONSE', strength: 0.85 }],
  'IFN-omega': [{ set: 'HALLMARK_INTERFERON_ALPHA_RESPONSE', strength: 0.72 }],
  'IFN-lambda1': [{ set: 'HALLMARK_INTERFERON_ALPHA_RESPONSE', strength: 0.33 }],
  'TNF-alpha': [{ set: 'HALLMARK_TNFA_SIGNALING_VIA_NFKB', strength: 0.98 }],
  'IL-1-beta': [{ set: 'HALLMARK_TNFA_SIGNALING_VIA_NFKB', strength: 0.85 }],
  'IL-1-alpha': [{ set: 'HALLMARK_TNFA_SIGNALING_VIA_NFKB', strength: 0.72 }],
  'IL-6': [{ set: 'HALLMARK_IL6_JAK_STAT3_SIGNALING', strength: 0.91 }],
  OSM: [{ set: 'HALLMARK_IL6_JAK_STAT3_SIGNALING', strength: 0.85 }],
  'IL-2': [{ set: 'HALLMARK_IL2_STAT5_SIGNALING', strength: 0.91 }],
  'IL-15': [{ set: 'HALLMARK_IL2_STAT5_SIGNALING', strength: 0.85 }],
  'TGF-beta1': [{ set: 'HALLMARK_TGF_BETA_SIGNALING', strength: 0.98 }],
  'IL-4': [{ set: 'HALLMARK_IL6_JAK_STAT3_SIGNALING', strength: 0.39 }],
  Belinostat: [{ set: 'HALLMARK_MYC_TARGETS_V1', strength: -0.65 }],
  Dabrafenib: [{ set: 'HALLMARK_KRAS_SIGNALING_UP', strength: -0.65 }],
};

/** The sets the synthetic genes are drawn from (program sets first, then background biology). */
const GENE_SOURCES: { set: string; take: number }[] = [
  { set: 'HALLMARK_INTERFERON_GAMMA_RESPONSE', take: 50 },
  { set: 'HALLMARK_INTERFERON_ALPHA_RESPONSE', take: 30 },
  { set: 'HALLMARK_TNFA_SIGNALING_VIA_NFKB', take: 45 },
  { set: 'HALLMARK_IL6_JAK_STAT3_SIGNALING', take: 35 },
  { set: 'HALLMARK_IL2_STAT5_SIGNALING', take: 35 },
  { set: 'HALLMARK_TGF_BETA_SIGNALING', take: 35 },
  { set: 'HALLMARK_MYC_TARGETS_V1', take: 25 },
  { set: 'HALLMARK_KRAS_SIGNALING_UP', take: 20 },
  { set: 'HALLMARK_OXIDATIVE_PHOSPHORYLATION', take: 25 },
  { set: 'HALLMARK_GLYCOLYSIS', take: 20 },
  { set: 'HALLMARK_E2F_TARGETS', take: 20 },
  { set: 'HALLMARK_HYPOXIA', take: 20 },
  { set: 'HALLMARK_FATTY_ACID_METABOLISM', take: 20 },
];

export const HOUSEKEEPING = [
  'ACTB',
  'GAPDH',
  'B2M',
  'RPLP0',
  'RPL13A',
  'RPS18',
  'EEF1A1',
  'TPT1',
  'MALAT1',
  'PPIA',
  'UBC',
  'HPRT1',
  'TBP',
  'PGK1',
  'YWHAZ',
];

let genes: string[] | null = null;

/** The ~400 genes of every synthetic dataset: markers, housekeeping, then Hallmark genes. */
export function atlasGenes(): string[] {
  if (genes) return genes;
  const out = new Set<string>();
  for (const type of Object.values(CELL_TYPES)) for (const marker of type.markers) out.add(marker);
  for (const gene of HOUSEKEEPING) out.add(gene);
  for (const { set, take } of GENE_SOURCES) {
    let taken = 0;
    for (const gene of hallmarkSet(set).genes) {
      if (taken >= take) break;
      if (!out.has(gene)) {
        out.add(gene);
        taken += 1;
      }
    }
  }
  genes = [...out];
  return genes;
}
