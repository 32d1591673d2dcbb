/**
 * The `${…}` expression language of Cloud Workflows, the subset run-pipeline uses:
 * literals (numbers, strings, true/false/null, lists, maps), variables, `.`/`[]` access,
 * arithmetic (+ - * / // %), comparison, `and`/`or`/`not`, `in`, string concatenation and
 * the functions in FUNCTIONS. Errors carry Workflows' error tags (KeyError, TypeError, …).
 */

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

/** A Workflows runtime error: the payload is what `except: as: e` binds. */
export class WorkflowError extends Error {
  constructor(readonly payload: Value) {
    super(
      typeof payload === 'string'
        ? payload
        : payload &&
            typeof payload === 'object' &&
            !Array.isArray(payload) &&
            typeof payload.message === 'string'
          ? payload.message
          : JSON.stringify(payload),
    );
  }

  get tags(): string[] {
    const p = this.payload;
    return p && typeof p === 'object' && !Array.isArray(p) && Array.isArray(p.tags)
      ? (p.tags as string[])
      : [];
  }
}

export function raise(tag: string, message: string, parents: string[] = []): never {
  throw new WorkflowError({ message, tags: [tag, ...parents] });
}

/** Something outside the supported subset: the interpreter adds the step name. */
export class UnsupportedError extends Error {}

type Token =
  | { kind: 'num'; value: number }
  | { kind: 'str'; value: string }
  | { kind: 'name'; value: string }
  | { kind: 'op'; value: string }
  | { kind: 'end' };

const OPERATORS = [
  '//',
  '==',
  '!=',
  '<=',
  '>=',
  '+',
  '-',
  '*',
  '/',
  '%',
  '<',
  '>',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  '.',
  ':',
];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const match = /^\d+(\.\d+)?([eE][+-]?\d+)?/.exec(source.slice(i))!;
      tokens.push({ kind: 'num', value: Number(match[0]) });
      i += match[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let value = '';
      i++;
      while (i < source.length && source[i] !== c) {
        if (source[i] === '\\') {
          const next = source[i + 1];
          value += next === 'n' ? '\n' : next === 't' ? '\t' : (next ?? '');
          i += 2;
        } else value += source[i++];
      }
      if (source[i] !== c) throw new UnsupportedError(`unterminated string in expression: ${source}`);
      i++;
      tokens.push({ kind: 'str', value });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ kind: 'name', value: match[0] });
      i += match[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (!op) throw new UnsupportedError(`unexpected character "${c}" in expression: ${source}`);
    tokens.push({ kind: 'op', value: op });
    i += op.length;
  }
  tokens.push({ kind: 'end' });
  return tokens;
}

export type Node =
  | { type: 'literal'; value: Value }
  | { type: 'var'; name: string }
  | { type: 'member'; object: Node; key: string }
  | { type: 'index'; object: Node; index: Node }
  | { type: 'call'; callee: string; args: Node[] }
  | { type: 'unary'; op: '-' | 'not'; operand: Node }
  | { type: 'binary'; op: string; left: Node; right: Node }
  | { type: 'list'; items: Node[] }
  | { type: 'map'; entries: [Node, Node][] };

/** Precedence climbing, loosest first. */
const LEVELS: string[][] = [
  ['or'],
  ['and'],
  ['==', '!=', '<', '>', '<=', '>=', 'in'],
  ['+', '-'],
  ['*', '/', '//', '%'],
];

