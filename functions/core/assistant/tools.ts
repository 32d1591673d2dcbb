/**
 * The assistant's tools. Each runs as the caller, through the same services and access checks
 * as the API (another user's run is "not found" here as there). Six read; three propose a
 * change the user may apply, validated by the validators a launch and a recovery use. None
 * launches, cancels or recovers anything.
 */
import { z } from 'zod';
import { BenchlingRunsQuery, type BenchlingService, WarehouseName } from '../benchling/sample-warehouse';
import { exitCodeHint, failedTaskExitCode } from '../nextflow/exit-codes';
import type { SpotPrices } from '../nextflow/metrics';
import { paramDefinitions, validateParams } from '../nextflow/params';
import { getPipelineVersion, listPipelines } from '../nextflow/pipelines/registry';
import { validateSamplesheet } from '../nextflow/samplesheet';
import type { TraceTask } from '../nextflow/trace';
import { estimateLaunch } from '../runs/cost-estimate';
import type { RunStore } from '../runs/ports';
import { mergeParams, RECOVERABLE, recoveryInputs } from '../runs/recovery';
import { pipelineRecommendations } from '../runs/right-sizing';
import { RunId } from '../runs/run-model';
import { configProblems, getAccessibleRun, getRunWithHistory, listRuns } from '../runs/run-service';
import type { TaskSet } from '../runs/run-tasks';
import { readTaskLogs, type TaskLogSource } from '../runs/task-logs';
import { runPaths } from '../shared/bucket-layout';
import type { Caller } from '../shared/caller';
import { DomainError, NotFoundError, ValidationError } from '../shared/errors';
import type { ChatContext } from './chat-request';
import type { ToolSpec } from './ports';
import type { Proposal } from './ui-stream';

export interface AssistantToolDeps {
  runs: RunStore;
  tasks: { tasks(runId: string): Promise<TaskSet> };
  taskLogs: TaskLogSource[];
  benchling: BenchlingService;
  /** The runs bucket: where a run's samplesheet and results would go (for validation). */
  bucket: string;
  /** The price table of the cost estimate. */
  prices: SpotPrices;
}

export interface ToolCall {
  caller: Caller;
  context: ChatContext | undefined;
}

export interface ToolResult {
  /** The chip's line: what the tool did, in words. */
  summary: string;
  /** What the model is given (JSON-able; truncated before it is sent). */
  result: unknown;
  proposal?: Proposal;
}

interface Tool<I extends z.ZodType> {
  name: string;
  description: string;
  input: I;
  run(deps: AssistantToolDeps, call: ToolCall, input: z.output<I>): Promise<ToolResult>;
}

const define = <I extends z.ZodType>(tool: Tool<I>) => tool as unknown as Tool<z.ZodType>;

/** How much of a log the model may read: the end of it, where errors are. */
export const LOG_TAIL_MAX_LINES = 200;
export const LOG_TAIL_MAX_CHARS = 8_000;

const Reason = z.string().min(1).max(1_000).describe('one or two sentences: why this change');
const Params = z.record(z.string().max(200), z.unknown());

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function tail(text: string, lines: number): { text: string; truncated: boolean } {
  const all = text.replace(/\n$/, '').split('\n');
  const kept = all.slice(-lines).join('\n');
  const clipped = kept.length > LOG_TAIL_MAX_CHARS ? kept.slice(-LOG_TAIL_MAX_CHARS) : kept;
  return { text: clipped, truncated: all.length > lines || clipped.length < kept.length };
}

function pipelineOf(call: ToolCall, input: { pipeline?: string; pipeline_version?: string }) {
  const draft = call.context?.draft;
  const pipeline = input.pipeline ?? draft?.pipeline ?? 'nf-core/scrnaseq';
  const version =
    input.pipeline_version ?? (pipeline === draft?.pipeline ? draft?.pipeline_version : undefined);
  return getPipelineVersion(pipeline, version || undefined);
}

function taskLabel(task: TraceTask): string {
  return task.name ?? task.process ?? `task ${task.task_id}`;
}

/** The run's failed task: the one the run's error names, else the last FAILED in the trace. */
function failedTask(tasks: TraceTask[], errorTask: string | null): TraceTask | undefined {
  const failed = tasks.filter((t) => t.status === 'FAILED');
  return (errorTask ? failed.findLast((t) => t.name === errorTask) : undefined) ?? failed.at(-1);
}

