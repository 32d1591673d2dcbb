/**
 * The offline demo model: what the local Anthropic twin answers when no test scripted a reply
 * and no key is set. It is a stand-in for Claude, not a language model: it reads the request
 * the way the Messages API gets it (system prompt, messages, tool results) and follows a few
 * fixed paths that really call the platform's tools — "why did this run fail?" reads the run,
 * then its failed task's stderr, then answers from what they returned and proposes a recovery:
 * with more memory for a task killed for memory, without the replay's failure switch for a
 * failure that switch made, unchanged for a task stopped from outside (SIGTERM, preemption).
 * Everything it says comes from the tool results.
 */

type Block =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | {
      type: 'tool_result';
      tool_use_id: string;
      content: string | { type: 'text'; text: string }[];
      is_error?: boolean;
    };

export interface DemoRequest {
  model: string;
  max_tokens: number;
  temperature?: number;
  system?: string | { type: 'text'; text: string }[];
  messages: { role: 'user' | 'assistant'; content: string | Block[] }[];
  tools?: { name: string }[];
  stream?: boolean;
}

export interface Reply {
  text?: string;
  tools?: { name: string; input: unknown }[];
}

const MEMORY_EXIT_CODES = [137, 140];
/** Exits that say the task was stopped from outside rather than failing by itself. */
const STOPPED_FROM_OUTSIDE: Record<number, string> = {
  143: 'stopped from outside (SIGTERM, e.g. its VM was reclaimed)',
  130: 'interrupted (SIGINT)',
  50001: 'on a Spot VM that Google Cloud preempted',
};

