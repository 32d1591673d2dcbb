import { describe, expect, it } from 'vitest';
import { type DemoRequest, demoReply } from '../../../scripts/local/anthropic/demo-model';

/**
 * The offline demo model's answer once it has read a failed run and its failed task's stderr,
 * given the tool results as the platform wraps them (agent.ts).
 */
function afterReading(
  run: Record<string, unknown>,
  log: Record<string, unknown>,
): ReturnType<typeof demoReply> {
  const wrap = (tool: string, data: unknown) =>
    `<tool_output tool="${tool}" trust="untrusted data">\n${JSON.stringify(data)}\n</tool_output>`;
  const request: DemoRequest = {
    model: 'claude',
    max_tokens: 1000,
    messages: [
      { role: 'user', content: 'Why did this run fail?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'get_run', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: wrap('get_run', run) }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't2', name: 'get_task_log_tail', input: {} }] },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 't2', content: wrap('get_task_log_tail', log) }],
      },
    ],
  };
  return demoReply(request);
}

const run = (params: Record<string, unknown>) => ({
  run_id: 'run-aaaaaaaaaaaa',
  status: 'failed',
  params: { genome: 'GRCh38', ...params },
  config_content: '',
});
const log = (exit: number) => ({
  run_id: 'run-aaaaaaaaaaaa',
  task: 'NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN (S1)',
  exit,
  exit_code_meaning: null,
  memory_requested_bytes: 72 * 2 ** 30,
  stream: 'stderr',
  text: 'EXITING because of FATAL ERROR in reads input',
});

describe('the offline demo model after reading a failed task', () => {
  it('proposes twice the memory, by the simple process name, for an out-of-memory exit, even with the replay switch on', () => {
    const reply = afterReading(
      run({ replay_fail_process: 'STAR_ALIGN', replay_fail_exit_code: 137 }),
      log(137),
    );
    expect(reply.tools).toEqual([
      expect.objectContaining({
        name: 'propose_recovery',
        input: expect.objectContaining({
          config_content: "process {\n  withName: 'STAR_ALIGN' {\n    memory = 144.GB\n  }\n}\n",
          reuse_work_dir: true,
        }),
      }),
    ]);
  });

  it('proposes resuming without the replay switch for a failure the switch made', () => {
    const reply = afterReading(run({ replay_fail_process: 'STAR_ALIGN', replay_fail_exit_code: 1 }), log(1));
    expect(reply.text).toContain('`replay_fail_process: STAR_ALIGN`');
    expect(reply.tools?.[0]).toMatchObject({
      name: 'propose_recovery',
      input: {
        override_params: { replay_fail_process: null, replay_fail_exit_code: null },
        reuse_work_dir: true,
      },
    });
  });

  it('proposes an unchanged resume for a task stopped from outside (143, Spot preemption)', () => {
    for (const exit of [143, 50001]) {
      const reply = afterReading(run({}), log(exit));
      expect(reply.tools?.[0]?.input).toEqual({
        run_id: 'run-aaaaaaaaaaaa',
        reuse_work_dir: true,
        reason: expect.stringContaining(`exit ${exit}`),
      });
    }
  });

  it('proposes nothing for a failure of the task itself it cannot fix', () => {
    const reply = afterReading(run({}), log(1));
    expect(reply.tools).toBeUndefined();
    expect(reply.text).toContain('Read the lines above for the cause');
  });
});