export const TOOLS = [
  define({
    name: 'get_pipeline_schema',
    description:
      "A pipeline's parameters from its own nextflow_schema.json (name, type, default, allowed values, help) and its samplesheet columns. Filter with `search` to keep the answer short.",
    input: z.object({
      pipeline: z.string().max(200).optional().describe('e.g. nf-core/scrnaseq; default: the draft’s'),
      pipeline_version: z.string().max(100).optional(),
      search: z.string().max(100).optional().describe('only params whose name, group or help contains this'),
    }),
    async run(_deps, call, input) {
      const { pipeline, release } = pipelineOf(call, input);
      const needle = input.search?.toLowerCase();
      const params = paramDefinitions(release.nextflowSchema)
        .filter(({ schema }) => schema.hidden !== true)
        .filter(({ name, group, schema }) =>
          needle
            ? [name, group ?? '', String(schema.description ?? ''), String(schema.help_text ?? '')]
                .join(' ')
                .toLowerCase()
                .includes(needle)
            : true,
        )
        .map(({ name, group, schema }) => ({
          name,
          group,
          type: schema.type ?? null,
          default: schema.default ?? null,
          ...(Array.isArray(schema.enum) ? { enum: schema.enum.slice(0, 30) } : {}),
          ...(schema.pattern ? { pattern: schema.pattern } : {}),
          description: clip(String(schema.description ?? ''), 300),
          ...(schema.help_text && needle ? { help: clip(String(schema.help_text), 600) } : {}),
        }));
      const items = (release.inputSchema.items ?? {}) as {
        properties?: Record<string, unknown>;
        required?: string[];
      };
      return {
        summary: `read ${pipeline.name} ${release.version} parameters${input.search ? ` matching “${input.search}”` : ''}`,
        result: {
          pipeline: pipeline.name,
          version: release.version,
          known_versions: pipeline.versions.map((v) => v.version),
          params,
          samplesheet_columns: Object.keys(items.properties ?? {}),
          samplesheet_required: items.required ?? [],
          other_pipelines: listPipelines().map((p) => p.name),
        },
      };
    },
  }),
  define({
    name: 'list_my_runs',
    description:
      "The user's own runs, newest first: id, pipeline, status, when, and the error of failed ones.",
    input: z.object({
      status: z.enum(['pending', 'submitted', 'running', 'completed', 'failed', 'cancelled']).optional(),
      limit: z.number().int().min(1).max(20).default(10),
    }),
    async run(deps, call, input) {
      const page = await listRuns(deps, call.caller, {
        scope: 'mine',
        status: input.status,
        page: 1,
        page_size: input.limit,
      });
      return {
        summary: `listed ${page.runs.length} of your ${input.status ?? ''} runs`.replace(/\s+/g, ' '),
        result: {
          total: page.total,
          runs: page.runs.map((r) => ({
            run_id: r.run_id,
            pipeline: `${r.pipeline} ${r.pipeline_version}`,
            status: r.status,
            created_at: r.created_at,
            samples: r.sample_count,
            error_message: r.error_message ? clip(r.error_message, 300) : null,
          })),
        },
      };
    },
  }),
  define({
    name: 'get_run',
    description:
      'One run: status, pipeline, params, progress, its status history, and for a failed run the failed task, exit code, what the exit code means and the error block from nextflow.log.',
    input: z.object({ run_id: RunId.optional().describe('default: the run the user is looking at') }),
    async run(deps, call, input) {
      const runId = input.run_id ?? call.context?.run_id;
      if (!runId)
        throw new ValidationError('Say which run: no run_id was given and the user is not looking at one.');
      const run = await getRunWithHistory(deps, call.caller, runId, true);
      return {
        summary: `read run ${run.run_id} (${run.status})`,
        result: {
          run_id: run.run_id,
          pipeline: run.pipeline,
          pipeline_version: run.pipeline_version,
          status: run.status,
          created_at: run.created_at,
          params: run.params,
          config_content: clip(run.config_content, 2_000),
          samples: run.samples.slice(0, 50),
          progress: run.progress,
          executor: run.executor,
          error_task: run.error_task,
          // Nextflow's own exit (1 whenever a task fails) and the failed task's, which says why.
          exit_code: run.exit_code,
          failed_task_exit_code: failedTaskExitCode(run.error_detail),
          exit_code_meaning: exitCodeHint(failedTaskExitCode(run.error_detail) ?? run.exit_code),
          error_message: run.error_message ? clip(run.error_message, 1_000) : null,
          error_detail: run.error_detail ? clip(run.error_detail, 3_000) : null,
          recoverable: RECOVERABLE.includes(run.status),
          recoveries: run.recoveries,
          history: (run.events ?? []).slice(-20).map((e) => ({ at: e.at, to: e.to, detail: e.detail })),
        },
      };
    },
  }),
  define({
    name: 'get_task_log_tail',
    description:
      "The end of one task's stderr or stdout (.command.err / .command.out). Default task: the run's failed task.",
    input: z.object({
      run_id: RunId.optional().describe('default: the run the user is looking at'),
      task: z
        .string()
        .max(300)
        .optional()
        .describe('task id, or (part of) its name, e.g. STAR_ALIGN (PBMC_1)'),
      stream: z.enum(['stderr', 'stdout']).default('stderr'),
      lines: z.number().int().min(1).max(LOG_TAIL_MAX_LINES).default(80),
    }),
    async run(deps, call, input) {
      const runId = input.run_id ?? call.context?.run_id;
      if (!runId)
        throw new ValidationError('Say which run: no run_id was given and the user is not looking at one.');
      const run = await getAccessibleRun(deps, call.caller, runId);
      const { tasks } = await deps.tasks.tasks(run.run_id);
      const wanted = input.task?.trim();
      const task = !wanted
        ? failedTask(tasks, run.error_task)
        : /^\d+$/.test(wanted)
          ? tasks.findLast((t) => t.task_id === Number(wanted))
          : tasks.findLast((t) => taskLabel(t).toLowerCase().includes(wanted.toLowerCase()));
      if (!task) {
        throw new ValidationError(
          wanted
            ? `No task matching "${wanted}" in run ${run.run_id}'s trace (${tasks.length} tasks).`
            : `Run ${run.run_id} has no failed task in its trace (${tasks.length} tasks); name one.`,
        );
      }
      const logs = await readTaskLogs(deps.taskLogs, run.run_id, task);
      const { text, truncated } = tail(logs[input.stream], input.lines);
      return {
        summary: `read ${taskLabel(task)} ${input.stream}`,
        result: {
          run_id: run.run_id,
          task_id: task.task_id,
          task: taskLabel(task),
          status: task.status,
          exit: task.exit,
          exit_code_meaning: exitCodeHint(task.exit),
          attempt: task.attempt,
          memory_requested_bytes: task.memory,
          peak_rss_bytes: (task as { peak_rss?: number | null }).peak_rss ?? null,
          stream: input.stream,
          truncated: truncated || logs.truncated,
          text,
        },
      };
    },
  }),
  define({
    name: 'list_benchling_runs',
    description: 'NGS runs in the Benchling warehouse, newest first; filter by text, project or dates.',
    // The API's own query schema: the same bounds and patterns as GET /api/benchling/runs.
    input: BenchlingRunsQuery,
    async run(deps, _call, input) {
      const page = await deps.benchling.runs(input);
      return { summary: `searched Benchling NGS runs${input.q ? ` for “${input.q}”` : ''}`, result: page };
    },
  }),
  define({
    name: 'list_benchling_samples',
    description: 'The samples of one Benchling NGS run, with FASTQ paths and metadata.',
    input: z.object({ ngs_run: WarehouseName }),
    async run(deps, _call, input) {
      const found = await deps.benchling.runSamples(input.ngs_run);
      return { summary: `read the samples of ${input.ngs_run}`, result: found };
    },
  }),
  define({
    name: 'propose_params',
    description:
      "Propose parameter changes for the new-run draft (or based on a run's params). The user sees a diff and decides; nothing is launched. Changes are a JSON Merge Patch: a value sets, null removes.",
    input: z.object({
      changes: Params,
      reason: Reason,
      base_run_id: RunId.optional().describe("start from this run's params instead of the draft"),
      pipeline: z.string().max(200).optional(),
      pipeline_version: z.string().max(100).optional(),
    }),
    async run(deps, call, input) {
      let base: Record<string, unknown>;
      let pipelineName = input.pipeline;
      let version = input.pipeline_version;
      if (input.base_run_id) {
        const run = await getAccessibleRun(deps, call.caller, input.base_run_id);
        base = run.params;
        pipelineName ??= run.pipeline;
        version ??= run.pipeline_version;
      } else {
        base = call.context?.draft?.params ?? {};
      }
      const { pipeline, release } = pipelineOf(call, { pipeline: pipelineName, pipeline_version: version });
      const merged = mergeParams(base, input.changes);
      const validation = validateParams(
        release.nextflowSchema,
        merged,
        {
          input: `gs://${deps.bucket}/${runPaths(deps.bucket, 'proposal').samplesheet}`,
          outdir: `gs://${deps.bucket}/${runPaths(deps.bucket, 'proposal').results}`,
        },
        { genomes: release.igenomes },
      );
      const problems = validation.errors.map((e) => e.message);
      const proposal: Proposal = {
        kind: 'params',
        pipeline: pipeline.name,
        pipeline_version: release.version,
        changes: input.changes,
        base,
        valid: problems.length === 0,
        problems,
        reason: input.reason,
      };
      return {
        summary: `proposed ${Object.keys(input.changes).length} parameter change(s)${problems.length ? ` (${problems.length} problem(s))` : ''}`,
        result: { valid: proposal.valid, problems, warnings: validation.warnings },
        proposal,
      };
    },
  }),
  define({
    name: 'propose_samplesheet',
    description:
      "Propose a samplesheet (CSV) for the new-run draft, validated against the pipeline's samplesheet schema. The user sees it and decides.",
    input: z.object({
      csv: z.string().min(1).max(200_000),
      reason: Reason,
      pipeline: z.string().max(200).optional(),
      pipeline_version: z.string().max(100).optional(),
    }),
    async run(_deps, call, input) {
      const { pipeline, release } = pipelineOf(call, input);
      const validation = validateSamplesheet(input.csv, release.inputSchema, 'csv');
      const problems = validation.errors.map((e) => e.message);
      const proposal: Proposal = {
        kind: 'samplesheet',
        pipeline: pipeline.name,
        pipeline_version: release.version,
        csv: input.csv,
        valid: problems.length === 0,
        problems,
        reason: input.reason,
      };
      return {
        summary: `proposed a samplesheet of ${validation.sample_count} sample(s)${problems.length ? ` (${problems.length} problem(s))` : ''}`,
        result: {
          valid: proposal.valid,
          problems: problems.slice(0, 20),
          samples: validation.samples.slice(0, 50),
        },
        proposal,
      };
    },
  }),
  define({
    name: 'estimate_run_cost',
    description:
      "Estimate what a run of a pipeline will cost before it is launched, from this lab's completed runs of that pipeline (or the pipeline's labelled prior, or no estimate when there is neither). Give the number of samples, and the input size in GB when known. Answer the range and say its basis as given.",
    input: z.object({
      samples: z.number().int().min(1).max(100_000),
      input_gb: z.number().positive().max(1_000_000).optional(),
      pipeline: z.string().max(200).optional(),
      pipeline_version: z.string().max(100).optional(),
    }),
    async run(deps, call, input) {
      const { pipeline, release } = pipelineOf(call, input);
      const estimate = await estimateLaunch(
        deps,
        { pipeline: pipeline.name, version: release.version, sampleCount: input.samples },
        input.input_gb !== undefined ? input.input_gb * 1e9 : null,
      );
      const cost = estimate.cost_usd;
      return {
        summary: cost
          ? `estimated $${cost.low.toFixed(2)}–$${cost.high.toFixed(2)} for ${input.samples} sample(s)`
          : 'no cost estimate: too little history',
        result: estimate,
      };
    },
  }),
  define({
    name: 'recommend_resources',
    description:
      "Right-sizing from this lab's finished runs of a pipeline: per process, memory or cpus where tasks were given far more than they used, or more memory where tasks were killed for memory (exit 137/140), each with its evidence and saving per run, and a nextflow.config snippet. Quote the evidence; to apply it to a failed run, propose_recovery with the snippet in config_content.",
    input: z.object({
      pipeline: z.string().max(200).optional(),
      pipeline_version: z.string().max(100).optional(),
    }),
    async run(deps, call, input) {
      const { pipeline, release } = pipelineOf(call, input);
      const advice = await pipelineRecommendations(deps, pipeline.name, release.version);
      return {
        summary:
          advice.recommendations.length > 0
            ? `${advice.recommendations.length} right-sizing recommendation(s) from ${advice.runs_read} run(s)`
            : `no right-sizing recommendation from ${advice.runs_read} run(s)`,
        result: advice,
      };
    },
  }),
  define({
    name: 'propose_config',
    description:
      "Propose the new run's extra Nextflow config (e.g. recommend_resources' snippet added to what the draft has): the whole config, which replaces the draft's. It is checked as a launch checks it; the user applies it in the wizard.",
    input: z.object({
      config_content: z
        .string()
        .max(100_000)
        .describe('the whole extra config: the draft’s with your changes'),
      reason: Reason,
    }),
    async run(_deps, _call, input) {
      const problems = configProblems('config_content', input.config_content).map((p) => p.message);
      const proposal: Proposal = {
        kind: 'config',
        config_content: input.config_content,
        valid: problems.length === 0,
        problems,
        reason: input.reason,
      };
      return {
        summary: `proposed the run's config${problems.length ? ` (${problems.length} problem(s))` : ''}`,
        result: { valid: proposal.valid, problems },
        proposal,
      };
    },
  }),
  define({
    name: 'propose_recovery',
    description:
      'Propose recovering a failed or cancelled run with -resume, with parameter overrides and/or an extra Nextflow config (e.g. more memory for a task that exited 137). The user confirms in the Recover dialog; nothing starts here.',
    input: z.object({
      run_id: RunId.optional().describe('default: the run the user is looking at'),
      override_params: Params.default({}),
      config_content: z
        .string()
        .max(100_000)
        .optional()
        .describe("the run's config with your changes (replaces it)"),
      reuse_work_dir: z.boolean().default(true),
      reason: Reason,
    }),
    async run(deps, call, input) {
      const runId = input.run_id ?? call.context?.run_id;
      if (!runId)
        throw new ValidationError('Say which run: no run_id was given and the user is not looking at one.');
      const run = await getAccessibleRun(deps, call.caller, runId);
      const problems: string[] = [];
      if (!RECOVERABLE.includes(run.status)) {
        problems.push(`Run ${run.run_id} is ${run.status}; only failed or cancelled runs can be recovered.`);
      }
      try {
        recoveryInputs(
          run,
          {
            reuse_work_dir: input.reuse_work_dir,
            override_params: input.override_params,
            override_config: input.config_content,
            // The assistant's proposal is checked as the person applying it would send it.
            allow_unknown_params: false,
          },
          deps.bucket,
          run.run_id,
        );
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        const details = Array.isArray(error.details) ? (error.details as { message: string }[]) : [];
        problems.push(...(details.length > 0 ? details.map((d) => d.message) : [error.message]));
      }
      const proposal: Proposal = {
        kind: 'recovery',
        run_id: run.run_id,
        override_params: input.override_params,
        config_content: input.config_content ?? null,
        reuse_work_dir: input.reuse_work_dir,
        valid: problems.length === 0,
        problems,
        reason: input.reason,
      };
      return {
        summary: `proposed recovering ${run.run_id}${problems.length ? ` (${problems.length} problem(s))` : ''}`,
        result: { valid: proposal.valid, problems },
        proposal,
      };
    },
  }),
];

