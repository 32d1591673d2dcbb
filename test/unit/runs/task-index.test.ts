import { describe, expect, it } from 'vitest';
import { parseTrace } from '../../../functions/core/nextflow/trace';
import { queryTasks, TasksQuery } from '../../../functions/core/runs/run-tasks';
import {
  buildTaskIndex,
  parseTaskIndex,
  selectRows,
  taskFromLine,
  taskIndexName,
} from '../../../functions/core/runs/task-index';

const HEADER = 'task_id\tname\tstatus\tprocess\ttag\trealtime';
const trace = [
  HEADER,
  '3\tA (x)\tCOMPLETED\tWF:A\tx\t10s',
  'not\ta\trow',
  '',
  '1\tB (ü)\tFAILED\tWF:SUB:B\tü…\t5s',
  '-\tC\tABORTED\tWF:A\t-\t-',
  '2\tA (y)\tCACHED\tWF:A\ty\t1s',
].join('\n');

describe('the task index of a trace', () => {
  const index = buildTaskIndex(trace, 'runs/run-x/logs/trace.txt', '7')!;

  it('holds each row’s id, status, process and byte span, skipping what parseTrace skips', () => {
    expect(index.task_id).toEqual([3, 1, null, 2]);
    expect(index.status.map((s) => (s === null ? null : index.statuses[s]))).toEqual([
      'COMPLETED',
      'FAILED',
      'ABORTED',
      'CACHED',
    ]);
    const bytes = Buffer.from(trace);
    const lines = index.start.map((start, i) => bytes.subarray(start, index.end[i]).toString('utf8'));
    expect(lines).toEqual(trace.split('\n').filter((l) => /^(\d|-)\t/.test(l)));
    expect(taskFromLine(index, 1, lines[1]!)).toEqual(parseTrace(trace).tasks[1]);
    // A line that is not the row (the trace changed under the index) is refused.
    expect(taskFromLine(index, 0, lines[1]!)).toBeNull();
  });

  it('orders and filters rows as queryTasks does', () => {
    const tasks = parseTrace(trace).tasks;
    for (const q of [
      {},
      { order: 'desc' },
      { status: 'failed,cached' },
      { process: 'A' },
      { process: 'WF:SUB:B' },
    ]) {
      const query = TasksQuery.parse(q);
      const statuses = query.status ? new Set(query.status.toUpperCase().split(',')) : null;
      const rows = selectRows([index], { statuses, process: query.process }, query.order);
      expect(rows.map((r) => index.task_id[r.row])).toEqual(
        queryTasks(tasks, query).tasks.map((t) => t.task_id),
      );
    }
  });

  it('is read back only when it has the shape of one', () => {
    expect(parseTaskIndex(JSON.stringify(index))).toEqual(index);
    for (const broken of [
      'not json',
      'null',
      JSON.stringify({ ...index, v: 2 }),
      JSON.stringify({ ...index, start: index.start.slice(1) }),
      JSON.stringify({ ...index, end: index.end.map((e) => e - 10_000) }),
      JSON.stringify({ ...index, processes: [1] }),
    ])
      expect(parseTaskIndex(broken)).toBeNull();
  });

  it('is kept under the run’s index/tasks/, named after its trace', () => {
    expect(taskIndexName('runs/run-x/logs/live/trace.02-000007.tsv')).toBe(
      'runs/run-x/index/tasks/trace.02-000007.tsv.json',
    );
    expect(taskIndexName('runs/run-x/logs/trace.txt')).toBe('runs/run-x/index/tasks/trace.txt.json');
    expect(buildTaskIndex('', 'runs/run-x/logs/trace.txt', '1')).toBeNull();
  });
});
