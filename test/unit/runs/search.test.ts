import { describe, expect, it } from 'vitest';
import { MAX_SEARCH_TERMS, searchKey, searchTerms } from '../../../functions/core/runs/search';

const run = (overrides: Partial<Parameters<typeof searchTerms>[0]> = {}) => ({
  name: null,
  samples: [],
  source_ngs_runs: [],
  source_project: null,
  ...overrides,
});

describe('search terms', () => {
  it('finds a run by the start of its name, any word of it, its samples, NGS runs and project, in any case', () => {
    const terms = searchTerms(
      run({
        name: 'PBMC stim Day 3',
        samples: ['PBMC_1'],
        source_ngs_runs: ['261128_VH00963'],
        source_project: 'Organoids',
      }),
    );
    for (const typed of ['pb', 'PBMC s', 'stim', 'day', 'pbmc_1', '2611', 'organ'])
      expect(terms, typed).toContain(searchKey(typed));
    expect(terms).not.toContain('p');
    expect(terms).not.toContain('mc');
  });

  it(`stays within ${MAX_SEARCH_TERMS} terms however many samples a run has, the name's first`, () => {
    const samples = Array.from({ length: 2_000 }, (_, i) => `SAMPLE_${String(i).padStart(5, '0')}_LONG_NAME`);
    const terms = searchTerms(run({ name: 'Atlas', samples }));
    expect(terms).toHaveLength(MAX_SEARCH_TERMS);
    expect(new Set(terms).size).toBe(terms.length);
    expect(terms).toContain('atlas');
  });

  it('cuts a very long word at 40 characters, as the search box does', () => {
    const long = 'x'.repeat(100);
    const terms = searchTerms(run({ samples: [long] }));
    expect(Math.max(...terms.map((t) => t.length))).toBe(40);
    expect(searchKey(`  ${long.toUpperCase()} `)).toBe('x'.repeat(40));
  });
});
