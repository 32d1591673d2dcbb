/**
 * The execution the replay executor plays back: nf-core/scrnaseq 4.0.0 with
 * `--aligner star`. Process names, their nesting and their order come from real runs of
 * the pipeline (see orchestrator/replay/README.md for the sources); resources follow the
 * pipeline's process labels (process_low/medium/high/single in conf/base.config), and run
 * times and memory peaks are typical of a 10x Genomics v3 sample of ~5,000 cells.
 */

export const PIPELINE = 'nf-core/scrnaseq';
export const REVISION = 'e0ddddbf';
export const NEXTFLOW_VERSION = '24.04.4';

export interface ProcessModel {
  /** Short name: what replay_fail_process matches (the full name matches too). */
  short: string;
  name: string;
  /** One task per sample, or one for the whole run. */
  scope: 'sample' | 'once';
  /** Tag of a `once` task (sample tasks are tagged with the sample). */
  tag?: string;
  /** Short names of the processes whose tasks must finish first (same sample when both are per sample). */
  after: string[];
  cpus: number;
  memoryGb: number;
  /** Recorded run time range, seconds. */
  realtime: [number, number];
  /** Recorded peak RSS range, MB. */
  peakRssMb: [number, number];
  /** Average CPU use over the task, percent of one core. */
  cpuPercent: [number, number];
  readMb: [number, number];
  writeMb: [number, number];
  command: string;
  stdout: string[];
  stderr: string[];
  /** What .command.err says when the task is made to fail. */
  failure: string[];
  /**
   * Params the process's script is taken to use (modelled from the options they name, not read
   * from the pipeline): they go into its tasks' hash, so a resume with another value runs them again.
   */
  params?: string[];
  /** Result files published to params.outdir (relative; {sample} is replaced). */
  publishes: string[];
}

