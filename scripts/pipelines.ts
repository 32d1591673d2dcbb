/**
 * `npm run pipelines`: writes functions/core/nextflow/pipelines/catalog.ts from the folders;
 * `npm run pipelines -- add <owner/name> <version>` fetches a release and adds its folder first.
 */
import { AddPipelineError, addPipeline } from './lib/pipeline-add';
import { PIPELINES_DIR, writeCatalog } from './pipelines-catalog';

async function main(args: string[]): Promise<number> {
  if (args.length === 0) {
    await writeCatalog();
    return 0;
  }
  if (args[0] !== 'add' || args.length !== 3) {
    console.error(
      'Usage: npm run pipelines                              write catalog.ts from the folders\n       npm run pipelines -- add <owner/name> <version>  fetch a release from GitHub and add it\n(PIPELINES_SOURCE_URL overrides https://raw.githubusercontent.com, e.g. for a local twin.)',
    );
    return 2;
  }
  try {
    const result = await addPipeline({
      name: args[1]!,
      version: args[2]!,
      dir: PIPELINES_DIR,
      ...(process.env.PIPELINES_SOURCE_URL ? { source: process.env.PIPELINES_SOURCE_URL } : {}),
    });
    const columns = Object.entries(result.samplesheetFromBenchling)
      .map(
        ([column, source]) =>
          `${column} ← ${'field' in source ? `Benchling ${source.field}` : JSON.stringify(source.value)}`,
      )
      .join(', ');
    console.log(
      `${result.created ? 'Added' : 'Added version'} ${args[1]} ${result.version} in ${result.folder}/ (${result.files.join(', ')}); catalog.ts rewritten.\n` +
        `Nextflow it needs: ${result.nextflowVersion ?? 'not declared by its nextflow.config'}.\n` +
        `Samplesheet from Benchling: ${columns || 'no column maps to a Benchling field'}; edit samplesheet_from_benchling in ${result.folder}/pipeline.json if the pipeline needs more.`,
    );
    return 0;
  } catch (error) {
    if (error instanceof AddPipelineError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