function blocks(content: string | Block[]): Block[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

function systemText(request: DemoRequest): string {
  return typeof request.system === 'string'
    ? request.system
    : (request.system ?? []).map((b) => b.text).join('\n');
}

/** The JSON inside a tool result (the platform wraps it in a <tool_output> tag). */
function resultData(block: Extract<Block, { type: 'tool_result' }>): Record<string, unknown> {
  const text = typeof block.content === 'string' ? block.content : block.content.map((c) => c.text).join('');
  const start = text.indexOf('\n');
  const end = text.lastIndexOf('\n');
  const json = start >= 0 && end > start ? text.slice(start + 1, end) : text;
  try {
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return { error: 'unreadable tool output' };
  }
}

/** Every tool call of the conversation with its result, oldest first. */
function toolHistory(
  request: DemoRequest,
): { name: string; input: Record<string, unknown>; result: Record<string, unknown> }[] {
  const uses = new Map<string, { name: string; input: Record<string, unknown> }>();
  const out: { name: string; input: Record<string, unknown>; result: Record<string, unknown> }[] = [];
  for (const message of request.messages) {
    for (const block of blocks(message.content)) {
      if (block.type === 'tool_use')
        uses.set(block.id, { name: block.name, input: (block.input ?? {}) as Record<string, unknown> });
      if (block.type === 'tool_result') {
        const use = uses.get(block.tool_use_id);
        if (use) out.push({ ...use, result: resultData(block) });
      }
    }
  }
  return out;
}

function lastUserText(request: DemoRequest): string {
  const last = request.messages.at(-1);
  return last
    ? blocks(last.content)
        .map((b) => (b.type === 'text' ? b.text : ''))
        .join(' ')
    : '';
}

function gib(bytes: number): number {
  return Math.ceil(bytes / 2 ** 30);
}

function afterGetRun(run: Record<string, unknown>): Reply {
  if (run.status === 'failed')
    return {
      tools: [{ name: 'get_task_log_tail', input: { run_id: run.run_id, stream: 'stderr', lines: 40 } }],
    };
  const progress = (run.progress ?? {}) as Record<string, number>;
  return {
    text: `Run ${run.run_id} (${run.pipeline} ${run.pipeline_version}) is ${run.status}: ${progress.succeeded ?? 0} task(s) succeeded, ${progress.cached ?? 0} cached, ${progress.failed ?? 0} failed.`,
  };
}

function afterLogTail(request: DemoRequest, log: Record<string, unknown>): Reply {
  const run = toolHistory(request).findLast((h) => h.name === 'get_run')?.result ?? {};
  const runId = String(log.run_id ?? run.run_id);
  const exit = log.exit as number | null;
  const meaning = (log.exit_code_meaning as string | null) ?? null;
  const lines = String(log.text ?? '')
    .split('\n')
    .filter((l) => l.trim())
    .slice(-4)
    .map((l) => `    ${l.slice(0, 200)}`)
    .join('\n');
  const text = [
    `Run ${runId} failed in task ${log.task}, exit code ${exit ?? 'unknown'}${meaning ? ` (${meaning})` : ''}.`,
    lines ? `The end of its ${log.stream}:\n\n${lines}\n` : `Its ${log.stream} is empty.`,
  ].join('\n\n');
  if (exit !== null && MEMORY_EXIT_CODES.includes(exit)) {
    // The simple name (STAR_ALIGN), which withName matches as the fully qualified one does.
    const process =
      String(log.task ?? '')
        .replace(/\s*\(.*$/, '')
        .split(':')
        .at(-1) || 'the failed process';
    const requested =
      typeof log.memory_requested_bytes === 'number' ? log.memory_requested_bytes : 32 * 2 ** 30;
    const memory = `${Math.max(gib(requested) * 2, 8)}.GB`;
    const existing = String(run.config_content ?? '').trim();
    const config = `${existing ? `${existing}\n\n` : ''}process {\n  withName: '${process}' {\n    memory = ${memory}\n  }\n}\n`;
    return {
      text: `${text}\nExit ${exit} means the task was killed, most often for using more memory than it was given. Resuming with twice the memory for ${process} should get past it; the tasks that finished are reused.`,
      tools: [
        {
          name: 'propose_recovery',
          input: {
            run_id: runId,
            config_content: config,
            reuse_work_dir: true,
            reason: `${process} was killed with exit ${exit} (out of memory); give it ${memory} and resume.`,
          },
        },
      ],
    };
  }
  const params = (run.params ?? {}) as Record<string, unknown>;
  const failSwitch = typeof params.replay_fail_process === 'string' ? params.replay_fail_process : null;
  if (failSwitch !== null) {
    const off: Record<string, null> = { replay_fail_process: null };
    if ('replay_fail_exit_code' in params) off.replay_fail_exit_code = null;
    return {
      text: `${text}\nThis failure was made on purpose: the run has \`replay_fail_process: ${failSwitch}\`, the local replay executor's switch that makes that process fail (the recorded run did not). Resuming without the switch reuses the tasks that finished and runs the rest.`,
      tools: [
        {
          name: 'propose_recovery',
          input: {
            run_id: runId,
            override_params: off,
            reuse_work_dir: true,
            reason: `The failure of ${log.task} came from the replay switch replay_fail_process; resume without it.`,
          },
        },
      ],
    };
  }
  const stopped = exit === null ? undefined : STOPPED_FROM_OUTSIDE[exit];
  if (stopped) {
    return {
      text: `${text}\nExit ${exit} means the task was ${stopped}: nothing in the task itself went wrong, so resuming as it is should get past it; the tasks that finished are reused.`,
      tools: [
        {
          name: 'propose_recovery',
          input: {
            run_id: runId,
            reuse_work_dir: true,
            reason: `${log.task} was ${stopped} (exit ${exit}); resume unchanged.`,
          },
        },
      ],
    };
  }
  return {
    text: `${text}\nRead the lines above for the cause; when you know the fix, I can propose a recovery with it.`,
  };
}

function describeResult(
  name: string,
  input: Record<string, unknown>,
  result: Record<string, unknown>,
  request: DemoRequest,
): Reply {
  if (typeof result.error === 'string') return { text: `I could not do that: ${result.error}` };
  switch (name) {
    case 'get_run':
      return afterGetRun(result);
    case 'get_task_log_tail':
      return afterLogTail(request, result);
    case 'propose_recovery':
      return result.valid
        ? {
            text: 'I proposed a recovery above. **Apply** opens the Recover dialog with it filled in; nothing starts until you confirm there.',
          }
        : { text: `My proposal has problems: ${(result.problems as string[]).join('; ')}` };
    case 'propose_params':
      return result.valid
        ? { text: 'I proposed the change above; **Apply** puts it in your draft.' }
        : { text: `The change would not validate: ${(result.problems as string[]).join('; ')}` };
    case 'get_pipeline_schema': {
      const params = (
        result.params as {
          name: string;
          type: unknown;
          default: unknown;
          description: string;
          enum?: unknown[];
        }[]
      ).slice(0, 8);
      if (params.length === 0)
        return { text: `${result.pipeline} ${result.version} has no parameter matching “${input.search}”.` };
      return {
        text: `From ${result.pipeline} ${result.version}'s nextflow_schema.json:\n\n${params
          .map(
            (p) =>
              `- \`${p.name}\` (${p.type ?? 'any'}${p.default !== null ? `, default ${JSON.stringify(p.default)}` : ''})${p.enum ? ` one of ${p.enum.slice(0, 6).join(', ')}` : ''}: ${p.description}`,
          )
          .join('\n')}`,
      };
    }
    case 'list_my_runs': {
      const runs = result.runs as {
        run_id: string;
        pipeline: string;
        status: string;
        error_message: string | null;
      }[];
      if (runs.length === 0) return { text: 'You have no runs matching that.' };
      return {
        text: runs
          .map(
            (r) =>
              `- ${r.run_id} ${r.pipeline}: ${r.status}${r.error_message ? ` — ${r.error_message}` : ''}`,
          )
          .join('\n'),
      };
    }
    case 'list_benchling_runs': {
      const runs = (result.runs ?? []) as { name: string; sample_count?: number }[];
      return {
        text: runs.length
          ? `NGS runs in Benchling:\n${runs.map((r) => `- ${r.name}`).join('\n')}`
          : 'No NGS runs matched.',
      };
    }
    default:
      return { text: `Done: ${name}.` };
  }
}

const PARAM_WORDS = [
  'genome',
  'aligner',
  'protocol',
  'expected_cells',
  'fasta',
  'gtf',
  'memory',
  'barcode',
  'chemistry',
];

export function demoReply(request: DemoRequest): Reply {
  const system = systemText(request);
  if (system.startsWith('Summarize')) {
    const gist = lastUserText(request).replace(/\s+/g, ' ').slice(-400);
    return { text: `(Offline demo model summary) The conversation so far ended with: ${gist}` };
  }
  const last = request.messages.at(-1);
  const results = last ? blocks(last.content).filter((b) => b.type === 'tool_result') : [];
  if (results.length > 0) {
    const latest = toolHistory(request).at(-1);
    if (latest) return describeResult(latest.name, latest.input, latest.result, request);
  }
  const text = lastUserText(request);
  const lower = text.toLowerCase();
  const runId = /run-[0-9a-z]{12}/.exec(text)?.[0] ?? /looking at run (run-[0-9a-z]{12})/.exec(system)?.[1];
  // "set expected_cells to 5000": a proposal the user applies to the draft.
  const setting = /\bset\s+([a-z_][a-z0-9_]*)\s+(?:to|=)\s+"?([^"\s]+)"?/i.exec(text);
  if (setting) {
    const [, name, raw] = setting as unknown as [string, string, string];
    const value = /^-?\d+(\.\d+)?$/.test(raw)
      ? Number(raw)
      : raw === 'true'
        ? true
        : raw === 'false'
          ? false
          : raw;
    return {
      text: `I'll propose setting \`${name}\` to ${JSON.stringify(value)}; it is checked against the pipeline's schema before you apply it.`,
      tools: [
        {
          name: 'propose_params',
          input: { changes: { [name]: value }, reason: `You asked to set ${name} to ${raw}.` },
        },
      ],
    };
  }
  if (/fail|why|error|crash|wrong|debug|broke/.test(lower)) {
    if (runId) return { tools: [{ name: 'get_run', input: { run_id: runId } }] };
    return { tools: [{ name: 'list_my_runs', input: { status: 'failed', limit: 5 } }] };
  }
  const word = PARAM_WORDS.find((w) => lower.includes(w));
  if (word || /param|setting|option/.test(lower))
    return { tools: [{ name: 'get_pipeline_schema', input: word ? { search: word } : {} }] };
  if (/sample|benchling|ngs|sequenc/.test(lower))
    return { tools: [{ name: 'list_benchling_runs', input: { page_size: 5 } }] };
  if (/\bruns?\b/.test(lower)) return { tools: [{ name: 'list_my_runs', input: { limit: 10 } }] };
  return {
    text: 'I\'m the offline demo model, a stand-in for Claude: no ANTHROPIC_API_KEY is set, so I follow a few fixed paths through the platform\'s tools. Ask me why a run failed, about a pipeline parameter ("which genome?"), or for your runs or Benchling samples. Set ANTHROPIC_API_KEY and restart npm start to talk to Claude.',
  };
}
