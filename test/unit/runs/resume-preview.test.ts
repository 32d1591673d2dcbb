import { describe, expect, it } from 'vitest';
import { parseTrace } from '../../../functions/core/nextflow/trace';
import { configChange, withNameBlocks } from '../../../functions/core/runs/resume-preview';
import { rerunReason, type TaskOutcome } from '../../../functions/core/runs/run-tasks';

describe('what of a Nextflow config a recovery changes', () => {
  const before = `process {
  withName: 'STAR_ALIGN' { memory = 72.GB }
  withName: "FASTQC|MULTIQC" { ext.args = '--quiet' }
}
params.max_cpus = 12
`;
  it('reads each withName block and the text outside them', () => {
    const { blocks, rest } = withNameBlocks(before);
    expect([...blocks.keys()]).toEqual(['STAR_ALIGN', 'FASTQC|MULTIQC']);
    expect(blocks.get('STAR_ALIGN')!.trim()).toBe('memory = 72.GB');
    expect(rest.replace(/\s+/g, ' ').trim()).toBe('process { } params.max_cpus = 12');
  });

  it.each([
    [
      'the same text, spaced and commented differently',
      before.replace('72.GB', '72.GB // as before').replace(/\n/g, '\n\n'),
      'none',
      [],
    ],
    ['one block', before.replace('72.GB', '96.GB'), 'processes', ['STAR_ALIGN']],
    [
      'a block added',
      `${before}process { withName: 'CELLBENDER' { cpus = 4 } }`,
      'processes',
      ['CELLBENDER'],
    ],
    ['a setting outside any block', before.replace('max_cpus = 12', 'max_cpus = 16'), 'whole', []],
  ] as const)('%s', (_, after, kind, selectors) => {
    expect(configChange(before, after)).toEqual({ kind, selectors });
  });
});

describe('why a recovery task ran again', () => {
  const recovery = { is_recovery: true, reused_work_dir: true, parent_run_id: 'run-parent000001' };
  const parent = new Map<string, TaskOutcome>([
    ['ALIGN (S1)', { status: 'FAILED', hash: 'aa/111111', exit: 137 }],
    ['ALIGN (S2)', { status: 'COMPLETED', hash: 'bb/222222', exit: 0 }],
    ['QC (S1)', { status: 'COMPLETED', hash: 'cc/333333', exit: 0 }],
    ['QC (S2)', { status: 'ABORTED', hash: 'dd/444444', exit: null }],
  ]);
  const task = (name: string, status: string, hash: string) =>
    parseTrace(`task_id\thash\tname\tstatus\n1\t${hash}\t${name}\t${status}\n`).tasks[0]!;

  it.each([
    ['ALIGN (S1)', 'COMPLETED', 'ee/555555', 'it failed in run-parent000001 (exit 137)'],
    [
      'ALIGN (S2)',
      'COMPLETED',
      'ff/666666',
      'its hash changed (bb/222222 → ff/666666): its inputs, script or a param its script uses changed',
    ],
    [
      'QC (S1)',
      'COMPLETED',
      'cc/333333',
      'it finished in run-parent000001 but its work dir or cache entry was gone',
    ],
    ['QC (S2)', 'FAILED', 'gg/777777', 'it was stopped when run-parent000001 ended'],
    [
      'MULTIQC',
      'COMPLETED',
      'hh/888888',
      'new: run-parent000001 never reached it (or its samples or params differ)',
    ],
    ['QC (S1)', 'CACHED', 'cc/333333', null],
  ])('%s %s → %s', (name, status, hash, reason) => {
    expect(rerunReason(recovery, task(name, status, hash), parent)).toBe(reason);
  });

  it('says nothing for a run that recovers nothing, and everything runs when it started afresh', () => {
    const t = task('QC (S1)', 'COMPLETED', 'cc/333333');
    expect(rerunReason({ ...recovery, is_recovery: false }, t, parent)).toBeNull();
    expect(rerunReason({ ...recovery, reused_work_dir: false }, t, parent)).toMatch(/started afresh/);
  });
});
