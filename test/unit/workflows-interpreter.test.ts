import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  evaluateNode,
  parseExpression,
  UnsupportedError,
  type Value,
  WorkflowError,
} from '../../scripts/local/workflows/expressions';
import {
  type HttpResponse,
  type InterpreterHost,
  WorkflowDefinition,
  WorkflowInterpreter,
} from '../../scripts/local/workflows/interpreter';

function expr(source: string, vars: Record<string, Value> = {}, env: Record<string, string> = {}): Value {
  return evaluateNode(parseExpression(source), {
    scope: { get: (name) => vars[name] },
    environment: { 'sys.get_env': ([name]) => env[String(name)] ?? null },
  });
}

function thrown(fn: () => unknown): WorkflowError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WorkflowError) return error;
    throw error;
  }
  throw new Error('expected a WorkflowError');
}

describe('expressions', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['7 / 2', 3.5],
    ['7 // 2', 3],
    ['-7 % 3', 2],
    ['10 - 4 - 3', 3],
    ['-x + 1', -4],
    ['"a" + "b" + string(3)', 'ab3'],
    ['1 < 2 and 2 <= 2', true],
    ['1 > 2 or not (3 != 3)', true],
    ['not 1 == 2', true],
    ['"b" in ["a", "b"]', true],
    ['"k" in {"k": 1}', true],
    ['3 in [1, 2]', false],
    ['m.a.b', 'deep'],
    ['m["a"]["b"]', 'deep'],
    ['list[1]', 'y'],
    ['len(list) + len("abc") + len(m)', 6],
    ['default(null, "fallback")', 'fallback'],
    ['default(x, 0)', 5],
    ['map.get(m, "missing")', null],
    ['map.get(m, ["a", "b"])', 'deep'],
    ['int("42") + int(2.9)', 44],
    ['double("2.5")', 2.5],
    ['keys({"p": 1, "q": 2})', ['p', 'q']],
    ['text.to_upper("run") + text.replace_all("a-b", "-", "_")', 'RUNa_b'],
    ['text.split("a,b", ",")', ['a', 'b']],
    ['sys.get_env("REGION")', 'us-central1'],
    ['{"k": x}', { k: 5 }],
    ['[1, "two", true, null]', [1, 'two', true, null]],
    ['m == {"a": {"b": "deep"}}', true],
  ])('%s', (source, expected) => {
    expect(
      expr(source, { x: 5, m: { a: { b: 'deep' } }, list: ['x', 'y'] }, { REGION: 'us-central1' }),
    ).toEqual(expected);
  });

  it.each([
    ['m.nope', 'KeyError'],
    ['list[5]', 'IndexError'],
    ['undefined_var', 'KeyError'],
    ['"a" + 1', 'TypeError'],
    ['1 / 0', 'ZeroDivisionError'],
    ['1 and true', 'TypeError'],
    ['int("x")', 'ValueError'],
    ['len(3)', 'TypeError'],
  ])('%s raises %s', (source, tag) => {
    expect(thrown(() => expr(source, { m: {}, list: [] })).tags).toContain(tag);
  });

  it('treats http.default_retry_non_idempotent as the predefined policy', () => {
    expect(expr('http.default_retry_non_idempotent')).toMatchObject({
      max_retries: 5,
      backoff: { initial_delay: 1, max_delay: 60, multiplier: 1.25 },
    });
  });

  it('refuses functions outside the subset', () => {
    expect(() => expr('base64.encode("x")')).toThrow(UnsupportedError);
    expect(() => expr('1 +')).toThrow(UnsupportedError);
  });
});

interface Recorded {
  sleeps: number[];
  logs: string[];
  calls: { url: string; body: Value }[];
}

function host(
  http: (url: string, body: Value) => HttpResponse | Promise<HttpResponse>,
  connectors: InterpreterHost['connectors'] = {},
): InterpreterHost & { recorded: Recorded } {
  const recorded: Recorded = { sleeps: [], logs: [], calls: [] };
  return {
    recorded,
    env: { GOOGLE_CLOUD_PROJECT_ID: 'p1' },
    log: (severity, message) =>
      recorded.logs.push(`${severity}: ${typeof message === 'string' ? message : JSON.stringify(message)}`),
    sleep: async (seconds) => {
      recorded.sleeps.push(seconds);
    },
    http: async (_method, args) => {
      recorded.calls.push({ url: args.url, body: args.body ?? null });
      return http(args.url, args.body ?? null);
    },
    connectors,
  };
}