class Parser {
  private position = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly source: string,
  ) {}

  private peek(): Token {
    return this.tokens[this.position]!;
  }

  private next(): Token {
    return this.tokens[this.position++]!;
  }

  private isOp(value: string): boolean {
    const t = this.peek();
    return (t.kind === 'op' || t.kind === 'name') && t.value === value;
  }

  private expect(value: string): void {
    if (!this.isOp(value)) throw new UnsupportedError(`expected "${value}" in expression: ${this.source}`);
    this.position++;
  }

  parse(): Node {
    const node = this.binary(0);
    if (this.peek().kind !== 'end')
      throw new UnsupportedError(`unexpected input in expression: ${this.source}`);
    return node;
  }

  private binary(level: number): Node {
    if (level === LEVELS.length) return this.unary();
    if (level === 2) {
      // `not` binds looser than comparison: not a == b means not (a == b).
      if (this.isOp('not')) {
        this.position++;
        return { type: 'unary', op: 'not', operand: this.binary(level) };
      }
    }
    let left = this.binary(level + 1);
    for (;;) {
      const token = this.peek();
      const op =
        (token.kind === 'op' || token.kind === 'name') && LEVELS[level]!.includes(token.value)
          ? token.value
          : null;
      if (!op) return left;
      this.position++;
      left = { type: 'binary', op, left, right: this.binary(level + 1) };
    }
  }

  private unary(): Node {
    if (this.isOp('-')) {
      this.position++;
      return { type: 'unary', op: '-', operand: this.unary() };
    }
    if (this.isOp('not')) {
      this.position++;
      return { type: 'unary', op: 'not', operand: this.unary() };
    }
    return this.postfix(this.primary());
  }

  private postfix(node: Node): Node {
    for (;;) {
      if (this.isOp('.')) {
        this.position++;
        const name = this.next();
        if (name.kind !== 'name')
          throw new UnsupportedError(`expected a name after "." in expression: ${this.source}`);
        node = { type: 'member', object: node, key: name.value };
      } else if (this.isOp('[')) {
        this.position++;
        const index = this.binary(0);
        this.expect(']');
        node = { type: 'index', object: node, index };
      } else if (this.isOp('(')) {
        const callee = dottedName(node);
        if (!callee) throw new UnsupportedError(`only named functions can be called: ${this.source}`);
        this.position++;
        const args: Node[] = [];
        if (!this.isOp(')')) {
          do args.push(this.binary(0));
          while (this.isOp(',') && this.next());
        }
        this.expect(')');
        node = { type: 'call', callee, args };
      } else return node;
    }
  }

  private primary(): Node {
    const token = this.next();
    switch (token.kind) {
      case 'num':
      case 'str':
        return { type: 'literal', value: token.value };
      case 'name':
        if (token.value === 'true' || token.value === 'True') return { type: 'literal', value: true };
        if (token.value === 'false' || token.value === 'False') return { type: 'literal', value: false };
        if (token.value === 'null') return { type: 'literal', value: null };
        return { type: 'var', name: token.value };
      case 'op':
        if (token.value === '(') {
          const inner = this.binary(0);
          this.expect(')');
          return inner;
        }
        if (token.value === '[') {
          const items: Node[] = [];
          if (!this.isOp(']')) {
            do items.push(this.binary(0));
            while (this.isOp(',') && this.next());
          }
          this.expect(']');
          return { type: 'list', items };
        }
        if (token.value === '{') {
          const entries: [Node, Node][] = [];
          if (!this.isOp('}')) {
            do {
              const key = this.binary(0);
              this.expect(':');
              entries.push([key, this.binary(0)]);
            } while (this.isOp(',') && this.next());
          }
          this.expect('}');
          return { type: 'map', entries };
        }
        throw new UnsupportedError(`unexpected "${token.value}" in expression: ${this.source}`);
      default:
        throw new UnsupportedError(`unexpected end of expression: ${this.source}`);
    }
  }
}

function dottedName(node: Node): string | null {
  if (node.type === 'var') return node.name;
  if (node.type === 'member') {
    const base = dottedName(node.object);
    return base ? `${base}.${node.key}` : null;
  }
  return null;
}

const parsed = new Map<string, Node>();

export function parseExpression(source: string): Node {
  let node = parsed.get(source);
  if (!node) {
    node = new Parser(tokenize(source), source).parse();
    parsed.set(source, node);
  }
  return node;
}

export interface Scope {
  get(name: string): Value | undefined;
}

function typeName(value: Value): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'map';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'double';
  return typeof value;
}

function isMap(value: Value): value is { [key: string]: Value } {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function deepEqual(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]!));
  if (isMap(a) && isMap(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k]!, b[k]!))
    );
  }
  return false;
}

