import { describe, expect, it } from 'vitest';
import { NUMERIC_TASK_FIELDS, parseTrace } from '../../../functions/core/nextflow/trace';
import { queryTasks, TasksQuery } from '../../../functions/core/runs/run-tasks';
import {
  buildTaskIndex,
  combineIndexes,
  encodeIndexes,
  findRow,
  indexSections,
  parseBaseSection,
  parseValueSection,
  selectRows,
  type TaskIndex,
  taskFilter,
  taskFromLine,
} from '../../../functions/core/runs/task-index';
import { taskIndexName } from '../../../functions/core/shared/bucket-layout';

const HEADER = 'task_id\tname\tstatus\tprocess\ttag\trealtime\t%cpu\tpeak_rss';
const trace = [
  HEADER,
  '3\tA (x)\tCOMPLETED\tWF:A\tx\t10s\t99.5%\t2 GB',
  'not\ta\trow',
  '',
  '1\tB (ü)\tFAILED\tWF:SUB:B\tü…\t5s\t-\t1 GB',
  '-\tC\tABORTED\tWF:A\t-\t-\t12.25%\t1 GB',
  '2\tA (y)\tCACHED\tWF:A\ty\t1s\t12.25%\t-',
  '4\tA (z)\tCOMPLETED\tWF:A\tz\t10s\t0.1%\t1 GB',
].join('\n');

/** An index object as the store lists it. */
const info = (content: Buffer, metadata: Record<string, string>) => ({
  name: 'runs/run-x/index/tasks/trace.txt.idx',
  size: content.length,
  updated: '2026-01-01T00:00:00Z',
  contentType: 'application/octet-stream',
  generation: '1',
  metadata,
});
/** An index object read back section by section, as a reader reads it. */
function decode({ content, metadata }: { content: Buffer; metadata: Record<string, string> }) {
  const sections = indexSections(info(content, metadata))!;
  const text = (range: [number, number]) => content.subarray(...range).toString('utf8');
  const bases = parseBaseSection(text(sections.get('base')!))!;
  const indexes: TaskIndex[] = bases.map((base) => ({ ...base, values: {} }));
  for (const [name, range] of sections)
    if (name !== 'base')
      parseValueSection(text(range), bases)!.forEach((column, i) => {
        if (column) indexes[i]!.values[name] = column;
      });
  return indexes;
}
const roundTrip = (indexes: TaskIndex[]) => decode(encodeIndexes(indexes));