async function run(
  yaml: string,
  argument: Value = null,
  h: InterpreterHost = host(() => ({ code: 200, headers: {}, body: null })),
) {
  return new WorkflowInterpreter(new WorkflowDefinition(yaml), h).execute(argument);
}

describe('workflow steps', () => {
  it('assigns variables, map keys and list items, and returns', async () => {
    const yaml = `
- init:
    assign:
      - m: {a: 1}
      - l: [1, 2, 3]
      - m.b: 2
      - m["c"]: \${m.a + m.b}
      - l[0]: 10
- done:
    return: \${[m, l]}
`;
    expect(await run(yaml)).toEqual([{ a: 1, b: 2, c: 3 }, [10, 2, 3]]);
  });

  it('takes main params and switches with next, falling back to the step next', async () => {
    const yaml = `
main:
  params: [args]
  steps:
    - pick:
        switch:
          - condition: \${args.n > 10}
            next: big
          - condition: \${args.n > 5}
            return: "medium"
        next: small
    - big:
        return: "big"
    - small:
        return: "small"
`;
    expect(await run(yaml, { n: 20 })).toBe('big');
    expect(await run(yaml, { n: 7 })).toBe('medium');
    expect(await run(yaml, { n: 1 })).toBe('small');
  });

  it('loops with next and stops at next: end', async () => {
    const yaml = `
- init:
    assign:
      - i: 0
- loop:
    assign:
      - i: \${i + 1}
- check:
    switch:
      - condition: \${i < 3}
        next: loop
- stop:
    next: end
- unreachable:
    raise: "not reached"
`;
    expect(await run(yaml)).toBeNull();
  });

  it('runs nested steps, and a next inside them can reach an outer step', async () => {
    const yaml = `
- outer:
    steps:
      - inner:
          assign:
            - x: 1
          next: target
      - skipped:
          raise: "skipped"
- also_skipped:
    raise: "skipped too"
- target:
    return: \${x}
`;
    expect(await run(yaml)).toBe(1);
  });

  it('catches a raised map with try/except and binds it with as', async () => {
    const yaml = `
- attempt:
    try:
      steps:
        - boom:
            raise:
              code: 42
              message: "custom"
    except:
      as: e
      steps:
        - handled:
            return: \${e.code + 1}
`;
    expect(await run(yaml)).toBe(43);
  });

  it('fails the execution with a raised string when nothing catches it', async () => {
    await expect(run('- boom:\n    raise: "went wrong"\n')).rejects.toMatchObject({ payload: 'went wrong' });
  });

  it('retries with http.default_retry_non_idempotent on 503, backing off, then succeeds', async () => {
    let calls = 0;
    const h = host(() =>
      ++calls < 3 ? { code: 503, headers: {}, body: 'busy' } : { code: 200, headers: {}, body: { ok: true } },
    );
    const yaml = `
- post:
    try:
      call: http.post
      args:
        url: http://fn/step
        body: {a: 1}
      result: r
    retry: \${http.default_retry_non_idempotent}
- done:
    return: \${r.body}
`;
    expect(await run(yaml, null, h)).toEqual({ ok: true });
    expect(calls).toBe(3);
    expect(h.recorded.sleeps).toEqual([1, 1.25]);
  });

  it('does not retry a 400 with the non-idempotent policy; the HttpError carries code and body', async () => {
    let calls = 0;
    const h = host(() => {
      calls++;
      return { code: 400, headers: {}, body: { error: 'bad' } };
    });
    const yaml = `
- post:
    try:
      call: http.post
      args:
        url: http://fn/step
      result: r
    retry: \${http.default_retry_non_idempotent}
    except:
      as: e
      steps:
        - out:
            return: \${[e.code, e.body.error, e.tags]}
`;
    expect(await run(yaml, null, h)).toEqual([400, 'bad', ['HttpError']]);
    expect(calls).toBe(1);
  });

  it('gives up after max_retries and raises the last error', async () => {
    const h = host(() => ({ code: 429, headers: {}, body: null }));
    const yaml = `
- post:
    try:
      call: http.get
      args:
        url: http://fn/x
    retry: \${http.default_retry_non_idempotent}
`;
    await expect(run(yaml, null, h)).rejects.toMatchObject({ payload: { code: 429 } });
    expect(h.recorded.calls).toHaveLength(6);
  });

  it('retries with a map: the default predicate, its own max_retries and backoff', async () => {
    let calls = 0;
    const h = host(() =>
      ++calls < 3 ? { code: 502, headers: {}, body: null } : { code: 200, headers: {}, body: 'ok' },
    );
    const yaml = `
- get:
    try:
      call: http.get
      args:
        url: http://fn/x
      result: r
    retry:
      predicate: \${http.default_retry_predicate}
      max_retries: 3
      backoff:
        initial_delay: 2
        max_delay: 10
        multiplier: 3
- done:
    return: \${r.body}
`;
    expect(await run(yaml, null, h)).toBe('ok');
    expect(h.recorded.sleeps).toEqual([2, 6]);
  });

  it('retries with a custom predicate subworkflow, which decides from the error', async () => {
    let calls = 0;
    const h = host(() => {
      calls++;
      return calls < 3 ? { code: 500, headers: {}, body: null } : { code: 404, headers: {}, body: null };
    });
    const yaml = `
main:
  steps:
    - get:
        try:
          call: http.get
          args:
            url: http://fn/x
        retry:
          predicate: \${only_500}
          max_retries: 5
          backoff: {initial_delay: 1, max_delay: 1, multiplier: 1}
only_500:
  params: [e]
  steps:
    - check:
        switch:
          - condition: \${e.code == 500}
            return: true
    - otherwise:
        return: false
`;
    await expect(run(yaml, null, h)).rejects.toMatchObject({ payload: { code: 404 } });
    expect(calls).toBe(3);
  });

  it.each([
    [
      'retry without try',
      `- post:\n    call: http.get\n    args: {url: http://x}\n    retry: \${http.default_retry}\n`,
      /step "post": retry without try is refused/,
    ],
    [
      'except without try',
      '- post:\n    call: http.get\n    args: {url: http://x}\n    except:\n      as: e\n      steps:\n        - x:\n            return: 1\n',
      /step "post": except without try/,
    ],
    [
      'a condition that is not an expression',
      '- pick:\n    switch:\n      - condition: "x == 1"\n        return: 1\n',
      /step "pick": a condition must be an expression/,
    ],
    ['an unknown step key', '- s:\n    retries: 3\n    return: 1\n', /step "s": "retries" is not supported/],
    [
      'a retry map without backoff',
      `- s:\n    try:\n      call: http.get\n      args: {url: http://x}\n    retry:\n      predicate: \${http.default_retry_predicate}\n      max_retries: 2\n`,
      /step "s": a retry map needs max_retries and backoff/,
    ],
    [
      'a retry predicate that names nothing',
      `- s:\n    try:\n      call: http.get\n      args: {url: http://x}\n    retry:\n      predicate: \${nope}\n      max_retries: 2\n      backoff: {initial_delay: 1, max_delay: 1, multiplier: 1}\n`,
      /step "s": retry.predicate must name a predicate/,
    ],
  ])('refuses what Cloud Workflows refuses, naming the step: %s', (_what, yaml, message) => {
    expect(() => new WorkflowDefinition(yaml)).toThrow(message);
  });

  it("refuses the old run-pipeline definition's reconcile step (retry without try), and accepts the fixed one", () => {
    const fixed = readFileSync('workflows/run-pipeline.workflows.yaml', 'utf8');
    expect(() => new WorkflowDefinition(fixed)).not.toThrow();
    const old = fixed.replace(
      / {4}- post:\n {8}try:\n {10}call: http\.post\n {10}args:\n {12}url: \$\{url\}\n {12}auth:\n {14}type: OIDC\n {12}body: \$\{body\}\n {10}result: response\n/,
      `    - post:\n        call: http.post\n        args:\n          url: \${url}\n          auth:\n            type: OIDC\n          body: \${body}\n        result: response\n`,
    );
    expect(old).not.toBe(fixed);
    expect(() => new WorkflowDefinition(old)).toThrow(
      /step "post": retry without try is refused by Cloud Workflows/,
    );
  });

  it('calls subworkflows with params, defaults and results', async () => {
    const yaml = `
main:
  steps:
    - call_it:
        call: add
        args:
          a: 2
        result: sum
    - done:
        return: \${sum}
add:
  params: [a, b: 40]
  steps:
    - r:
        return: \${a + b}
`;
    expect(await run(yaml)).toBe(42);
  });

  it('runs sys.sleep, sys.log and sys.get_env calls', async () => {
    const h = host(() => ({ code: 200, headers: {}, body: null }));
    const yaml = `
- wait:
    call: sys.sleep
    args:
      seconds: 3
- note:
    call: sys.log
    args:
      severity: "INFO"
      text: "hello"
- env:
    call: sys.get_env
    args:
      name: GOOGLE_CLOUD_PROJECT_ID
    result: project
- done:
    return: \${project}
`;
    expect(await run(yaml, null, h)).toBe('p1');
    expect(h.recorded.sleeps).toEqual([3]);
    expect(h.recorded.logs).toEqual(['INFO: hello']);
  });

  it.each([
    [
      '- loop:\n    for:\n      value: v\n      in: [1]\n      steps: []\n',
      'step "loop": for.steps must be a list of at least one step',
    ],
    ['- par:\n    parallel:\n      branches: []\n', 'step "par": branches must be a list of named branches'],
    [
      '- x:\n    call: googlecloud.storage.read\n',
      'step "x": call googlecloud.storage.read is not supported',
    ],
    ['main:\n  steps:\n    - x:\n        call: nope\n', 'step "x": call nope is not supported'],
  ])('refuses unsupported constructs when loading, naming the step', (yaml, message) => {
    expect(() => new WorkflowDefinition(yaml)).toThrow(message);
  });

  it('names the step when an expression uses something unsupported', async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Workflows expression, not a template.
    await expect(run('- s:\n    assign:\n      - x: ${uuid.generate()}\n')).rejects.toThrow(
      'step "s": function uuid.generate() is not supported',
    );
  });
});

