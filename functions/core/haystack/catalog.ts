/** Which cells exist for (dataset, cell type, condition, donor), and which matched controls. */
import { type AnnData, column, stringColumn } from './anndata';
import { DATASET_DEFINITIONS, type DatasetName } from './vocabulary';

export interface CellFilter {
  cell_type?: string;
  condition?: string;
  donors?: string[];
}

export class AtlasCatalog {
  constructor(private readonly atlases: Partial<Record<DatasetName, AnnData>>) {}

  atlas(dataset: DatasetName): AnnData {
    const found = this.atlases[dataset];
    if (!found) throw new Error(`The ${dataset} atlas is not loaded.`);
    return found;
  }

  datasets(): DatasetName[] {
    return Object.keys(this.atlases) as DatasetName[];
  }

  /** Row indices of the cells that match. */
  cells(dataset: DatasetName, filter: CellFilter): number[] {
    const adata = this.atlas(dataset);
    const types = stringColumn(adata.obs, 'cell_type');
    const conditions = stringColumn(adata.obs, 'condition');
    const donors = stringColumn(adata.obs, 'donor_id');
    const out: number[] = [];
    for (let i = 0; i < types.length; i++) {
      if (filter.cell_type && types[i] !== filter.cell_type) continue;
      if (filter.condition && conditions[i] !== filter.condition) continue;
      if (filter.donors && !filter.donors.includes(donors[i]!)) continue;
      out.push(i);
    }
    return out;
  }

  /** The distinct donors among `indices`. */
  donorsOf(dataset: DatasetName, indices: number[]): string[] {
    const donors = stringColumn(this.atlas(dataset).obs, 'donor_id');
    return [...new Set(indices.map((i) => donors[i]!))].sort();
  }

  /**
   * Matched controls of a prompt: the same dataset, cell type and donors, in a control
   * condition (PBS, DMSO, untreated …).
   */
  matchedControls(
    dataset: DatasetName,
    cellType: string,
    donors: string[],
  ): { indices: number[]; condition: string | null } {
    const adata = this.atlas(dataset);
    const controls = DATASET_DEFINITIONS[dataset].controls;
    const isControl = column(adata.obs, 'is_control');
    const conditions = stringColumn(adata.obs, 'condition');
    for (const condition of controls) {
      const indices = this.cells(dataset, { cell_type: cellType, condition, donors }).filter(
        (i) => isControl.kind === 'bool' && isControl.values[i],
      );
      if (indices.length > 0) return { indices, condition: conditions[indices[0]!]! };
    }
    return { indices: [], condition: null };
  }

  /** Distinct values of an obs column, sorted. */
  values(dataset: DatasetName, name: string): string[] {
    return [...new Set(stringColumn(this.atlas(dataset).obs, name))].sort();
  }
}
