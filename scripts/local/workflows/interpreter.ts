/**
 * A local interpreter for Cloud Workflows definitions: it executes
 * workflows/run-pipeline.workflows.yaml itself. Supported: steps, assign, call (http.get,
 * http.post, sys.sleep, sys.log, sys.get_env, the Batch jobs connectors via the host,
 * subworkflows), switch/next, try/retry/except, raise, return, `for` (lists, ranges,
 * `next: break`/`continue`, loop scope), `parallel` (branches or for, `shared`,
 * `concurrency_limit`, continueAll with UnhandledBranchError, nesting depth 2) and
 * `${…}` expressions. Anything else is an error that names the step and the construct,
 * found when the definition is loaded where possible; what the service refuses at deploy
 * time (a parent variable written in a branch without `shared`, `next` out of a loop or
 * branch, `break` outside a loop, more than 10 branches) is refused when loaded.
 */
import { parse as parseYaml } from 'yaml';
import {
  type BuiltinFunction,
  evaluateNode,
  type Node,
  parseExpression,
  RETRY_POLICIES,
  raise,
  type Scope,
  UnsupportedError,
  type Value,
  WorkflowError,
} from './expressions';

type StepBody = Record<string, unknown>;
type StepEntry = Record<string, StepBody>;

interface Subworkflow {
  params: { name: string; default?: Value; required: boolean }[];
  steps: StepEntry[];
}

export interface HttpResponse {
  code: number;
  headers: Record<string, string>;
  body: Value;
}

export interface InterpreterHost {
  /** Performs an HTTP request; throws WorkflowError tagged ConnectionError/ConnectionFailedError on network failure. */
  http(
    method: 'GET' | 'POST',
    args: {
      url: string;
      body?: Value;
      headers?: Record<string, string>;
      query?: Record<string, string>;
      timeoutSeconds: number;
    },
  ): Promise<HttpResponse>;
  /** Connector calls by their full name, e.g. googleapis.batch.v1.projects.locations.jobs.create. */
  connectors: Record<string, (args: Record<string, Value>) => Promise<Value>>;
  env: Record<string, string>;
  log(severity: string, message: Value): void;
  sleep(seconds: number, signal: AbortSignal): Promise<void>;
}

const STEP_KEYS = new Set([
  'assign',
  'call',
  'args',
  'result',
  'switch',
  'next',
  'steps',
  'return',
  'raise',
  'try',
  'retry',
  'except',
  'for',
  'parallel',
]);
const FOR_KEYS = new Set(['value', 'index', 'in', 'range', 'steps']);
const PARALLEL_KEYS = new Set(['exception_policy', 'shared', 'concurrency_limit', 'branches', 'for']);
/** Cloud Workflows' limits (cloud.google.com/workflows/quotas): branches per parallel step, nesting depth. */
const MAX_BRANCHES = 10;
const MAX_PARALLEL_DEPTH = 2;
/** At most this many branch errors are kept in an UnhandledBranchError (the service's per-execution cap). */
const MAX_UNHANDLED_BRANCH_ERRORS = 100;
const SWITCH_CASE_KEYS = new Set([
  'condition',
  'next',
  'steps',
  'return',
  'raise',
  'assign',
  'call',
  'args',
  'result',
]);
const BUILTIN_CALLS = new Set(['http.get', 'http.post', 'sys.sleep', 'sys.log', 'sys.get_env']);

type Flow =
  | { kind: 'continue' }
  | { kind: 'jump'; target: string }
  | { kind: 'return'; value: Value }
  | { kind: 'break' }
  | { kind: 'next-iteration' };

/** Where a step sits, for the checks the service makes at deploy time. */
interface CheckContext {
  /** Inside a for loop's body (directly or in nested steps), so break/continue may be used. */
  inLoop: boolean;
  /** Inside a parallel branch or iteration: variables of the parent scope that may be written. */
  shared: Set<string> | null;
  /** Variables the enclosing scopes declare (params, assigns, results, loop variables). */
  parentVars: Set<string>;
}

function typeLabel(value: Value): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a map' : `a ${typeof value}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function entryOf(entry: StepEntry, where: string): [string, StepBody] {
  const keys = Object.keys(entry);
  if (keys.length !== 1 || !isRecord(entry[keys[0]!])) {
    throw new UnsupportedError(
      `${where}: each step must be a map with one name, got ${JSON.stringify(keys)}`,
    );
  }
  return [keys[0]!, entry[keys[0]!]!];
}

export class WorkflowDefinition {
  readonly subworkflows = new Map<string, Subworkflow>();

