import { describe, expect, it } from 'vitest';
import { patternInWords } from '../../../functions/core/shared/json-schema';

describe('a failed pattern, in words', () => {
  it.each([
    // nf-core/scrnaseq's email param
    [
      '^([a-zA-Z0-9_\\-\\.]+)@([a-zA-Z0-9_\\-\\.]+)\\.([a-zA-Z]{2,5})$',
      'must be an email address, e.g. name@example.org',
    ],
    ['^\\S+\\.csv$', 'must be a file name ending in .csv'],
    ['^\\S+\\.(csv|tsv|yaml|json)$', 'must be a file name ending in .csv or .tsv or .yaml or .json'],
    ['^\\S+\\.fn?a(sta)?(\\.gz)?$', 'must be a FASTA file name (.fa or .fasta, optionally .gz)'],
    ['^\\S+\\.gtf(\\.gz)?$', 'must be a file name ending in .gtf (optionally .gz)'],
    ['^\\S+\\.f(ast)?q\\.gz$', 'must be a FASTQ file name (.fastq.gz or .fq.gz)'],
    ['^\\S+$', 'must not contain spaces'],
    ['^\\d+$', 'is not in the form this field takes (the rule is ^\\d+$)'],
  ])('%s', (pattern, words) => {
    expect(patternInWords(pattern)).toBe(words);
  });
});
