/**
 * Issue 22's goals, each a ratio or count from the same bench run, and whether it is met: the
 * table `npm run bench` prints at the end. A goal whose figure this run did not measure (a
 * section left out with --only, or not measured yet) says so rather than passing.
 */
type Results = Record<string, unknown>;

export interface Goal {
  figure: string;
  goal: string;
  /** The figure from the run's results; undefined when the run did not measure it. */
  value(results: Results): number | undefined;
  met(value: number): boolean;
  format(value: number): string;
}

const at = (results: Results, ...path: string[]): number | undefined => {
  let node: unknown = results;
  for (const key of path)
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  return typeof node === 'number' && Number.isFinite(node) ? node : undefined;
};
const times = (v: number) => `${v.toFixed(2)}×`;
const millis = (v: number) => `${Math.round(v)} ms`;

export const GOALS: Goal[] = [
  {
    figure: 'api cold start to GET /api/health ÷ bare hello-world',
    goal: '≤ 1.5×',
    value: (r) => at(r, 'cold', 'functions', 'api', 'first', 'GET /api/health', 'ratio'),
    met: (v) => v <= 1.5,
    format: times,
  },
  {
    figure: 'api cold start to GET /api/runs ÷ bare hello-world',
    goal: '≤ 1.5×',
    value: (r) => at(r, 'cold', 'functions', 'api', 'first', 'GET /api/runs', 'ratio'),
    met: (v) => v <= 1.5,
    format: times,
  },
  {
    figure: 'api cold start to GET /api/runs ÷ a bare function doing the same Firestore reads',
    goal: '≤ 1.2×',
    value: (r) => at(r, 'cold', 'api_runs_over_bare_firestore'),
    met: (v) => v <= 1.2,
    format: times,
  },
  {
    figure: 'slowest other function to its first answer ÷ bare hello-world',
    goal: '≤ 1.5×',
    value: (r) => at(r, 'cold', 'slowest_other', 'ratio'),
    met: (v) => v <= 1.5,
    format: times,
  },
  {
    figure: 'first GET /tasks page of a 100,000-task run',
    goal: '≤ 300 ms',
    value: (r) => at(r, 'monitoring', 'tasks_page_ms', 'first'),
    met: (v) => v <= 300,
    format: millis,
  },
  {
    figure: 'first /tasks page sorted by realtime, filtered (another instance)',
    goal: '≤ 300 ms',
    value: (r) => at(r, 'monitoring', 'tasks_page_ms', 'first_by_realtime'),
    met: (v) => v <= 300,
    format: millis,
  },
  {
    figure: 'first /tasks page ÷ a later page (p50)',
    goal: '≤ 6×',
    value: (r) => {
      const first = at(r, 'monitoring', 'tasks_page_ms', 'first');
      const later = at(r, 'monitoring', 'tasks_page_ms', 'p50');
      return first !== undefined && later ? first / later : undefined;
    },
    met: (v) => v <= 6,
    format: times,
  },
  {
    figure: 'GET /samples of a 200-sample, 20,000-task run ÷ a /tasks page (p50)',
    goal: '≤ 2×',
    value: (r) => at(r, 'samples', 'samples_over_tasks_p50'),
    met: (v) => v <= 2,
    format: times,
  },
  {
    figure: 'ingest per trace chunk counting 200 samples ÷ counting none',
    goal: '≤ 1.1×',
    value: (r) => at(r, 'samples', 'ingest_ms_per_chunk', 'ratio'),
    met: (v) => v <= 1.1,
    format: times,
  },
  {
    figure: 'ingest per trace chunk of a run with a budget ÷ without (issue 33)',
    goal: '≤ 1.1×',
    value: (r) => at(r, 'samples', 'budget_ingest_ms_per_chunk', 'ratio'),
    met: (v) => v <= 1.1,
    format: times,
  },
  {
    figure: 'GET /api/runs under 50 clients ÷ the same Firestore reads direct',
    goal: '≥ 0.7×',
    value: (r) => at(r, 'load', 'throughput_ratio'),
    met: (v) => v >= 0.7,
    format: times,
  },
  {
    figure: 'GET routes under 50 clients ÷ a bare function doing the same reads',
    goal: '≥ 0.8×',
    value: (r) => at(r, 'load', 'throughput_over_bare'),
    met: (v) => v >= 0.8,
    format: times,
  },
  {
    figure: 'GET routes under 50 clients: p99 ÷ the bare function’s p99',
    goal: '≤ 3×',
    value: (r) => at(r, 'load', 'p99_over_bare_p99'),
    met: (v) => v <= 3,
    format: times,
  },
  {
    figure: 'GET routes under 50 clients: p99 ÷ p50',
    goal: '≤ 5×',
    value: (r) => at(r, 'load', 'p99_over_p50'),
    met: (v) => v <= 5,
    format: times,
  },
  {
    figure: 'trace parsing ÷ csv-parse',
    goal: '≥ 2×',
    value: (r) => at(r, 'monitoring', 'parse_ms', 'speed_vs_csv_parse'),
    met: (v) => v >= 2,
    format: times,
  },
  {
    figure: 'the whole bench',
    goal: '< 15 min',
    value: (r) => at(r, 'elapsed_ms'),
    met: (v) => v < 15 * 60_000,
    format: (v) => `${(v / 60_000).toFixed(1)} min`,
  },
];

/** One line per goal: the figure, what was measured, the goal, and met / not met / not measured. */
export function goalsTable(results: Results): string {
  const rows = GOALS.map((goal) => {
    const value = goal.value(results);
    return [
      goal.figure,
      value === undefined ? '—' : goal.format(value),
      goal.goal,
      value === undefined ? 'not measured' : goal.met(value) ? 'met' : 'NOT MET',
    ];
  });
  const header = ['figure', 'measured', 'goal', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