/** What a parallel test sees: how many calls were in flight at once, and in what order they ended. */
function concurrentHost(delayMs = 20): InterpreterHost & { peak: () => number; order: string[] } {
  let inFlight = 0;
  let peak = 0;
  const order: string[] = [];
  const h = host(async (url) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    inFlight--;
    order.push(url);
    return { code: 200, headers: {}, body: url };
  });
  return Object.assign(h, { peak: () => peak, order });
}

describe('for loops', () => {
  it('walks a list with its index, a literal list, an inclusive range and a map through keys()', async () => {
    const yaml = `
- init:
    assign:
      - seen: []
      - sum: 0
      - m: {b: 2, a: 1}
- overList:
    for:
      value: item
      index: i
      in: \${["x", "y"]}
      steps:
        - add:
            assign:
              - seen: \${list.concat(seen, string(i) + item)}
- overLiteral:
    for:
      value: n
      in: [10, 20]
      steps:
        - add:
            assign:
              - sum: \${sum + n}
- overRange:
    for:
      value: v
      range: [1, 9]
      steps:
        - add:
            assign:
              - sum: \${sum + v}
- overDoubles:
    for:
      value: d
      range: \${[0.5, 2.5]}
      steps:
        - add:
            assign:
              - seen: \${list.concat(seen, d)}
- overMap:
    for:
      value: key
      in: \${keys(m)}
      steps:
        - add:
            assign:
              - seen: \${list.concat(seen, key + "=" + string(m[key]))}
- empty:
    for:
      value: never
      in: []
      steps:
        - boom:
            raise: "an empty list runs no iteration"
- done:
    return: \${[seen, sum]}
`;
    expect(await run(yaml)).toEqual([['0x', '1y', 0.5, 1.5, 2.5, 'b=2', 'a=1'], 30 + 45]);
  });

  it('keeps what the body creates, and its loop variables, inside the loop; outer variables it assigns keep the change', async () => {
    const yaml = `
main:
  steps:
    - init:
        assign:
          - outer: 0
    - loop:
        for:
          value: v
          index: i
          in: [1, 2, 3]
          steps:
            - work:
                assign:
                  - outer: \${outer + v}
                  - inner: \${v * 2}
    - read:
        return: READ
`;
    const read = (name: string) => run(yaml.replace('READ', `\${${name}}`));
    expect(await read('outer')).toBe(6);
    for (const name of ['inner', 'v', 'i'])
      await expect(read(name)).rejects.toMatchObject({
        payload: { message: `variable not defined: ${name}`, tags: ['KeyError', 'LookupError'] },
      });
  });

  it('continues and breaks with next, from nested steps and switches, leaving only the innermost loop', async () => {
    const yaml = `
- init:
    assign:
      - odd: []
      - pairs: 0
- outer:
    for:
      value: v
      range: [1, 20]
      steps:
        - decide:
            switch:
              - condition: \${v % 2 == 0}
                next: continue
              - condition: \${v > 7}
                next: break
        - nested:
            steps:
              - keep:
                  assign:
                    - odd: \${list.concat(odd, v)}
        - inner:
            for:
              value: w
              in: [1, 2, 3]
              steps:
                - stop:
                    switch:
                      - condition: \${w == 2}
                        next: break
                - count:
                    assign:
                      - pairs: \${pairs + 1}
- done:
    return: \${[odd, pairs]}
`;
    expect(await run(yaml)).toEqual([[1, 3, 5, 7], 4]);
  });

  it('returns from inside a loop, and from a subworkflow called in one', async () => {
    const yaml = `
main:
  steps:
    - loop:
        for:
          value: v
          in: [1, 2, 3]
          steps:
            - found:
                call: first_over
                args:
                  limit: \${v}
                result: r
            - check:
                switch:
                  - condition: \${r > 1}
                    return: \${"at " + string(v) + " / " + string(r)}
    - never:
        return: "not reached"
first_over:
  params: [limit]
  steps:
    - scan:
        for:
          value: n
          in: [1, 2, 3, 4]
          steps:
            - hit:
                switch:
                  - condition: \${n > limit}
                    return: \${n}
`;
    expect(await run(yaml)).toBe('at 1 / 2');
  });

  it('raises a TypeError that a try can catch when in is not a list', async () => {
    const yaml = `
- attempt:
    try:
      steps:
        - loop:
            for:
              value: v
              in: \${"not a list"}
              steps:
                - none:
                    assign:
                      - x: 1
    except:
      as: e
      steps:
        - caught:
            return: \${e.tags}
`;
    expect(await run(yaml)).toEqual(['TypeError']);
  });

  it.each([
    [
      'next: break outside a loop',
      '- s:\n    next: break\n',
      'next: break is only allowed inside a for loop',
    ],
    [
      'next out of a loop',
      '- l:\n    for:\n      value: v\n      in: [1]\n      steps:\n        - s:\n            next: out\n- out:\n    return: 1\n',
      'next: out leaves a for loop or parallel branch',
    ],
    [
      'both in and range',
      '- l:\n    for:\n      value: v\n      in: [1]\n      range: [1, 2]\n      steps:\n        - s:\n            return: 1\n',
      'exactly one of in',
    ],
    [
      'no loop variable',
      '- l:\n    for:\n      in: [1]\n      steps:\n        - s:\n            return: 1\n',
      'for needs value',
    ],
  ])('refuses %s when the definition is loaded', (_name, yaml, message) => {
    expect(() => new WorkflowDefinition(yaml)).toThrow(message);
  });
});

