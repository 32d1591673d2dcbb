/**
 * A local interpreter for Cloud Workflows definitions: it executes
 * workflows/run-pipeline.workflows.yaml itself. Supported: steps, assign, call (http.get,
 * http.post, sys.sleep, sys.log, sys.get_env, the Batch jobs connectors via the host,
 * subworkflows), switch/next, try/retry/except, raise, return and `${…}` expressions.
 * Anything else is an error that names the step and the construct, found when the
 * definition is loaded where possible.
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
]);
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

type Flow = { kind: 'continue' } | { kind: 'jump'; target: string } | { kind: 'return'; value: Value };

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
    for (const [name, sub] of this.subworkflows) this.check(sub.steps, name);
  }

  private check(steps: unknown, where: string): void {
    if (!Array.isArray(steps)) throw new UnsupportedError(`${where}: steps must be a list`);
    for (const entry of steps as StepEntry[]) {
      const [name, body] = entryOf(entry, where);
      for (const key of Object.keys(body)) {
        if (!STEP_KEYS.has(key))
          throw new UnsupportedError(`step "${name}": "${key}" is not supported by the local interpreter`);
      }
      if (typeof body.call === 'string') this.checkCall(name, body.call);
      if (body.steps !== undefined) this.check(body.steps, `step "${name}"`);
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
          if (typeof option.call === 'string') this.checkCall(name, option.call);
          if (option.steps !== undefined) this.check(option.steps, `step "${name}"`);
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
        if (Array.isArray(body.try.steps)) this.check(body.try.steps, `step "${name}"`);
        else this.check([{ [`${name}.try`]: body.try }], `step "${name}"`);
      }
      if (body.except !== undefined) {
        if (!isRecord(body.except) || !Array.isArray(body.except.steps)) {
          throw new UnsupportedError(`step "${name}": except needs "as" and "steps"`);
        }
        this.check(body.except.steps, `step "${name}"`);
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

class Frame implements Scope {
  readonly vars = new Map<string, Value>();
  get(name: string): Value | undefined {
    return this.vars.get(name);
  }
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
    if (main.params[0]) frame.vars.set(main.params[0].name, argument);
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
    if (flow.kind === 'continue' && typeof body.next === 'string') return { kind: 'jump', target: body.next };
    return flow;
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
    if (body.assign !== undefined) this.assign(name, body.assign, frame);
    if (body.call !== undefined) {
      const result = await this.call(
        name,
        String(body.call),
        this.evaluate(body.args ?? {}, frame, name),
        signal,
      );
      if (typeof body.result === 'string') frame.vars.set(body.result, result);
    }
    if (body.steps !== undefined) {
      const flow = await this.runSteps(body.steps as StepEntry[], frame, signal);
      if (flow.kind !== 'continue') return flow;
    }
    if ('return' in body) return { kind: 'return', value: this.evaluate(body.return, frame, name) };
    if ('raise' in body) throw new WorkflowError(this.evaluate(body.raise, frame, name));
    return this.andThen(body, { kind: 'continue' });
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
        if (handler.as) frame.vars.set(handler.as, error.payload);
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
        const callFrame = new Frame();
        if (sub.params[0]) callFrame.vars.set(sub.params[0].name, error.payload);
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
      frame.vars.set(target.name, value);
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

  private async call(step: string, target: string, args: Value, signal: AbortSignal): Promise<Value> {
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
    const frame = new Frame();
    for (const param of sub.params) {
      if (Object.hasOwn(a, param.name)) frame.vars.set(param.name, a[param.name]!);
      else if (!param.required) frame.vars.set(param.name, param.default ?? null);
      else raise('TypeError', `step "${step}": subworkflow ${target} needs the argument ${param.name}`);
    }
    for (const key of Object.keys(a)) {
      if (!sub.params.some((p) => p.name === key))
        raise('TypeError', `step "${step}": subworkflow ${target} has no parameter ${key}`);
    }
    return this.runSubworkflow(target, sub, frame, signal);
  }
}