  constructor(source: string) {
    const document = parseYaml(source) as unknown;
    if (Array.isArray(document)) {
      this.subworkflows.set('main', { params: [], steps: document as StepEntry[] });
    } else if (isRecord(document)) {
      for (const [name, value] of Object.entries(document)) {
        if (!isRecord(value) || !Array.isArray(value.steps)) {
          throw new UnsupportedError(`subworkflow "${name}": needs a steps list`);
        }
        const params = ((value.params as unknown[]) ?? []).map((param) => {
          if (typeof param === 'string') return { name: param, required: true };
          if (isRecord(param) && Object.keys(param).length === 1) {
            const [pname] = Object.keys(param);
            return { name: pname!, default: param[pname!] as Value, required: false };
          }
          throw new UnsupportedError(
            `subworkflow "${name}": unsupported params entry ${JSON.stringify(param)}`,
          );
        });
        this.subworkflows.set(name, { params, steps: value.steps as StepEntry[] });
      }
    } else {
      throw new UnsupportedError('a workflow definition must be a list of steps or a map of subworkflows');
    }
    if (!this.subworkflows.has('main')) throw new UnsupportedError('the definition has no main workflow');
    for (const [name, sub] of this.subworkflows) {
      this.check(sub.steps, name, {
        inLoop: false,
        shared: null,
        parentVars: new Set(sub.params.map((p) => p.name)),
      });
      this.checkJumps(sub.steps);
    }
  }

  private check(steps: unknown, where: string, context: CheckContext): void {
    if (!Array.isArray(steps)) throw new UnsupportedError(`${where}: steps must be a list`);
    for (const entry of steps as StepEntry[]) {
      const [name, body] = entryOf(entry, where);
      for (const key of Object.keys(body)) {
        if (!STEP_KEYS.has(key))
          throw new UnsupportedError(`step "${name}": "${key}" is not supported by the local interpreter`);
      }
      this.checkPart(name, body, context);
      if (typeof body.call === 'string') this.checkCall(name, body.call);
      if (body.steps !== undefined) this.check(body.steps, `step "${name}"`, context);
      if (body.for !== undefined) this.checkFor(name, body.for, context, false);
      if (body.parallel !== undefined) this.checkParallel(name, body.parallel, context, steps as StepEntry[]);
      if (body.switch !== undefined) {
        if (!Array.isArray(body.switch))
          throw new UnsupportedError(`step "${name}": switch must be a list of conditions`);
        for (const option of body.switch as unknown[]) {
          if (!isRecord(option) || !('condition' in option))
            throw new UnsupportedError(`step "${name}": every switch case needs a condition`);
          const condition = option.condition;
          if (
            typeof condition !== 'boolean' &&
            !(typeof condition === 'string' && EXPRESSION.test(condition))
          )
            throw new UnsupportedError(
              `step "${name}": a condition must be an expression \${…} or true/false, got ${JSON.stringify(condition)}`,
            );
          for (const key of Object.keys(option)) {
            if (!SWITCH_CASE_KEYS.has(key))
              throw new UnsupportedError(`step "${name}": "${key}" in a switch case is not supported`);
          }
          this.checkPart(name, option, context);
          if (typeof option.call === 'string') this.checkCall(name, option.call);
          if (option.steps !== undefined) this.check(option.steps, `step "${name}"`, context);
        }
      }
      // Cloud Workflows knows retry and except only as parts of a try step; elsewhere the
      // service refuses the whole definition at deploy time.
      if (body.retry !== undefined && body.try === undefined) {
        throw new UnsupportedError(
          `step "${name}": retry without try is refused by Cloud Workflows; write the call under try: (step: {try: {call: …}, retry: …})`,
        );
      }
      if (body.except !== undefined && body.try === undefined) {
        throw new UnsupportedError(`step "${name}": except without try is refused by Cloud Workflows`);
      }
      if (body.retry !== undefined) this.checkRetry(name, body.retry);
      if (body.try !== undefined) {
        if (!isRecord(body.try)) throw new UnsupportedError(`step "${name}": try must be a map`);
        if (Array.isArray(body.try.steps)) this.check(body.try.steps, `step "${name}"`, context);
        else this.check([{ [`${name}.try`]: body.try }], `step "${name}"`, context);
      }
      if (body.except !== undefined) {
        if (!isRecord(body.except) || !Array.isArray(body.except.steps)) {
          throw new UnsupportedError(`step "${name}": except needs "as" and "steps"`);
        }
        if (context.shared && typeof body.except.as === 'string')
          this.checkWrite(name, body.except.as, context);
        this.check(body.except.steps, `step "${name}"`, context);
      }
    }
  }

  private checkNext(step: string, next: unknown, context: CheckContext): void {
    if (next === undefined) return;
    if (typeof next !== 'string') throw new UnsupportedError(`step "${step}": next must be a step name`);
    if ((next === 'break' || next === 'continue') && !context.inLoop)
      throw new UnsupportedError(
        `step "${step}": next: ${next} is only allowed inside a for loop, and Cloud Workflows refuses it elsewhere`,
      );
  }

  /**
   * What any step or switch case must obey: `next`, the variables it writes (a branch may write
   * only its own and the parent's `shared` ones; the service refuses the rest at deploy), and no
   * `return` inside a branch (not run by this interpreter).
   */
  private checkPart(step: string, part: StepBody, context: CheckContext): void {
    this.checkNext(step, part.next, context);
    for (const target of writtenBy(part)) {
      this.checkWrite(step, target, context);
      // Outside any branch, what a step assigns joins the scope a later parallel step sees.
      if (context.shared === null) context.parentVars.add(target);
    }
    if ('return' in part && context.shared)
      throw new UnsupportedError(
        `step "${step}": return inside a parallel branch or iteration is not supported by the local interpreter`,
      );
  }

