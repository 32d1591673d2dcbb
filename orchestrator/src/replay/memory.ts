/**
 * The memory a config gives a process, as far as the replay executor can tell without running
 * Groovy: `memory = 64.GB` (or `'64 GB'`, `"65536 MB"`) inside a `withName: '<pattern>'` block
 * of `process { … }`, or in `process { … }` itself. As in Nextflow, a withName selector beats
 * the generic setting and a later setting beats an earlier one; the pattern is a regular
 * expression matched against the whole simple or fully qualified process name, and `!` negates
 * it; `resourceLimits` caps the result. A closure (`{ 36.GB * task.attempt }`) is read at the given attempt when it has that form,
 * and reported as not understood otherwise.
 */

/** Exit codes of a task killed for memory: 137 (SIGKILL, the OOM killer), 140 (SIGUSR2 on some schedulers). */
export const MEMORY_EXIT_CODES: readonly number[] = [137, 140];

const UNITS: Record<string, number> = { B: 1 / 1024 ** 3, KB: 1 / 1024 ** 2, MB: 1 / 1024, GB: 1, TB: 1024 };

export interface ConfiguredMemory {
  /** GiB, or null when no setting applies. */
  gb: number | null;
  /** A setting that applies but is not a form the replay evaluates. */
  notUnderstood?: string;
}

function memoryValue(value: string, attempt: number): number | null {
  const text = value.trim().replace(/^\{\s*(.*?)\s*\}$/, '$1');
  const match =
    /^(?:(\d+(?:\.\d+)?)\.(B|KB|MB|GB|TB)|(['"])(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)\3)(?:\s*\*\s*task\.attempt)?$/i.exec(
      text,
    );
  if (!match) return null;
  const amount = Number(match[1] ?? match[4]);
  const unit = (match[2] ?? match[5])!.toUpperCase();
  const perAttempt = /\*\s*task\.attempt$/.test(text) ? attempt : 1;
  return amount * UNITS[unit]! * perAttempt;
}

/** The body of the block whose `{` is at `open`, or null when its braces do not close. */
function blockAt(config: string, open: number): string | null {
  let depth = 0;
  let quote: string | null = null;
  for (let i = open; i < config.length; i++) {
    const c = config[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return config.slice(open + 1, i);
  }
  return null;
}

function selects(pattern: string, names: readonly string[]): boolean {
  const negated = pattern.startsWith('!');
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${negated ? pattern.slice(1) : pattern})$`);
  } catch {
    return false;
  }
  return names.some((name) => regex.test(name)) !== negated;
}

/** `memory = …` assignments directly in a block body (not in its nested blocks), in order. */
function ownMemorySettings(body: string): string[] {
  const depthAt: number[] = [];
  let depth = 0;
  for (const c of body) {
    if (c === '}') depth--;
    depthAt.push(depth);
    if (c === '{') depth++;
  }
  const settings: string[] = [];
  for (const match of body.matchAll(/(?:^|[\s;{])memory\s*=\s*/g)) {
    const from = match.index! + match[0].length;
    if (depthAt[match.index! + match[0].indexOf('memory')] !== 0) continue;
    if (body[from] === '{') {
      const closure = blockAt(body, from);
      if (closure !== null) settings.push(`{${closure}}`);
    } else settings.push(/^[^;\n}]*/.exec(body.slice(from))![0].trim());
  }
  return settings;
}

export function configuredMemory(config: string, names: readonly string[], attempt = 1): ConfiguredMemory {
  const generic: string[] = [...config.matchAll(/^\s*process\.memory\s*=\s*(.+?)\s*$/gm)].map((m) => m[1]!);
  const selected: string[] = [];
  for (const process of config.matchAll(/(^|\n)\s*process\s*\{/g)) {
    const body = blockAt(config, process.index! + process[0].length - 1);
    if (body === null) continue;
    generic.push(...ownMemorySettings(body));
    for (const selector of body.matchAll(/withName\s*:\s*(?:'([^']*)'|"([^"]*)"|([\w:|.*!]+))\s*\{/g)) {
      const pattern = selector[1] ?? selector[2] ?? selector[3]!;
      if (!selects(pattern, names)) continue;
      const inner = blockAt(body, selector.index! + selector[0].length - 1);
      if (inner !== null) selected.push(...ownMemorySettings(inner));
    }
  }
  const setting = selected.at(-1) ?? generic.at(-1);
  if (setting === undefined) return { gb: null };
  const gb = memoryValue(setting, attempt);
  if (gb === null) return { gb: null, notUnderstood: setting };
  // resourceLimits caps what a task is given, as Nextflow (24.04+) does.
  const limits = [...config.matchAll(/resourceLimits\s*=\s*\[([^\]]*)\]/g)].at(-1)?.[1];
  const limit = limits && /memory\s*:\s*([^,\]]+)/.exec(limits)?.[1];
  const cap = limit ? memoryValue(limit, attempt) : null;
  return { gb: cap === null ? gb : Math.min(gb, cap) };
}