describe('parallel steps', () => {
  it('runs branches at once; branches write shared variables, read the others, and keep their own', async () => {
    const h = concurrentHost();
    const yaml = `
- init:
    assign:
      - base: "http://svc/"
      - results: {}
      - count: 0
- fetch:
    parallel:
      shared: [results, count]
      branches:
        - slow:
            steps:
              - get:
                  call: http.get
                  args:
                    url: \${base + "slow"}
                  result: mine
              - keep:
                  assign:
                    - results["slow"]: \${mine.body}
                    - count: \${count + 1}
        - fast:
            steps:
              - get:
                  call: http.get
                  args:
                    url: \${base + "fast"}
                  result: mine
              - keep:
                  assign:
                    - results["fast"]: \${mine.body}
                    - count: \${count + 1}
- done:
    return: \${[results, count]}
`;
    expect(await run(yaml, null, h)).toEqual([{ slow: 'http://svc/slow', fast: 'http://svc/fast' }, 2]);
    expect(h.peak()).toBe(2);
    await expect(
      run(yaml.replace('[results, count]}', 'mine}'), null, concurrentHost()),
    ).rejects.toMatchObject({
      payload: { tags: ['KeyError', 'LookupError'] },
    });
  });

  it('runs a parallel for, each iteration with its own loop variables, at most concurrency_limit at once', async () => {
    const yaml = (limit: string) => `
- init:
    assign:
      - total: 0
      - seen: {}
- each:
    parallel:
      shared: [total, seen]
      ${limit}
      for:
        value: v
        index: i
        range: [1, 6]
        steps:
          - get:
              call: http.get
              args:
                url: \${"http://svc/" + string(v)}
          - add:
              assign:
                - total: \${total + v}
                - seen[string(i)]: \${v}
- done:
    return: \${[total, len(seen)]}
`;
    const limited = concurrentHost();
    expect(await run(yaml('concurrency_limit: 2'), null, limited)).toEqual([21, 6]);
    expect(limited.peak()).toBe(2);
    const expression = concurrentHost();
    expect(await run(yaml(`concurrency_limit: \${1 + 2}`), null, expression)).toEqual([21, 6]);
    expect(expression.peak()).toBe(3);
    const unlimited = concurrentHost();
    expect(await run(yaml(''), null, unlimited)).toEqual([21, 6]);
    expect(unlimited.peak()).toBe(6);
  });

  it('lets every branch finish when one fails, then raises UnhandledBranchError naming it', async () => {
    const yaml = `
- init:
    assign:
      - finished: []
- work:
    try:
      steps:
        - fanOut:
            parallel:
              shared: [finished]
              branches:
                - fails:
                    steps:
                      - boom:
                          raise:
                            message: "disk full"
                            code: 7
                - handles:
                    steps:
                      - guarded:
                          try:
                            steps:
                              - inner:
                                  raise: "caught inside"
                          except:
                            as: e
                            steps:
                              - note:
                                  assign:
                                    - finished: \${list.concat(finished, "handles")}
                - slow:
                    steps:
                      - wait:
                          call: http.get
                          args:
                            url: "http://svc/slow"
                      - note:
                          assign:
                            - finished: \${list.concat(finished, "slow")}
    except:
      as: e
      steps:
        - report:
            return: \${[e.tags, e.branches, finished]}
`;
    const [tags, branches, finished] = (await run(yaml, null, concurrentHost())) as Value[];
    expect(tags).toEqual(['UnhandledBranchError']);
    expect(branches).toEqual([{ id: 'fails', error: { message: 'disk full', code: 7 } }]);
    expect(finished).toEqual(['handles', 'slow']);
  });

  it('nests parallel steps two deep, and raises ParallelNestingError at three', async () => {
    const level = (inner: string) => `
parallel:
  shared: [hits]
  branches:
    - a:
        steps:
          - hit:
              assign:
                - hits: \${hits + 1}${inner ? `\n          - deeper:${inner.replace(/\n/g, '\n              ')}` : ''}`;
    const yaml = (body: string) =>
      `- init:\n    assign:\n      - hits: 0\n- outer:${body.replace(/\n/g, '\n    ')}\n- done:\n    return: \${hits}\n`;
    expect(await run(yaml(level(level(''))))).toBe(2);
    const error = await run(yaml(level(level(level(''))))).then(
      () => null,
      (e: WorkflowError) => e.payload,
    );
    expect(error).toMatchObject({ tags: ['UnhandledBranchError'] });
    expect(JSON.stringify(error)).toContain('ParallelNestingError');
  });

  it.each([
    [
      'a parent variable written in a branch without shared',
      '- init:\n    assign:\n      - input: 1\n- p:\n    parallel:\n      branches:\n        - a:\n            steps:\n              - w:\n                  assign:\n                    - input: 5\n',
      'input belongs to the scope outside the parallel step',
    ],
    [
      'a shared variable nobody declared',
      '- p:\n    parallel:\n      shared: [ghost]\n      branches:\n        - a:\n            steps:\n              - w:\n                  assign:\n                    - x: 1\n',
      'shared variable ghost must be declared',
    ],
    [
      'an exception policy other than continueAll',
      '- p:\n    parallel:\n      exception_policy: unhandled\n      branches:\n        - a:\n            steps:\n              - w:\n                  assign:\n                    - x: 1\n',
      'continueAll is the only policy',
    ],
    [
      'next out of a branch',
      '- p:\n    parallel:\n      branches:\n        - a:\n            steps:\n              - w:\n                  next: after\n- after:\n    return: 1\n',
      'next: after leaves a for loop or parallel branch',
    ],
    [
      'break in a branch outside any loop',
      '- l:\n    for:\n      value: v\n      in: [1]\n      steps:\n        - p:\n            parallel:\n              branches:\n                - a:\n                    steps:\n                      - w:\n                          next: break\n',
      'next: break is only allowed inside a for loop',
    ],
    [
      'eleven branches',
      `- p:\n    parallel:\n      branches:\n${Array.from({ length: 11 }, (_, i) => `        - b${i}:\n            steps:\n              - w:\n                  assign:\n                    - x: 1\n`).join('')}`,
      'at most 10 in one parallel step',
    ],
  ])('refuses %s when the definition is loaded', (_name, yaml, message) => {
    expect(() => new WorkflowDefinition(yaml)).toThrow(message);
  });
});

