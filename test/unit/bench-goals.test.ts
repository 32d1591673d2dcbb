import { describe, expect, it } from 'vitest';
import { goalsTable } from '../../scripts/bench/goals';

describe("the bench's goals table", () => {
  it('says of each goal what was measured and whether it is met, and what this run did not measure', () => {
    const table = goalsTable({
      cold: {
        functions: { api: { first: { 'GET /api/health': { ratio: 1.4 }, 'GET /api/runs': { ratio: 2.4 } } } },
        slowest_other: { name: 'prepareRun', ratio: 3.1 },
      },
      monitoring: { tasks_page_ms: { first: 240, p50: 60 }, parse_ms: { speed_vs_csv_parse: 2.3 } },
      elapsed_ms: 11 * 60_000,
    });
    const row = (figure: string) => table.split('\n').find((l) => l.startsWith(figure)) ?? '';
    expect(row('api cold start to GET /api/health')).toMatch(/1\.40×\s+≤ 1\.5×\s+met$/);
    expect(row('api cold start to GET /api/runs')).toMatch(/2\.40×\s+≤ 1\.5×\s+NOT MET$/);
    expect(row('slowest other function')).toMatch(/3\.10×\s+≤ 1\.5×\s+NOT MET$/);
    expect(row('first GET /tasks page')).toMatch(/240 ms\s+≤ 300 ms\s+met$/);
    expect(row('first /tasks page ÷ a later page')).toMatch(/4\.00×\s+≤ 6×\s+met$/);
    expect(row('trace parsing')).toMatch(/2\.30×\s+≥ 2×\s+met$/);
    // Not measured is not met: it says so.
    expect(row('GET /api/runs under 50 clients')).toMatch(/—\s+≥ 0\.7×\s+not measured$/);
    expect(row('the whole bench')).toMatch(/11\.0 min\s+< 15 min\s+met$/);
  });
});