  private checkWrite(step: string, variable: string, context: CheckContext): void {
    if (context.shared && context.parentVars.has(variable) && !context.shared.has(variable))
      throw new UnsupportedError(
        `step "${step}": ${variable} belongs to the scope outside the parallel step; Cloud Workflows refuses writing it in a branch unless it is listed in shared`,
      );
  }

  private checkFor(step: string, loop: unknown, context: CheckContext, parallel: boolean): void {
    if (!isRecord(loop)) throw new UnsupportedError(`step "${step}": for must be a map`);
    for (const key of Object.keys(loop)) {
      if (!FOR_KEYS.has(key)) throw new UnsupportedError(`step "${step}": "${key}" is not a for field`);
    }
    if (typeof loop.value !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(loop.value))
      throw new UnsupportedError(`step "${step}": for needs value, the name of the loop variable`);
    if (loop.index !== undefined && (typeof loop.index !== 'string' || loop.index === loop.value))
      throw new UnsupportedError(`step "${step}": for.index must be a variable name other than value`);
    if ((loop.in === undefined) === (loop.range === undefined))
      throw new UnsupportedError(
        `step "${step}": for needs exactly one of in (a list) and range ([begin, end])`,
      );
    if (
      loop.in !== undefined &&
      !Array.isArray(loop.in) &&
      !(typeof loop.in === 'string' && EXPRESSION.test(loop.in))
    )
      throw new UnsupportedError(`step "${step}": for.in must be a list or an expression \${…}`);
    if (
      loop.range !== undefined &&
      !(Array.isArray(loop.range) && loop.range.length === 2) &&
      !(typeof loop.range === 'string' && EXPRESSION.test(loop.range))
    )
      throw new UnsupportedError(
        `step "${step}": for.range must be [begin, end] or an expression \${[begin, end]}`,
      );
    if (!Array.isArray(loop.steps) || loop.steps.length === 0)
      throw new UnsupportedError(`step "${step}": for.steps must be a list of at least one step`);
    const loopVars = [loop.value, ...(typeof loop.index === 'string' ? [loop.index] : [])];
    if (parallel) {
      // Each iteration of a parallel for is a branch: its loop variables are its own.
      const branchVars = new Set(context.parentVars);
      for (const v of loopVars) branchVars.delete(v);
      this.check(loop.steps, `step "${step}"`, {
        inLoop: false,
        shared: context.shared!,
        parentVars: branchVars,
      });
      return;
    }
    for (const v of loopVars) this.checkWrite(step, v, context);
    const inner = new Set(context.parentVars);
    if (context.shared === null) for (const v of loopVars) inner.add(v);
    this.check(loop.steps, `step "${step}"`, { inLoop: true, shared: context.shared, parentVars: inner });
  }

  private checkParallel(step: string, parallel: unknown, context: CheckContext, siblings: StepEntry[]): void {
    if (!isRecord(parallel)) throw new UnsupportedError(`step "${step}": parallel must be a map`);
    for (const key of Object.keys(parallel)) {
      if (!PARALLEL_KEYS.has(key))
        throw new UnsupportedError(`step "${step}": "${key}" is not a parallel field`);
    }
    if (parallel.exception_policy !== undefined && parallel.exception_policy !== 'continueAll')
      throw new UnsupportedError(
        `step "${step}": exception_policy ${JSON.stringify(parallel.exception_policy)} is refused by Cloud Workflows; continueAll is the only policy`,
      );
    if ((parallel.branches === undefined) === (parallel.for === undefined))
      throw new UnsupportedError(`step "${step}": parallel needs exactly one of branches and for`);
    const shared = parallel.shared ?? [];
    if (!Array.isArray(shared) || shared.some((v) => typeof v !== 'string'))
      throw new UnsupportedError(`step "${step}": shared must be a list of variable names`);
    const limit = parallel.concurrency_limit;
    if (
      limit !== undefined &&
      !(typeof limit === 'number' && Number.isInteger(limit) && limit > 0) &&
      !(typeof limit === 'string' && EXPRESSION.test(limit))
    )
      throw new UnsupportedError(
        `step "${step}": concurrency_limit must be a positive integer or an expression`,
      );
    // Everything the enclosing scope declares, before or after this step, is its variable.
    const parentVars = new Set(context.parentVars);
    for (const entry of siblings) collectDeclared(entry, parentVars);
    for (const variable of shared as string[]) {
      if (!parentVars.has(variable))
        throw new UnsupportedError(
          `step "${step}": shared variable ${variable} must be declared before the parallel step`,
        );
    }
    const branchContext = (): CheckContext => ({
      inLoop: false,
      shared: new Set(shared as string[]),
      parentVars: new Set(parentVars),
    });
    if (parallel.for !== undefined) {
      this.checkFor(step, parallel.for, branchContext(), true);
      return;
    }
    const branches = parallel.branches;
    if (!Array.isArray(branches) || branches.length === 0)
      throw new UnsupportedError(`step "${step}": branches must be a list of named branches`);
    if (branches.length > MAX_BRANCHES)
      throw new UnsupportedError(
        `step "${step}": ${branches.length} branches; Cloud Workflows allows at most ${MAX_BRANCHES} in one parallel step`,
      );
    for (const entry of branches as StepEntry[]) {
      const [branch, body] = entryOf(entry, `step "${step}"`);
      if (Object.keys(body).some((k) => k !== 'steps') || !Array.isArray(body.steps))
        throw new UnsupportedError(`step "${step}": branch "${branch}" must hold only steps`);
      this.check(body.steps, `branch "${branch}"`, branchContext());
    }
  }