describe('the run-pipeline definition', () => {
  const definition = new WorkflowDefinition(readFileSync('workflows/run-pipeline.workflows.yaml', 'utf8'));
  const argument = {
    run_id: 'run-abcdefabcdef',
    project: 'p1',
    region: 'us-central1',
    prepare_url: 'http://fn/prepareRun',
    reconcile_url: 'http://fn/reconcileRun',
    poll_seconds: 2,
  };
  const jobName = 'projects/p1/locations/us-central1/jobs/nf-run-abcdefabcdef';
  const prepared = {
    parent: 'projects/p1/locations/us-central1',
    job_id: 'nf-run-abcdefabcdef',
    request_id: 'b4c5d6e7-0000-4000-8000-000000000001',
    job: { taskGroups: [] },
  };
  const job = (state: string) => ({ name: jobName, status: { state } });

  function scenario(options: { prepare?: HttpResponse; create?: () => Value; gets?: (Value | 'missing')[] }) {
    const reconciled: Value[] = [];
    const creates: Value[] = [];
    const gets = [...(options.gets ?? ['RUNNING', 'SUCCEEDED'].map(job))];
    const h = host(
      (url, body) => {
        if (url.endsWith('/prepareRun')) return options.prepare ?? { code: 200, headers: {}, body: prepared };
        reconciled.push(body);
        const phase = (body as { phase: string }).phase;
        return {
          code: 200,
          headers: {},
          body: {
            run_id: argument.run_id,
            status: phase,
            action: phase === 'submitted' ? 'continue' : 'stop',
          },
        };
      },
      {
        'googleapis.batch.v1.projects.locations.jobs.create': async (args) => {
          creates.push(args);
          return options.create ? options.create() : job('QUEUED');
        },
        'googleapis.batch.v1.projects.locations.jobs.get': async () => {
          const next = gets.shift() ?? job('SUCCEEDED');
          if (next === 'missing')
            throw new WorkflowError({ message: 'NOT_FOUND', code: 404, tags: ['HttpError'] });
          return next;
        },
      },
    );
    return {
      h,
      reconciled,
      creates,
      execute: () => new WorkflowInterpreter(definition, h).execute(argument),
    };
  }

  it('prepares, creates nf-{run_id} without waiting for it, polls until it finishes and reconciles', async () => {
    const s = scenario({});
    expect(await s.execute()).toEqual({ run_id: argument.run_id, status: 'final', action: 'stop' });
    expect(s.creates).toEqual([
      {
        parent: prepared.parent,
        jobId: prepared.job_id,
        requestId: prepared.request_id,
        body: prepared.job,
        connector_params: { skip_polling: true },
      },
    ]);
    expect(s.reconciled.map((r) => (r as { phase: string }).phase)).toEqual(['submitted', 'final']);
    expect((s.reconciled[1] as { job: Value }).job).toEqual(job('SUCCEEDED'));
    expect(s.h.recorded.sleeps).toEqual([2, 2]);
  });

  it('ends quietly without creating a job when prepare refuses a run that is no longer pending (409)', async () => {
    const s = scenario({
      prepare: { code: 409, headers: {}, body: { error: { message: 'Run is cancelled' } } },
    });
    expect(await s.execute()).toEqual({
      run_id: argument.run_id,
      outcome: 'not submitted',
      reason: 'Run is cancelled',
    });
    expect(s.creates).toEqual([]);
    expect(s.reconciled).toEqual([]);
  });

  it('adopts the existing job when create answers ALREADY_EXISTS', async () => {
    const s = scenario({
      create: () => {
        throw new WorkflowError({ message: 'ALREADY_EXISTS', code: 409, tags: ['HttpError'] });
      },
      gets: [job('RUNNING'), job('RUNNING'), job('FAILED')],
    });
    expect(await s.execute()).toMatchObject({ action: 'stop' });
    expect((s.reconciled[0] as { job: Value }).job).toEqual(job('RUNNING'));
    expect((s.reconciled[1] as { job: Value }).job).toEqual(job('FAILED'));
  });

  it('retries a create whose reply was lost (503) with the same requestId', async () => {
    let attempts = 0;
    const s = scenario({
      create: () => {
        if (++attempts === 1) throw new WorkflowError({ message: 'reset', code: 503, tags: ['HttpError'] });
        return job('QUEUED');
      },
    });
    await s.execute();
    expect(s.creates).toHaveLength(2);
    expect(new Set(s.creates.map((c) => (c as { requestId: string }).requestId)).size).toBe(1);
  });

  it('reports a failed create to reconcileRun as an error and fails the execution', async () => {
    const s = scenario({
      create: () => {
        throw new WorkflowError({ message: "Quota 'CPUS' exceeded", code: 403, tags: ['HttpError'] });
      },
    });
    await expect(s.execute()).rejects.toMatchObject({ payload: { code: 403 } });
    expect(s.reconciled).toEqual([
      {
        run_id: argument.run_id,
        phase: 'error',
        job: null,
        error: { message: "Quota 'CPUS' exceeded", code: 403, tags: ['HttpError'] },
      },
    ]);
  });

  it('reconciles with no job when the job disappears while polling (404)', async () => {
    const s = scenario({ gets: [job('RUNNING'), 'missing'] });
    await s.execute();
    expect(s.reconciled[1]).toEqual({ run_id: argument.run_id, phase: 'final', job: null });
  });

  it('keeps polling through a few transient Batch errors', async () => {
    const flaky = () => {
      throw new WorkflowError({ message: 'INTERNAL', code: 500, tags: ['HttpError'] });
    };
    const s = scenario({ gets: [job('RUNNING')] });
    const get = s.h.connectors['googleapis.batch.v1.projects.locations.jobs.get']!;
    let calls = 0;
    s.h.connectors['googleapis.batch.v1.projects.locations.jobs.get'] = async (a) =>
      ++calls <= 3 ? flaky() : get(a);
    expect(await s.execute()).toMatchObject({ status: 'final' });
    expect(calls).toBe(5);
  });

  it('gives up after 10 polls in a row fail, and reports the error', async () => {
    const s = scenario({});
    s.h.connectors['googleapis.batch.v1.projects.locations.jobs.get'] = async () => {
      throw new WorkflowError({ message: 'PERMISSION_DENIED', code: 403, tags: ['HttpError'] });
    };
    await expect(s.execute()).rejects.toMatchObject({ payload: { code: 403 } });
    expect(s.reconciled.at(-1)).toMatchObject({ phase: 'error', error: { code: 403 } });
    expect(s.h.recorded.sleeps).toHaveLength(10);
  });

  it('stops after submission when reconcile says the run is over (cancelled before create)', async () => {
    const s = scenario({});
    const original = s.h.http;
    s.h.http = async (method, args) =>
      args.url.endsWith('/reconcileRun')
        ? { code: 200, headers: {}, body: { action: 'stop', status: 'cancelled' } }
        : original(method, args);
    expect(await s.execute()).toEqual({ action: 'stop', status: 'cancelled' });
    expect(s.h.recorded.sleeps).toEqual([]);
  });
});