export const TOOL_NAMES = TOOLS.map((t) => t.name);

let specs: ToolSpec[] | null = null;

/** The tools as the model is told about them (JSON Schema of each input; built once). */
export function toolSpecs(): ToolSpec[] {
  specs ??= TOOLS.map((tool) => ({
    name: tool.name,
    description: tool.description,
    input_schema: z.toJSONSchema(tool.input, { io: 'input' }) as Record<string, unknown>,
  }));
  return specs;
}

/**
 * Runs one tool call. An unknown tool, input the schema refuses, or a domain error (not found,
 * invalid) is answered to the model as an error it can act on; anything else is thrown.
 */
export async function runTool(
  deps: AssistantToolDeps,
  call: ToolCall,
  name: string,
  rawInput: unknown,
): Promise<ToolResult & { ok: boolean; denied?: boolean }> {
  const tool = TOOLS.find((t) => t.name === name);
  if (!tool)
    return {
      ok: false,
      summary: `asked for an unknown tool ${clip(name, 60)}`,
      result: { error: `No tool named ${clip(name, 60)}.` },
    };
  const parsed = tool.input.safeParse(rawInput ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      summary: `called ${name} with bad input`,
      result: {
        error: parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '),
      },
    };
  }
  try {
    return { ok: true, ...(await tool.run(deps, call, parsed.data)) };
  } catch (error) {
    if (error instanceof DomainError) {
      return {
        ok: false,
        // Another user's run: answered as missing, like the API, and audited by the caller.
        ...(error instanceof NotFoundError && error.accessDenied ? { denied: true } : {}),
        summary: `${name} failed: ${clip(error.message, 120)}`,
        result: { error: error.message },
      };
    }
    throw error;
  }
}