  /**
   * `next` may not leave a for loop's body or a parallel branch: the service refuses it at
   * deploy. A target must be a step of the same body (or of a step list nested in it).
   */
  private checkJumps(steps: StepEntry[], visible: Set<string> | null = null): void {
    const here = new Set<string>(visible ?? []);
    for (const entry of steps) here.add(Object.keys(entry)[0]!);
    for (const entry of steps) {
      const [name, body] = entryOf(entry, 'steps');
      const targets = [
        body.next,
        ...(Array.isArray(body.switch) ? (body.switch as StepBody[]).map((o) => o.next) : []),
      ];
      for (const target of targets) {
        if (typeof target !== 'string' || ['end', 'break', 'continue'].includes(target)) continue;
        if (visible !== null && !here.has(target))
          throw new UnsupportedError(
            `step "${name}": next: ${target} leaves a for loop or parallel branch, which Cloud Workflows refuses; use break or return`,
          );
      }
      const nested = (list: unknown, scope: Set<string> | null) => {
        if (Array.isArray(list)) this.checkJumps(list as StepEntry[], scope);
      };
      nested(body.steps, visible === null ? null : here);
      if (Array.isArray(body.switch))
        for (const option of body.switch as StepBody[]) nested(option.steps, visible === null ? null : here);
      if (isRecord(body.try)) nested(body.try.steps, visible === null ? null : here);
      if (isRecord(body.except)) nested(body.except.steps, visible === null ? null : here);
      if (isRecord(body.for)) nested(body.for.steps, new Set());
      if (isRecord(body.parallel)) {
        if (isRecord(body.parallel.for)) nested(body.parallel.for.steps, new Set());
        if (Array.isArray(body.parallel.branches))
          for (const branch of body.parallel.branches as StepEntry[]) {
            const inner = Object.values(branch)[0];
            if (isRecord(inner)) nested(inner.steps, new Set());
          }
      }
    }
  }

  /** A retry is a predefined policy (`${http.default_retry}`) or a map: predicate, max_retries, backoff. */
  private checkRetry(step: string, retry: unknown): void {
    if (typeof retry === 'string') {
      const name = EXPRESSION.exec(retry)?.[1]?.trim();
      if (!name || !(name in RETRY_POLICIES))
        throw new UnsupportedError(
          `step "${step}": retry must be a predefined policy such as \${http.default_retry}, or a map with predicate, max_retries and backoff`,
        );
      return;
    }
    if (!isRecord(retry)) throw new UnsupportedError(`step "${step}": retry must be a policy or a map`);
    const predicate =
      typeof retry.predicate === 'string' ? EXPRESSION.exec(retry.predicate)?.[1]?.trim() : undefined;
    if (!predicate || !(predicate in RETRY_PREDICATES || this.subworkflows.has(predicate)))
      throw new UnsupportedError(
        `step "${step}": retry.predicate must name a predicate (\${http.default_retry_predicate}, \${http.default_retry_predicate_non_idempotent}, \${retry.always}, \${retry.never}) or a subworkflow`,
      );
    const backoff = retry.backoff;
    if (
      retry.max_retries === undefined ||
      !isRecord(backoff) ||
      ['initial_delay', 'max_delay', 'multiplier'].some((key) => backoff[key] === undefined)
    )
      throw new UnsupportedError(
        `step "${step}": a retry map needs max_retries and backoff {initial_delay, max_delay, multiplier}`,
      );
    for (const key of Object.keys(retry)) {
      if (!['predicate', 'max_retries', 'backoff'].includes(key))
        throw new UnsupportedError(`step "${step}": "${key}" is not a retry field`);
    }
  }

  private checkCall(step: string, target: string): void {
    if (BUILTIN_CALLS.has(target) || target.startsWith('googleapis.') || this.subworkflows.has(target))
      return;
    throw new UnsupportedError(`step "${step}": call ${target} is not supported by the local interpreter`);
  }
}

/** The variables a step (or a switch case) writes itself: each assign target's root, and its result. */
function writtenBy(part: Record<string, unknown>): string[] {
  const names: string[] = [];
  if (Array.isArray(part.assign))
    for (const item of part.assign as unknown[]) {
      if (!isRecord(item)) continue;
      for (const target of Object.keys(item)) {
        const root = /^[A-Za-z_][A-Za-z0-9_]*/.exec(target.trim())?.[0];
        if (root) names.push(root);
      }
    }
  if (typeof part.result === 'string') names.push(part.result);
  return names;
}

