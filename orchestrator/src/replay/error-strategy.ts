/**
 * What the replay executor makes of a config's `errorStrategy` and `maxRetries`, since it
 * cannot run Groovy: the last assignment of each wins, as in Nextflow, and these forms are
 * understood — a fixed strategy (`'retry'`, `'terminate'`, `'finish'`, `'ignore'`) and a
 * closure that retries `task.exitStatus in [codes…]` (ranges such as `(130..145)` included),
 * which is how the platform writes it. Anything else is reported as not understood and the
 * replay retries every failure up to maxRetries.
 */
export interface ReplayErrorStrategy {
  /** What Nextflow would do after `attempt` (1-based) ended with `exitCode`. */
  decide(exitCode: number, attempt: number): 'retry' | 'terminate' | 'finish' | 'ignore';
  maxRetries: number;
  /** Set when the strategy was not one of the understood forms. */
  notUnderstood?: string;
}

type Strategy = 'retry' | 'terminate' | 'finish' | 'ignore';
const FIXED = /^'(retry|terminate|finish|ignore)'$/;

function lastAssignment(config: string, name: string): string | undefined {
  // A value runs to the end of its line: a closure on one line, or a quoted word.
  const matches = [...config.matchAll(new RegExp(`^\\s*(?:process\\.)?${name}\\s*=\\s*(.+?)\\s*$`, 'gm'))];
  return matches.at(-1)?.[1];
}

function codesIn(list: string): Set<number> | null {
  const codes = new Set<number>();
  for (const part of list.split(/\s*(?:,|\+)\s*/).filter(Boolean)) {
    const range = /^\(?(\d+)\s*\.\.\s*(\d+)\)?$/.exec(part.replace(/[[\]]/g, ''));
    const single = /^\d+$/.exec(part.replace(/[[\]()]/g, ''));
    if (range) for (let code = Number(range[1]); code <= Number(range[2]); code++) codes.add(code);
    else if (single) codes.add(Number(single[0]));
    else return null;
  }
  return codes;
}

export function replayErrorStrategy(config: string): ReplayErrorStrategy {
  const maxRetries = Number(lastAssignment(config, 'maxRetries') ?? 0) || 0;
  const value = lastAssignment(config, 'errorStrategy');
  if (value === undefined) return { maxRetries, decide: () => 'terminate' };
  const fixed = FIXED.exec(value);
  if (fixed) {
    const strategy = fixed[1] as Strategy;
    return {
      maxRetries,
      decide: (_exit, attempt) => (strategy === 'retry' && attempt > maxRetries ? 'terminate' : strategy),
    };
  }
  const closure =
    /^\{\s*task\.exitStatus\s+in\s+(.+?)\s*\?\s*'(retry|terminate|finish|ignore)'\s*:\s*'(retry|terminate|finish|ignore)'\s*\}$/.exec(
      value,
    );
  const codes = closure ? codesIn(closure[1]!.replace(/^\(|\)$/g, '')) : null;
  if (closure && codes) {
    const [, , matched, otherwise] = closure as unknown as [string, string, Strategy, Strategy];
    return {
      maxRetries,
      decide: (exit, attempt) => {
        const strategy = codes.has(exit) ? matched : otherwise;
        return strategy === 'retry' && attempt > maxRetries ? 'terminate' : strategy;
      },
    };
  }
  return {
    maxRetries,
    notUnderstood: value,
    decide: (_exit, attempt) => (attempt > maxRetries ? 'terminate' : 'retry'),
  };
}