export const PROCESSES: ProcessModel[] = [
  {
    short: 'FASTQC',
    name: 'NFCORE_SCRNASEQ:SCRNASEQ:FASTQC_CHECK:FASTQC',
    scope: 'sample',
    after: [],
    cpus: 6,
    memoryGb: 36,
    realtime: [48, 95],
    peakRssMb: [310, 520],
    cpuPercent: [180, 290],
    readMb: [2_100, 4_400],
    writeMb: [1.2, 2.4],
    command: 'fastqc --quiet --threads 6 --memory 6144 {sample}_1.fastq.gz {sample}_2.fastq.gz',
    stdout: [
      'Started analysis of {sample}_1.fastq.gz',
      'Approx 50% complete for {sample}_1.fastq.gz',
      'Analysis complete for {sample}_1.fastq.gz',
      'Started analysis of {sample}_2.fastq.gz',
      'Analysis complete for {sample}_2.fastq.gz',
    ],
    stderr: [],
    failure: [
      'Failed to process file {sample}_1.fastq.gz',
      'uk.ac.babraham.FastQC.Sequence.SequenceFormatException: Ran out of data in the middle of a fastq entry.  Your file is probably truncated',
    ],
    publishes: ['fastqc/{sample}_1_fastqc.html', 'fastqc/{sample}_2_fastqc.html'],
  },
  {
    short: 'GTF_GENE_FILTER',
    name: 'NFCORE_SCRNASEQ:SCRNASEQ:PREPARE_GENOME:GTF_GENE_FILTER',
    scope: 'once',
    tag: 'GRCh38.primary_assembly.genome.fa',
    after: [],
    cpus: 2,
    memoryGb: 12,
    realtime: [24, 41],
    peakRssMb: [48, 96],
    cpuPercent: [88, 99],
    readMb: [1_400, 1_600],
    writeMb: [980, 1_100],
    command:
      'filter_gtf_for_genes_in_genome.py --gtf gencode.v44.annotation.gtf --fasta GRCh38.primary_assembly.genome.fa -o GRCh38_genes.gtf',
    stdout: [
      'Extracted chromosome sequence names from GRCh38.primary_assembly.genome.fa',
      'All chromosomes in fasta file: 194',
      'Wrote 1,631,024 GTF lines with chromosomes in the fasta file',
    ],
    stderr: [],
    failure: [
      'Traceback (most recent call last):',
      '  File "filter_gtf_for_genes_in_genome.py", line 61, in <module>',
      'ValueError: No overlapping scaffolds found between the GTF and the FASTA',
    ],
    publishes: [],
  },
  {
    short: 'STAR_GENOMEGENERATE',
    name: 'NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_GENOMEGENERATE',
    scope: 'once',
    tag: 'GRCh38.primary_assembly.genome.fa',
    after: ['GTF_GENE_FILTER'],
    cpus: 12,
    memoryGb: 72,
    realtime: [1_560, 2_280],
    peakRssMb: [30_800, 33_200],
    cpuPercent: [610, 880],
    readMb: [3_300, 3_600],
    writeMb: [29_500, 31_000],
    command:
      'STAR --runMode genomeGenerate --genomeDir star/ --genomeFastaFiles GRCh38.primary_assembly.genome.fa --sjdbGTFfile GRCh38_genes.gtf --runThreadN 12 --limitGenomeGenerateRAM 64424509440',
    stdout: [
      '\tSTAR --runMode genomeGenerate --runThreadN 12',
      '..... started STAR run',
      '... starting to generate Genome files',
      '..... processing annotations GTF',
      '... starting to sort Suffix Array. This may take a long time...',
      '... loading chunks from disk, packing SA...',
      '..... inserting junctions into the genome indices',
      '... writing Suffix Array to disk ...',
      '..... finished successfully',
    ],
    stderr: [],
    failure: [
      'EXITING because of FATAL PARAMETER ERROR: limitGenomeGenerateRAM=64424509440is too small for your genome',
      'SOLUTION: please specify --limitGenomeGenerateRAM not less than 71854285504 and make that much RAM available',
    ],
    publishes: [],
  },
  {
    short: 'STAR_ALIGN',
    name: 'NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN',
    scope: 'sample',
    after: ['STAR_GENOMEGENERATE'],
    cpus: 12,
    memoryGb: 72,
    realtime: [640, 1_520],
    peakRssMb: [27_400, 31_900],
    cpuPercent: [720, 1_050],
    readMb: [9_800, 21_000],
    writeMb: [2_200, 4_900],
    command:
      'STAR --genomeDir star --readFilesIn {sample}_2.fastq.gz {sample}_1.fastq.gz --runThreadN 12 --outFileNamePrefix {sample}. --soloType CB_UMI_Simple --soloCBwhitelist 3M-february-2018.txt --soloFeatures Gene --outSAMtype BAM SortedByCoordinate --readFilesCommand zcat',
    stdout: [
      '\tSTAR --genomeDir star --runThreadN 12 --soloType CB_UMI_Simple',
      '..... started STAR run',
      '..... loading genome',
      '..... started mapping',
      '..... finished mapping',
      '..... started Solo counting',
      '..... finished Solo counting',
      '..... started sorting BAM',
      '..... finished successfully',
    ],
    stderr: [],
    params: ['star_feature', 'star_ignore_sjdbgtf'],
    failure: [
      'EXITING because of FATAL ERROR in reads input: quality string length is not equal to sequence length',
      '@A00123:8:H7KGKDSXX:1:1101:10004:10019',
      'SOLUTION: fix your fastq file',
    ],
    publishes: [
      'star/{sample}/{sample}.Log.final.out',
      'star/{sample}/{sample}.Solo.out/Gene/filtered/matrix.mtx.gz',
    ],
  },
  {
    short: 'MTX_TO_H5AD',
    name: 'NFCORE_SCRNASEQ:SCRNASEQ:MTX_TO_H5AD',
    scope: 'sample',
    after: ['STAR_ALIGN'],
    cpus: 6,
    memoryGb: 36,
    realtime: [62, 170],
    peakRssMb: [1_450, 2_600],
    cpuPercent: [96, 140],
    readMb: [180, 420],
    writeMb: [160, 390],
    command:
      'mtx_to_h5ad.py --aligner star --sample {sample} --input filtered/ --out {sample}_filtered_matrix.h5ad',
    stdout: [
      'Reading matrix from filtered/',
      'AnnData object with n_obs × n_vars = 5127 × 38606',
      'Wrote {sample}_filtered_matrix.h5ad',
    ],
    stderr: [],
    failure: [
      'Traceback (most recent call last):',
      '  File "mtx_to_h5ad.py", line 48, in <module>',
      'ValueError: inconsistent shapes: 38606 features vs 36601 rows in matrix.mtx.gz',
    ],
    publishes: ['star/mtx_conversions/{sample}/{sample}_filtered_matrix.h5ad'],
  },
  {
    short: 'CELLBENDER_REMOVEBACKGROUND',
    name: 'NFCORE_SCRNASEQ:SCRNASEQ:H5AD_REMOVEBACKGROUND_BARCODES_CELLBENDER_ANNDATA:CELLBENDER_REMOVEBACKGROUND',
    scope: 'sample',
    after: ['MTX_TO_H5AD'],
    cpus: 6,
    memoryGb: 36,
    realtime: [1_700, 3_400],
    peakRssMb: [4_800, 7_300],
    cpuPercent: [450, 590],
    readMb: [350, 600],
    writeMb: [120, 260],
    command:
      'cellbender remove-background --input {sample}_raw_matrix.h5ad --output {sample}_cellbender.h5 --cpu-threads 6',
    stdout: [
      'cellbender:remove-background: Running remove-background',
      'cellbender:remove-background: Prior on counts for cells is 7413',
      'cellbender:remove-background: [epoch 150]  average training loss: 1903.2',
      'cellbender:remove-background: Completed remove-background.',
    ],
    stderr: ['WARNING: The expected_cells estimate was not supplied; using the automatic estimate.'],
    failure: [
      'Killed',
      'cellbender:remove-background: ran out of memory while computing the posterior (peak 35.9 GB)',
    ],
    publishes: ['cellbender/{sample}/{sample}_cellbender_report.html'],
  },
  {
    short: 'ANNDATA_BARCODES',
    name: 'NFCORE_SCRNASEQ:SCRNASEQ:H5AD_REMOVEBACKGROUND_BARCODES_CELLBENDER_ANNDATA:ANNDATA_BARCODES',
    scope: 'sample',
    after: ['CELLBENDER_REMOVEBACKGROUND'],
    cpus: 2,
    memoryGb: 12,
    realtime: [28, 61],
    peakRssMb: [900, 1_600],
    cpuPercent: [92, 99],
    readMb: [150, 380],
    writeMb: [120, 300],
    command:
      'anndata_barcodes.py --input {sample}_filtered_matrix.h5ad --barcodes {sample}_cellbender_barcodes.csv --output {sample}_cellbender_filter_matrix.h5ad',
    stdout: ['Keeping 4,912 of 5,127 barcodes called as cells by CellBender'],
    stderr: [],
    failure: ['KeyError: "None of the barcodes in {sample}_cellbender_barcodes.csv are in the matrix"'],
    publishes: [],
  },
  {
    short: 'CONCAT_H5AD',
    name: 'NFCORE_SCRNASEQ:SCRNASEQ:H5AD_CONVERSION:CONCAT_H5AD',
    scope: 'once',
    tag: 'combined',
    after: ['ANNDATA_BARCODES'],
    cpus: 6,
    memoryGb: 36,
    realtime: [58, 140],
    peakRssMb: [3_100, 5_600],
    cpuPercent: [97, 130],
    readMb: [600, 2_400],
    writeMb: [600, 2_400],
    command: 'concat_h5ad.py --input *.h5ad --out combined_cellbender_filter_matrix.h5ad',
    stdout: ['Concatenating samples', 'Wrote combined_cellbender_filter_matrix.h5ad'],
    stderr: [],
    failure: ['ValueError: var_names of the samples differ; were they aligned to the same reference?'],
    publishes: ['star/mtx_conversions/combined_cellbender_filter_matrix.h5ad'],
  },
  {
    short: 'ANNDATAR_CONVERT',
    name: 'NFCORE_SCRNASEQ:SCRNASEQ:H5AD_CONVERSION:ANNDATAR_CONVERT',
    scope: 'once',
    tag: 'combined',
    after: ['CONCAT_H5AD'],
    cpus: 6,
    memoryGb: 36,
    realtime: [120, 260],
    peakRssMb: [4_100, 6_900],
    cpuPercent: [98, 105],
    readMb: [600, 2_400],
    writeMb: [700, 2_900],
    command:
      'anndatar_convert.R combined_cellbender_filter_matrix.h5ad combined_cellbender_filter_matrix.Rds',
    stdout: ['Converting AnnData to SingleCellExperiment', 'Saved combined_cellbender_filter_matrix.Rds'],
    stderr: [],
    failure: ['Error in readH5AD(): file is not an HDF5 file'],
    publishes: ['star/mtx_conversions/combined_cellbender_filter_matrix.Rds'],
  },
  {
    short: 'MULTIQC',
    name: 'NFCORE_SCRNASEQ:SCRNASEQ:MULTIQC',
    scope: 'once',
    after: ['FASTQC', 'STAR_ALIGN'],
    cpus: 1,
    memoryGb: 6,
    realtime: [41, 88],
    peakRssMb: [420, 780],
    cpuPercent: [92, 99],
    readMb: [30, 90],
    writeMb: [6, 14],
    command: 'multiqc --force --config multiqc_config.yml .',
    stdout: [
      '/// MultiQC 🔍 v1.25.1',
      '       fastqc | Found {samples} reports',
      '         star | Found {samples} reports',
      '    write_results | Report      : multiqc_report.html',
      '    multiqc | MultiQC complete',
    ],
    stderr: [],
    failure: ['multiqc: error: No analysis results found. Cleaning up..'],
    publishes: ['multiqc/multiqc_report.html'],
  },
];