/** The variables a step declares in its own scope: assign targets, results and except names, in nested steps too. */
function collectDeclared(entry: StepEntry, into: Set<string>): void {
  const body = Object.values(entry)[0];
  if (!isRecord(body)) return;
  const visit = (part: Record<string, unknown>) => {
    for (const name of writtenBy(part)) into.add(name);
    if (Array.isArray(part.steps))
      for (const inner of part.steps as StepEntry[]) collectDeclared(inner, into);
  };
  visit(body);
  if (Array.isArray(body.switch))
    for (const option of body.switch as unknown[]) if (isRecord(option)) visit(option);
  if (isRecord(body.try)) visit(body.try);
  if (isRecord(body.except)) {
    if (typeof body.except.as === 'string') into.add(body.except.as);
    visit(body.except);
  }
}

/**
 * A scope. A subworkflow's frame has no parent. A for loop's iteration frame reads and writes
 * its parent's variables and keeps the ones it creates (and its loop variables) to itself; a
 * parallel branch's frame reads the parent's and writes only the `shared` ones.
 */
class Frame implements Scope {
  private readonly vars = new Map<string, Value>();
  constructor(
    private readonly parent: Frame | null = null,
    private readonly writable: 'all' | Set<string> = 'all',
    /** How many parallel steps enclose this frame (Cloud Workflows allows 2). */
    readonly parallelDepth = 0,
  ) {}

  get(name: string): Value | undefined {
    if (this.vars.has(name)) return this.vars.get(name);
    return this.parent?.get(name);
  }

  private has(name: string): boolean {
    return this.vars.has(name) || (this.parent?.has(name) ?? false);
  }

  /** A variable of this scope (a parameter, a loop variable): never written through. */
  define(name: string, value: Value): void {
    this.vars.set(name, value);
  }

  /** An assignment: to the scope that already holds the name if this scope may write it there, else here. */
  set(name: string, value: Value): void {
    if (
      !this.vars.has(name) &&
      this.parent?.has(name) &&
      (this.writable === 'all' || this.writable.has(name))
    ) {
      this.parent.set(name, value);
      return;
    }
    this.vars.set(name, value);
  }
}

/** A loop's `value` (and `index`, when it names one) in an iteration's own frame. */
function bindLoopVariables(frame: Frame, loop: StepBody, index: number, value: Value): void {
  frame.define(String(loop.value), value);
  if (typeof loop.index === 'string') frame.define(loop.index, index);
}

/** An expression step value: `${…}`. */
const EXPRESSION = /^\$\{([\s\S]*)\}$/;

/** The predicates Cloud Workflows predefines for retry maps, as the documentation describes them. */
const RETRY_PREDICATES: Record<string, (code: number | null, tags: string[]) => boolean> = {
  'http.default_retry_predicate': (code, tags) =>
    (tags.includes('HttpError') && code !== null && [429, 502, 503, 504].includes(code)) ||
    tags.some((t) => ['ConnectionError', 'ConnectionFailedError', 'TimeoutError'].includes(t)),
  'http.default_retry_predicate_non_idempotent': (code, tags) =>
    (tags.includes('HttpError') && (code === 429 || code === 503)) || tags.includes('ConnectionFailedError'),
  'retry.always': () => true,
  'retry.never': () => false,
};

/** The predicate each predefined policy retries on. */
const POLICY_PREDICATE: Record<string, string> = {
  'http.default_retry': 'http.default_retry_predicate',
  'http.default_retry_non_idempotent': 'http.default_retry_predicate_non_idempotent',
};

function matchesPredicate(name: string, error: WorkflowError): boolean {
  const payload = error.payload;
  const code = isRecord(payload) && typeof payload.code === 'number' ? payload.code : null;
  const predicate = RETRY_PREDICATES[name];
  if (!predicate) throw new UnsupportedError(`retry predicate ${name} is not supported`);
  return predicate(code, error.tags);
}

export interface ExecuteOptions {
  signal?: AbortSignal;
}

export class WorkflowInterpreter {
  constructor(
    private readonly definition: WorkflowDefinition,
    private readonly host: InterpreterHost,
  ) {}

  async execute(argument: Value, options: ExecuteOptions = {}): Promise<Value> {
    const signal = options.signal ?? new AbortController().signal;
    const main = this.definition.subworkflows.get('main')!;
    const frame = new Frame();
    if (main.params[0]) frame.define(main.params[0].name, argument);
    return this.runSubworkflow('main', main, frame, signal);
  }

  private environment(): Record<string, BuiltinFunction> {
    return {
      'sys.get_env': ([name]) => {
        if (typeof name !== 'string') return raise('TypeError', 'sys.get_env() expects a string');
        return this.host.env[name] ?? null;
      },
      'sys.now': () => Date.now() / 1000,
    };
  }

