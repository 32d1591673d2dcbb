/** A valid nf-core/scrnaseq samplesheet: `samples` samples, `lanes` rows each. */
export function samplesheet(samples = 2, lanes = 1, bucket = 'arc-demo-fastq'): string {
  const rows = ['sample,fastq_1,fastq_2,expected_cells'];
  for (let s = 1; s <= samples; s++) {
    for (let l = 1; l <= lanes; l++) {
      const base = `gs://${bucket}/ngs/S${s}_L00${l}`;
      rows.push(`SAMPLE_${s},${base}_R1_001.fastq.gz,${base}_R2_001.fastq.gz,5000`);
    }
  }
  return `${rows.join('\n')}\n`;
}

export function runBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    pipeline: 'nf-core/scrnaseq',
    pipeline_version: '4.0.0',
    samplesheet_csv: samplesheet(),
    params: { aligner: 'star', protocol: '10XV3', genome: 'GRCh38' },
    ...overrides,
  };
}

/** Creates every gs:// object a samplesheet names in the local GCS server, so the pre-launch check finds them. */
export async function createFastqsFor(
  gcs: { putObject(bucket: string, name: string, content: Buffer, contentType: string): Promise<unknown> },
  csv: string,
): Promise<void> {
  for (const [, bucket, name] of csv.matchAll(/gs:\/\/([^/,\s]+)\/([^,\s]+)/g)) {
    await gcs.putObject(bucket!, name!, Buffer.from('@r\nACGT\n+\nFFFF\n'), 'application/gzip');
  }
}

/** The objects of `samplesheet(samples ≤ 10, lanes ≤ 4)`: created by the test API and stack helpers. */
export const STANDARD_FASTQS = samplesheet(10, 4);
