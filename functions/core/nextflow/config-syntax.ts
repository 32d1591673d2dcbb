/**
 * What Nextflow's config parser refuses before a run can start, found before launch: brackets
 * that do not pair up, strings and comments that are never closed, and an assignment with
 * nothing after its `=`. Each problem names its line. This is a check of the text's shape, not
 * a Groovy parser: what it passes may still be refused for what it means (an unknown scope).
 */

export interface ConfigSyntaxProblem {
  /** 1-based. */
  line: number;
  message: string;
}

const OPENERS: Record<string, string> = { '{': '}', '(': ')', '[': ']' };
const CLOSERS: Record<string, string> = { '}': '{', ')': '(', ']': '[' };

/** Problems of a Nextflow config text, in the order they occur; [] when its shape is sound. */
export function configSyntaxProblems(text: string): ConfigSyntaxProblem[] {
  const problems: ConfigSyntaxProblem[] = [];
  const open: { char: string; line: number }[] = [];
  let line = 1;
  let i = 0;
  /** The line of a `=` whose value has not been seen yet. */
  let pendingAssignment: number | null = null;
  const n = text.length;
  const at = (s: string) => text.startsWith(s, i);
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (at('//')) {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (at('/*')) {
      const start = line;
      const end = text.indexOf('*/', i + 2);
      if (end < 0) {
        problems.push({
          line: start,
          message: `the comment opened on line ${start} (/*) is never closed with */`,
        });
        return problems;
      }
      for (let k = i; k < end; k++) if (text[k] === '\n') line++;
      i = end + 2;
      continue;
    }
    // A value, of any kind, satisfies a pending `=`.
    if (c !== '}' && c !== ')' && c !== ']' && c !== ',') pendingAssignment = null;
    if (at("'''") || at('"""')) {
      const quote = text.slice(i, i + 3);
      const start = line;
      let k = i + 3;
      while (k < n && !(text.startsWith(quote, k) && text[k - 1] !== '\\')) {
        if (text[k] === '\n') line++;
        k++;
      }
      if (k >= n) {
        problems.push({
          line: start,
          message: `the string opened on line ${start} (${quote}) is never closed`,
        });
        return problems;
      }
      i = k + 3;
      continue;
    }
    if (c === "'" || c === '"') {
      let k = i + 1;
      while (k < n && text[k] !== c && text[k] !== '\n') k += text[k] === '\\' ? 2 : 1;
      if (k >= n || text[k] === '\n') {
        problems.push({
          line,
          message: `the string opened on line ${line} (${c}) is not closed on that line; a quote is missing`,
        });
        i = k;
        continue;
      }
      i = k + 1;
      continue;
    }
    if (OPENERS[c]) {
      open.push({ char: c, line });
      i++;
      continue;
    }
    if (CLOSERS[c]) {
      if (pendingAssignment !== null) {
        problems.push({
          line: pendingAssignment,
          message: `line ${pendingAssignment}: nothing is assigned after =`,
        });
        pendingAssignment = null;
      }
      const top = open.pop();
      if (!top)
        problems.push({ line, message: `line ${line}: ${c} closes nothing (one ${CLOSERS[c]} too many)` });
      else if (top.char !== CLOSERS[c]) {
        problems.push({
          line,
          message: `line ${line}: ${c} closes the ${top.char} opened on line ${top.line}; ${OPENERS[top.char]} was expected`,
        });
      }
      i++;
      continue;
    }
    if (c === '=' && !/[=!<>~]/.test(text[i - 1] ?? '') && !/[=~]/.test(text[i + 1] ?? '')) {
      pendingAssignment = line;
      i++;
      continue;
    }
    i++;
  }
  if (pendingAssignment !== null)
    problems.push({
      line: pendingAssignment,
      message: `line ${pendingAssignment}: nothing is assigned after =`,
    });
  for (const unclosed of open)
    problems.push({
      line: unclosed.line,
      message: `the ${unclosed.char} opened on line ${unclosed.line} is never closed (${OPENERS[unclosed.char]} is missing)`,
    });
  return problems;
}