function lookup(object: Value, key: Value): Value {
  if (isMap(object)) {
    if (typeof key !== 'string') raise('TypeError', `map keys must be strings, got ${typeName(key)}`);
    if (!Object.hasOwn(object, key)) raise('KeyError', `key not found: ${key}`, ['LookupError']);
    return object[key]!;
  }
  if (Array.isArray(object)) {
    if (typeof key !== 'number' || !Number.isInteger(key))
      raise('TypeError', `list index must be an integer, got ${typeName(key)}`);
    if (key < 0 || key >= object.length)
      raise('IndexError', `list index out of range: ${key}`, ['LookupError']);
    return object[key]!;
  }
  return raise('TypeError', `cannot access ${JSON.stringify(key)} of a ${typeName(object)}`);
}

function toText(value: Value): string {
  if (typeof value === 'string') return value;
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return raise('TypeError', `string() expects a number, boolean or string, got ${typeName(value)}`);
}

/** Predefined retry policies (`${http.default_retry_non_idempotent}` evaluates to one). */
export const RETRY_POLICIES: Record<string, Value> = {
  'http.default_retry': {
    __retry_policy: 'http.default_retry',
    max_retries: 5,
    backoff: { initial_delay: 1, max_delay: 60, multiplier: 1.25 },
  },
  'http.default_retry_non_idempotent': {
    __retry_policy: 'http.default_retry_non_idempotent',
    max_retries: 5,
    backoff: { initial_delay: 1, max_delay: 60, multiplier: 1.25 },
  },
};

export type BuiltinFunction = (args: Value[]) => Value;

const FUNCTIONS: Record<string, { arity: [number, number]; fn: BuiltinFunction }> = {
  default: { arity: [2, 2], fn: ([value, fallback]) => (value === null ? fallback! : value!) },
  len: {
    arity: [1, 1],
    fn: ([value]) => {
      if (typeof value === 'string' || Array.isArray(value)) return value.length;
      if (isMap(value!)) return Object.keys(value).length;
      return raise('TypeError', `len() expects a string, list or map, got ${typeName(value!)}`);
    },
  },
  string: { arity: [1, 1], fn: ([value]) => toText(value!) },
  int: {
    arity: [1, 1],
    fn: ([value]) => {
      if (typeof value === 'number') return Math.trunc(value);
      if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
      return raise('ValueError', `int() cannot convert ${JSON.stringify(value)}`);
    },
  },
  double: {
    arity: [1, 1],
    fn: ([value]) => {
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        return Number(value);
      return raise('ValueError', `double() cannot convert ${JSON.stringify(value)}`);
    },
  },
  keys: {
    arity: [1, 1],
    fn: ([value]) =>
      isMap(value!)
        ? Object.keys(value)
        : raise('TypeError', `keys() expects a map, got ${typeName(value!)}`),
  },
  'map.get': {
    arity: [2, 2],
    fn: ([map, key]) => {
      const path = Array.isArray(key) ? key : [key!];
      let current: Value = map!;
      for (const part of path) {
        if (!isMap(current) || typeof part !== 'string' || !Object.hasOwn(current, part)) return null;
        current = current[part]!;
      }
      return current;
    },
  },
  'list.concat': {
    arity: [2, 2],
    fn: ([list, value]) =>
      Array.isArray(list)
        ? [...list, value!]
        : raise('TypeError', `list.concat() expects a list, got ${typeName(list!)}`),
  },
  'text.to_lower': { arity: [1, 1], fn: ([s]) => toText(s!).toLowerCase() },
  'text.to_upper': { arity: [1, 1], fn: ([s]) => toText(s!).toUpperCase() },
  'text.split': { arity: [2, 2], fn: ([s, sep]) => toText(s!).split(toText(sep!)) },
  'text.replace_all': {
    arity: [3, 3],
    fn: ([s, find, replacement]) => toText(s!).split(toText(find!)).join(toText(replacement!)),
  },
  'json.encode_to_string': { arity: [1, 1], fn: ([value]) => JSON.stringify(value) },
};

export interface EvaluationContext {
  scope: Scope;
  /** sys.get_env and friends: functions whose answer depends on where the workflow runs. */
  environment: Record<string, BuiltinFunction>;
}