describe('the task index of a trace', () => {
  const index = buildTaskIndex(trace, 'runs/run-x/logs/trace.txt', '7')!;

  it('holds each row’s id, status, process and byte span, skipping what parseTrace skips', () => {
    expect(index.task_id).toEqual([3, 1, null, 2, 4]);
    expect(index.status.map((s) => (s === null ? null : index.statuses[s]))).toEqual([
      'COMPLETED',
      'FAILED',
      'ABORTED',
      'CACHED',
      'COMPLETED',
    ]);
    // The numeric fields the trace has, as parseTrace reads them; none for the fields it lacks.
    expect(index.values).toEqual({
      realtime: [10_000, 5_000, null, 1_000, 10_000],
      cpu_percent: [99.5, null, 12.25, 12.25, 0.1],
      peak_rss: [2 * 1024 ** 3, 1024 ** 3, 1024 ** 3, null, 1024 ** 3],
    });
    const bytes = Buffer.from(trace);
    const lines = index.start.map((start, i) => bytes.subarray(start, index.end[i]).toString('utf8'));
    expect(lines).toEqual(trace.split('\n').filter((l) => /^(\d|-)\t/.test(l)));
    expect(taskFromLine(index, 1, lines[1]!)).toEqual(parseTrace(trace).tasks[1]);
    // A line that is not the row (the trace changed under the index) is refused.
    expect(taskFromLine(index, 0, lines[1]!)).toBeNull();
  });

  it('orders and filters rows as queryTasks does, by every numeric field, ties and nulls included', () => {
    // Read back from its object, as a page reads it; two copies of the trace, as two chunks.
    const stored = roundTrip([index])![0]!;
    const tasks = parseTrace(trace).tasks;
    for (const sort of NUMERIC_TASK_FIELDS)
      for (const q of [
        {},
        { order: 'desc' },
        { status: 'failed,cached,completed' },
        { process: 'A', order: 'desc' },
        { process: 'WF:SUB:B' },
      ]) {
        const query = TasksQuery.parse({ ...q, sort });
        const rows = selectRows([stored, { ...stored, source: 'second' }], taskFilter(query), {
          field: query.sort,
          order: query.order,
        });
        const table = [...tasks, ...tasks.map((t) => ({ ...t }))];
        const expected = queryTasks(table, { ...query, page_size: 500 }).tasks;
        expect(rows.map((r) => `${r.index.source}:${r.row}`)).toEqual(
          expected.map((t) => {
            const at = table.indexOf(t);
            return `${at < tasks.length ? index.source : 'second'}:${at % tasks.length}`;
          }),
        );
      }
  });

  it('finds a task’s last row, as the whole table’s findLast does', () => {
    const second = { ...index, source: 'second', task_id: [9, 3, null, 7, 8] };
    expect(findRow([index, second], 3)).toEqual({ index: second, row: 1 });
    expect(findRow([index, second], 4)).toEqual({ index, row: 4 });
    expect(findRow([index, second], 5)).toBeNull();
  });

  it('is stored in sections, the base then each numeric field the trace has, said where in its metadata', () => {
    const { content, metadata } = encodeIndexes([index, { ...index, source: 'second', values: {} }]);
    const sections = indexSections(info(content, metadata))!;
    expect([...sections.keys()]).toEqual(['base', 'realtime', 'cpu_percent', 'peak_rss']);
    const [from, to] = sections.get('realtime')!;
    expect(JSON.parse(content.subarray(from, to).toString('utf8'))).toEqual([index.values.realtime, null]);
    expect(roundTrip([index, { ...index, source: 'second', values: {} }])).toEqual([
      index,
      { ...index, source: 'second', values: {} },
    ]);
  });

  it('rolls up with others by joining their sections, leaving out what is not an index', () => {
    const second = { ...index, source: 'second', values: {} };
    const third = { ...index, source: 'third', values: { exit: index.task_id.map(() => 0) } };
    const member = (encoded: { content: Buffer; metadata: Record<string, string> }) => ({
      content: encoded.content,
      info: info(encoded.content, encoded.metadata),
    });
    const broken = { content: Buffer.from('[]'), info: info(Buffer.from('[]'), {}) };
    const rollup = combineIndexes([
      member(encodeIndexes([index, second])),
      broken,
      member(encodeIndexes([])),
      member(encodeIndexes([third])),
    ]);
    expect(rollup.metadata['arc-task-index-traces']).toBe('3');
    expect(decode(rollup)).toEqual([index, second, third]);
    // A rollup of rollups, the same way.
    expect(decode(combineIndexes([member(rollup), member(encodeIndexes([second]))]))).toEqual([
      index,
      second,
      third,
      second,
    ]);
  });

  it('is read back only when it has the shape of one', () => {
    const { content, metadata } = encodeIndexes([index]);
    const sections = JSON.parse(metadata['arc-task-index-sections']!) as Record<string, [number, number]>;
    const withSections = (changed: Record<string, unknown>) => ({
      ...metadata,
      'arc-task-index-sections': JSON.stringify({ ...sections, ...changed }),
    });
    // The metadata: another format, sections out of the object or of unknown names.
    for (const broken of [
      {},
      { ...metadata, 'arc-task-index': '1' },
      { ...metadata, 'arc-task-index-sections': 'not json' },
      withSections({ base: undefined }),
      withSections({ base: [0, content.length + 1] }),
      withSections({ realtime: [5, 4] }),
      withSections({ name: [0, 1] }),
      { ...metadata, 'arc-task-index-sections': `{"__proto__":[0,1],"base":[${sections.base}]}` },
    ])
      expect(indexSections(info(content, broken))).toBeNull();
    // The sections: not JSON, or not the shape of an index.
    const base = JSON.parse(content.subarray(...sections.base!).toString('utf8'));
    for (const broken of [
      'not json',
      'null',
      JSON.stringify(base[0]),
      JSON.stringify([{ ...base[0], start: index.start.slice(1) }]),
      JSON.stringify([{ ...base[0], end: index.end.map((e) => e - 10_000) }]),
      JSON.stringify([{ ...base[0], processes: [1] }]),
      JSON.stringify([{ ...base[0], task_id: 'x' }]),
    ])
      expect(parseBaseSection(broken)).toBeNull();
    expect(parseBaseSection(JSON.stringify(base))).toEqual(
      [{ ...index, values: undefined }].map(({ values: _, ...b }) => b),
    );
    for (const broken of [
      'null',
      '[]',
      JSON.stringify([index.values.realtime!.slice(1)]),
      JSON.stringify([index.values.realtime!.map(String)]),
      JSON.stringify([index.values.realtime, null]),
    ])
      expect(parseValueSection(broken, base)).toBeNull();
    expect(parseValueSection('[null]', base)).toEqual([null]);
  });

  it('is kept under the run’s index/tasks/, named after its trace', () => {
    expect(taskIndexName('runs/run-x/logs/live/trace.02-000007.tsv')).toBe(
      'runs/run-x/index/tasks/trace.02-000007.tsv.idx',
    );
    expect(taskIndexName('runs/run-x/logs/trace.txt')).toBe('runs/run-x/index/tasks/trace.txt.idx');
    expect(buildTaskIndex('', 'runs/run-x/logs/trace.txt', '1')).toBeNull();
  });
});