  private evaluate(value: unknown, frame: Frame, step: string): Value {
    if (typeof value === 'string') {
      const match = /^\$\{([\s\S]*)\}$/.exec(value.trim());
      if (!match) return value;
      try {
        return evaluateNode(parseExpression(match[1]!), { scope: frame, environment: this.environment() });
      } catch (error) {
        if (error instanceof UnsupportedError) throw new UnsupportedError(`step "${step}": ${error.message}`);
        throw error;
      }
    }
    if (Array.isArray(value)) return value.map((item) => this.evaluate(item, frame, step));
    if (isRecord(value)) {
      const out: { [key: string]: Value } = {};
      for (const [key, item] of Object.entries(value)) out[key] = this.evaluate(item, frame, step);
      return out;
    }
    if (value === undefined) return null;
    return value as Value;
  }

  private async runSubworkflow(
    name: string,
    sub: Subworkflow,
    frame: Frame,
    signal: AbortSignal,
  ): Promise<Value> {
    const flow = await this.runSteps(sub.steps, frame, signal);
    if (flow.kind === 'return') return flow.value;
    if (flow.kind === 'jump' && flow.target !== 'end') {
      throw new UnsupportedError(`subworkflow "${name}": next: ${flow.target} names no step`);
    }
    return null;
  }

  private async runSteps(steps: StepEntry[], frame: Frame, signal: AbortSignal): Promise<Flow> {
    let index = 0;
    while (index < steps.length) {
      if (signal.aborted) raise('CancelledError', 'the execution was cancelled');
      const [name, body] = entryOf(steps[index]!, 'steps');
      const flow = await this.runStep(name, body, frame, signal);
      if (flow.kind === 'continue') {
        index++;
        continue;
      }
      if (flow.kind === 'jump') {
        if (flow.target === 'end') return flow;
        const target = steps.findIndex((entry) => Object.keys(entry)[0] === flow.target);
        if (target === -1) return flow;
        index = target;
        continue;
      }
      return flow;
    }
    return { kind: 'continue' };
  }

  private andThen(body: StepBody, flow: Flow): Flow {
    if (flow.kind !== 'continue' || typeof body.next !== 'string') return flow;
    if (body.next === 'break') return { kind: 'break' };
    if (body.next === 'continue') return { kind: 'next-iteration' };
    return { kind: 'jump', target: body.next };
  }

  private async runStep(name: string, body: StepBody, frame: Frame, signal: AbortSignal): Promise<Flow> {
    if (body.try !== undefined) return this.andThen(body, await this.runTry(name, body, frame, signal));
    if (body.switch !== undefined) {
      for (const option of body.switch as StepBody[]) {
        const condition = this.evaluate(option.condition, frame, name);
        if (typeof condition !== 'boolean')
          raise('TypeError', `step "${name}": switch condition must be a boolean`);
        if (!condition) continue;
        return this.runStep(name, { ...option, condition: undefined }, frame, signal);
      }
      return this.andThen(body, { kind: 'continue' });
    }
    if (body.for !== undefined)
      return this.andThen(body, await this.runFor(name, body.for as StepBody, frame, signal));
    if (body.parallel !== undefined) {
      await this.runParallel(name, body.parallel as StepBody, frame, signal);
      return this.andThen(body, { kind: 'continue' });
    }
    if (body.assign !== undefined) this.assign(name, body.assign, frame);
    if (body.call !== undefined) {
      const result = await this.call(
        name,
        String(body.call),
        this.evaluate(body.args ?? {}, frame, name),
        frame,
        signal,
      );
      if (typeof body.result === 'string') frame.set(body.result, result);
    }
    if (body.steps !== undefined) {
      const flow = await this.runSteps(body.steps as StepEntry[], frame, signal);
      if (flow.kind !== 'continue') return flow;
    }
    if ('return' in body) return { kind: 'return', value: this.evaluate(body.return, frame, name) };
    if ('raise' in body) throw new WorkflowError(this.evaluate(body.raise, frame, name));
    return this.andThen(body, { kind: 'continue' });
  }

  /** The values a for loop walks: a list, or the numbers from begin to end inclusive, by 1. */
  private loopValues(step: string, loop: StepBody, frame: Frame): Value[] {
    if (loop.in !== undefined) {
      const list = this.evaluate(loop.in, frame, step);
      if (!Array.isArray(list))
        raise(
          'TypeError',
          `step "${step}": for.in must be a list, got ${typeLabel(list)} (iterate a map with keys(map))`,
        );
      return [...list];
    }
    const range = this.evaluate(loop.range, frame, step);
    if (!Array.isArray(range) || range.length !== 2 || range.some((v) => typeof v !== 'number'))
      raise('TypeError', `step "${step}": for.range must be two numbers [begin, end]`);
    const [begin, end] = range as [number, number];
    const values: number[] = [];
    for (let v = begin; v <= end; v++) values.push(v);
    return values;
  }

  private async runFor(step: string, loop: StepBody, frame: Frame, signal: AbortSignal): Promise<Flow> {
    const values = this.loopValues(step, loop, frame);
    for (const [index, value] of values.entries()) {
      if (signal.aborted) raise('CancelledError', 'the execution was cancelled');
      const iteration = new Frame(frame, 'all', frame.parallelDepth);
      bindLoopVariables(iteration, loop, index, value);
      const flow = await this.runSteps(loop.steps as StepEntry[], iteration, signal);
      if (flow.kind === 'break') break;
      if (flow.kind === 'return') return flow;
      if (flow.kind === 'jump' && flow.target === 'end') return flow;
      if (flow.kind === 'jump')
        throw new UnsupportedError(`step "${step}": next: ${flow.target} names no step of the loop`);
    }
    return { kind: 'continue' };
  }