export function evaluateNode(node: Node, context: EvaluationContext): Value {
  switch (node.type) {
    case 'literal':
      return node.value;
    case 'list':
      return node.items.map((item) => evaluateNode(item, context));
    case 'map': {
      const out: { [key: string]: Value } = {};
      for (const [k, v] of node.entries) {
        const key = evaluateNode(k, context);
        if (typeof key !== 'string') raise('TypeError', 'map keys must be strings');
        out[key] = evaluateNode(v, context);
      }
      return out;
    }
    case 'var': {
      const value = context.scope.get(node.name);
      if (value === undefined) {
        if (RETRY_POLICIES[node.name]) return RETRY_POLICIES[node.name]!;
        return raise('KeyError', `variable not defined: ${node.name}`, ['LookupError']);
      }
      return value;
    }
    case 'member': {
      const dotted = dottedName(node);
      if (dotted && RETRY_POLICIES[dotted] && context.scope.get(dotted.split('.')[0]!) === undefined)
        return RETRY_POLICIES[dotted]!;
      return lookup(evaluateNode(node.object, context), node.key);
    }
    case 'index':
      return lookup(evaluateNode(node.object, context), evaluateNode(node.index, context));
    case 'call': {
      const builtin = FUNCTIONS[node.callee];
      const environment = context.environment[node.callee];
      if (!builtin && !environment) throw new UnsupportedError(`function ${node.callee}() is not supported`);
      const args = node.args.map((arg) => evaluateNode(arg, context));
      if (builtin) {
        const [min, max] = builtin.arity;
        if (args.length < min || args.length > max)
          raise(
            'TypeError',
            `${node.callee}() takes ${min === max ? min : `${min}-${max}`} arguments, got ${args.length}`,
          );
        return builtin.fn(args);
      }
      return environment!(args);
    }
    case 'unary': {
      const value = evaluateNode(node.operand, context);
      if (node.op === 'not') {
        if (typeof value !== 'boolean') raise('TypeError', `not expects a boolean, got ${typeName(value)}`);
        return !value;
      }
      if (typeof value !== 'number')
        raise('TypeError', `unary minus expects a number, got ${typeName(value)}`);
      return -value;
    }
    case 'binary':
      return binary(node, context);
  }
}

function binary(node: Extract<Node, { type: 'binary' }>, context: EvaluationContext): Value {
  if (node.op === 'and' || node.op === 'or') {
    const left = evaluateNode(node.left, context);
    if (typeof left !== 'boolean') raise('TypeError', `${node.op} expects booleans, got ${typeName(left)}`);
    if (node.op === 'and' ? !left : left) return left;
    const right = evaluateNode(node.right, context);
    if (typeof right !== 'boolean') raise('TypeError', `${node.op} expects booleans, got ${typeName(right)}`);
    return right;
  }
  const left = evaluateNode(node.left, context);
  const right = evaluateNode(node.right, context);
  switch (node.op) {
    case '==':
      return deepEqual(left, right);
    case '!=':
      return !deepEqual(left, right);
    case 'in':
      if (Array.isArray(right)) return right.some((item) => deepEqual(item, left));
      if (isMap(right)) return typeof left === 'string' && Object.hasOwn(right, left);
      return raise('TypeError', `in expects a list or map on the right, got ${typeName(right)}`);
    case '+':
      if (typeof left === 'string' && typeof right === 'string') return left + right;
      if (typeof left === 'number' && typeof right === 'number') return left + right;
      return raise(
        'TypeError',
        `cannot add ${typeName(left)} and ${typeName(right)} (use string() to concatenate)`,
      );
    case '<':
    case '>':
    case '<=':
    case '>=': {
      const comparable =
        (typeof left === 'number' && typeof right === 'number') ||
        (typeof left === 'string' && typeof right === 'string');
      if (!comparable) raise('TypeError', `cannot compare ${typeName(left)} with ${typeName(right)}`);
      const l = left as number | string;
      const r = right as number | string;
      return node.op === '<' ? l < r : node.op === '>' ? l > r : node.op === '<=' ? l <= r : l >= r;
    }
    default: {
      if (typeof left !== 'number' || typeof right !== 'number') {
        return raise('TypeError', `${node.op} expects numbers, got ${typeName(left)} and ${typeName(right)}`);
      }
      if ((node.op === '/' || node.op === '//' || node.op === '%') && right === 0)
        raise('ZeroDivisionError', 'division by zero', ['ArithmeticError']);
      if (node.op === '-') return left - right;
      if (node.op === '*') return left * right;
      if (node.op === '/') return left / right;
      if (node.op === '//') return Math.floor(left / right);
      return ((left % right) + right) % right;
    }
  }
}
