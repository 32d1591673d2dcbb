import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HALLMARK_GMT, PARSE_PBMC_CONDITIONS_TXT } from '../../../functions/core/haystack/data/reference';
import { hallmarkSets } from '../../../functions/core/haystack/gene-sets';
import { PARSE_PBMC_CONDITIONS } from '../../../functions/core/haystack/vocabulary';

describe('the shipped reference data', () => {
  it('is the GMT and the condition list beside it, byte for byte (ORIGIN.md)', () => {
    expect(HALLMARK_GMT).toBe(readFileSync('functions/core/haystack/data/h.all.v7.0.symbols.gmt', 'utf8'));
    expect(PARSE_PBMC_CONDITIONS_TXT).toBe(
      readFileSync('functions/core/haystack/data/parse_pbmc_conditions.txt', 'utf8'),
    );
  });

  it('holds the 50 Hallmark sets and Parse’s 91 conditions, PBS among them', () => {
    expect(hallmarkSets()).toHaveLength(50);
    expect(hallmarkSets().find((s) => s.name === 'HALLMARK_INTERFERON_GAMMA_RESPONSE')?.genes).toHaveLength(
      200,
    );
    expect(PARSE_PBMC_CONDITIONS).toHaveLength(91);
    expect(PARSE_PBMC_CONDITIONS).toContain('PBS');
    expect(PARSE_PBMC_CONDITIONS).toContain('IFN-gamma');
  });
});