  /**
   * Runs branches (or iterations) at once, at most concurrency_limit at a time. With
   * continueAll (the only policy), every branch runs to its end whatever the others do; then
   * the step raises UnhandledBranchError listing each branch's error, if any had one.
   */
  private async runParallel(
    step: string,
    parallel: StepBody,
    frame: Frame,
    signal: AbortSignal,
  ): Promise<void> {
    const depth = frame.parallelDepth + 1;
    if (depth > MAX_PARALLEL_DEPTH)
      raise('ParallelNestingError', `step "${step}": parallel steps nest at most ${MAX_PARALLEL_DEPTH} deep`);
    const shared = new Set((parallel.shared as string[] | undefined) ?? []);
    for (const variable of shared) {
      if (frame.get(variable) === undefined)
        raise('KeyError', `step "${step}": shared variable ${variable} is not defined`, ['LookupError']);
    }
    const work: { id: Value; run: (branch: Frame) => Promise<Flow> }[] = [];
    if (parallel.for !== undefined) {
      const loop = parallel.for as StepBody;
      for (const [index, value] of this.loopValues(step, loop, frame).entries()) {
        work.push({
          id: index,
          run: (branch) => {
            bindLoopVariables(branch, loop, index, value);
            return this.runSteps(loop.steps as StepEntry[], branch, signal);
          },
        });
      }
    } else {
      for (const entry of parallel.branches as StepEntry[]) {
        const [id, body] = entryOf(entry, `step "${step}"`);
        work.push({ id, run: (branch) => this.runSteps(body.steps as StepEntry[], branch, signal) });
      }
    }
    let limit = work.length;
    if (parallel.concurrency_limit !== undefined) {
      const value = this.evaluate(parallel.concurrency_limit, frame, step);
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
        raise(
          'ValueError',
          `step "${step}": concurrency_limit must be a positive integer, got ${JSON.stringify(value)}`,
        );
      limit = Math.min(limit, value as number);
    }
    const errors: { id: Value; error: Value }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < work.length) {
        const item = work[next++]!;
        try {
          await item.run(new Frame(frame, shared, depth));
        } catch (error) {
          if (!(error instanceof WorkflowError)) throw error;
          errors.push({ id: item.id, error: error.payload });
        }
      }
    };
    await Promise.all(Array.from({ length: limit }, worker));
    if (signal.aborted) raise('CancelledError', 'the execution was cancelled');
    if (errors.length === 0) return;
    throw new WorkflowError({
      message: `UnhandledBranchError: ${errors.length} of ${work.length} branches or iterations of step "${step}" ended with an unhandled error`,
      tags: ['UnhandledBranchError'],
      branches: errors.slice(0, MAX_UNHANDLED_BRANCH_ERRORS),
      truncated: errors.length > MAX_UNHANDLED_BRANCH_ERRORS,
    });
  }

  private async runTry(name: string, body: StepBody, frame: Frame, signal: AbortSignal): Promise<Flow> {
    const attempt = body.try as StepBody;
    const policy = body.retry === undefined ? null : this.retryPolicy(name, body.retry, frame);
    for (let retries = 0; ; retries++) {
      try {
        return Array.isArray(attempt.steps)
          ? await this.runSteps(attempt.steps as StepEntry[], frame, signal)
          : await this.runStep(name, attempt, frame, signal);
      } catch (error) {
        if (!(error instanceof WorkflowError)) throw error;
        if (policy && retries < policy.maxRetries && (await policy.retryable(error))) {
          const backoff = policy.backoff;
          await this.host.sleep(
            Math.min(backoff.max_delay, backoff.initial_delay * backoff.multiplier ** retries),
            signal,
          );
          continue;
        }
        if (!isRecord(body.except)) throw error;
        const handler = body.except as { as?: string; steps: StepEntry[] };
        if (handler.as) frame.set(handler.as, error.payload);
        return this.runSteps(handler.steps, frame, signal);
      }
    }
  }

  /** What a step's retry says: how often, how long to wait, and which errors it retries. */
  private retryPolicy(
    step: string,
    retry: unknown,
    frame: Frame,
  ): {
    maxRetries: number;
    backoff: { initial_delay: number; max_delay: number; multiplier: number };
    retryable: (error: WorkflowError) => Promise<boolean>;
  } {
    if (typeof retry === 'string') {
      const policy = this.evaluate(retry, frame, step) as {
        max_retries: number;
        backoff: never;
        __retry_policy: string;
      };
      return {
        maxRetries: Number(policy.max_retries),
        backoff: policy.backoff,
        retryable: async (error) => matchesPredicate(POLICY_PREDICATE[policy.__retry_policy]!, error),
      };
    }
    const map = retry as Record<string, unknown>;
    const predicate = EXPRESSION.exec(String(map.predicate))![1]!.trim();
    const backoff = this.evaluate(map.backoff, frame, step) as {
      initial_delay: number;
      max_delay: number;
      multiplier: number;
    };
    return {
      maxRetries: Number(this.evaluate(map.max_retries, frame, step)),
      backoff,
      retryable: async (error) => {
        if (predicate in RETRY_PREDICATES) return matchesPredicate(predicate, error);
        // A custom predicate: a subworkflow of one parameter, the error, that returns a boolean.
        const sub = this.definition.subworkflows.get(predicate)!;
        const callFrame = new Frame(null, 'all', frame.parallelDepth);
        if (sub.params[0]) callFrame.define(sub.params[0].name, error.payload);
        const verdict = await this.runSubworkflow(predicate, sub, callFrame, new AbortController().signal);
        if (typeof verdict !== 'boolean')
          throw new UnsupportedError(
            `subworkflow "${predicate}": a retry predicate must return true or false`,
          );
        return verdict;
      },
    };
  }

  private assign(step: string, assignments: unknown, frame: Frame): void {
    if (!Array.isArray(assignments)) throw new UnsupportedError(`step "${step}": assign must be a list`);
    for (const entry of assignments as Record<string, unknown>[]) {
      for (const [target, value] of Object.entries(entry)) {
        this.assignTo(step, parseExpression(target), this.evaluate(value, frame, step), frame);
      }
    }
  }

  private assignTo(step: string, target: Node, value: Value, frame: Frame): void {
    if (target.type === 'var') {
      frame.set(target.name, value);
      return;
    }
    if (target.type !== 'member' && target.type !== 'index')
      throw new UnsupportedError(`step "${step}": cannot assign to this expression`);
    const container = evaluateNode(target.object, { scope: frame, environment: this.environment() });
    const key =
      target.type === 'member'
        ? target.key
        : evaluateNode(target.index, { scope: frame, environment: this.environment() });
    if (Array.isArray(container) && typeof key === 'number') {
      if (key < 0 || key >= container.length)
        raise('IndexError', `list index out of range: ${key}`, ['LookupError']);
      container[key] = value;
    } else if (isRecord(container) && typeof key === 'string') {
      (container as Record<string, Value>)[key] = value;
    } else
      raise(
        'TypeError',
        `step "${step}": cannot assign into a ${Array.isArray(container) ? 'list' : typeof container}`,
      );
  }

  private async call(
    step: string,
    target: string,
    args: Value,
    caller: Frame,
    signal: AbortSignal,
  ): Promise<Value> {
    const a = (isRecord(args) ? args : {}) as Record<string, Value>;
    switch (target) {
      case 'http.get':
      case 'http.post': {
        if (typeof a.url !== 'string') raise('TypeError', `step "${step}": ${target} needs a url`);
        const timeout = typeof a.timeout === 'number' ? a.timeout : 300;
        const response = await this.host.http(target === 'http.get' ? 'GET' : 'POST', {
          url: a.url as string,
          ...(a.body !== undefined ? { body: a.body } : {}),
          ...(isRecord(a.headers) ? { headers: a.headers as Record<string, string> } : {}),
          ...(isRecord(a.query) ? { query: a.query as Record<string, string> } : {}),
          timeoutSeconds: timeout,
        });
        if (response.code >= 400) {
          throw new WorkflowError({
            message: `HTTP server responded with error code ${response.code}`,
            code: response.code,
            headers: response.headers,
            body: response.body,
            tags: ['HttpError'],
          });
        }
        return { code: response.code, headers: response.headers, body: response.body };
      }
      case 'sys.sleep': {
        if (typeof a.seconds !== 'number' || a.seconds < 0)
          raise('ValueError', `step "${step}": sys.sleep needs seconds ≥ 0`);
        await this.host.sleep(a.seconds as number, signal);
        return null;
      }
      case 'sys.log':
        this.host.log(typeof a.severity === 'string' ? a.severity : 'DEFAULT', a.text ?? a.data ?? null);
        return null;
      case 'sys.get_env':
        return typeof a.name === 'string'
          ? (this.host.env[a.name] ?? null)
          : raise('TypeError', 'sys.get_env needs a name');
    }
    const connector = this.host.connectors[target];
    if (connector) return connector(a);
    const sub = this.definition.subworkflows.get(target);
    if (!sub)
      throw new UnsupportedError(`step "${step}": call ${target} is not supported by the local interpreter`);
    const frame = new Frame(null, 'all', caller.parallelDepth);
    for (const param of sub.params) {
      if (Object.hasOwn(a, param.name)) frame.define(param.name, a[param.name]!);
      else if (!param.required) frame.define(param.name, param.default ?? null);
      else raise('TypeError', `step "${step}": subworkflow ${target} needs the argument ${param.name}`);
    }
    for (const key of Object.keys(a)) {
      if (!sub.params.some((p) => p.name === key))
        raise('TypeError', `step "${step}": subworkflow ${target} has no parameter ${key}`);
    }
    return this.runSubworkflow(target, sub, frame, signal);
  }
}
