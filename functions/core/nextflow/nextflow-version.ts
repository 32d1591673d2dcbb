/**
 * The Nextflow a pipeline release needs (its `manifest.nextflowVersion`) against the one the
 * orchestrator image runs. Nextflow reads the requirement as conditions joined by commas, each
 * an operator (>=, >, <=, <, =, !=; `X+` means >=X) and a version; a leading `!` makes it
 * strict: Nextflow stops at start when the requirement is not met, and only warns without it.
 */

/** The Nextflow in orchestrator/Dockerfile (`FROM nextflow/nextflow:<this>`); a unit test keeps the two equal. */
export const ORCHESTRATOR_NEXTFLOW = '24.04.4';

export interface NextflowCheck {
  /** The requirement as the pipeline wrote it. */
  requirement: string;
  strict: boolean;
  /** null when the requirement cannot be read. */
  satisfied: boolean | null;
  message: string;
}

function compare(a: string, b: string): number {
  const parts = (v: string) => v.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const CONDITION = /^(>=|<=|!=|=|>|<)?\s*(\d+(?:\.\d+){0,2})(\+)?$/;

export function checkNextflowRequirement(
  requirement: string,
  available: string = ORCHESTRATOR_NEXTFLOW,
): NextflowCheck {
  const text = requirement.trim();
  const strict = text.startsWith('!');
  const conditions = text
    .replace(/^!/, '')
    .split(',')
    .map((c) => c.trim());
  let satisfied: boolean | null = true;
  for (const condition of conditions) {
    const match = CONDITION.exec(condition);
    if (!match) {
      satisfied = null;
      break;
    }
    const operator = match[3] ? '>=' : (match[1] ?? '=');
    const d = compare(available, match[2]!);
    const ok =
      operator === '>='
        ? d >= 0
        : operator === '>'
          ? d > 0
          : operator === '<='
            ? d <= 0
            : operator === '<'
              ? d < 0
              : operator === '!='
                ? d !== 0
                : d === 0;
    if (!ok) satisfied = false;
  }
  const needs = conditions.join(', ');
  const message =
    satisfied === null
      ? `Cannot read the Nextflow requirement "${requirement}"; whether Nextflow ${available} can run it is not known.`
      : satisfied
        ? `Needs Nextflow ${needs}; the orchestrator runs ${available}.`
        : strict
          ? `Needs Nextflow ${needs} (manifest.nextflowVersion "${requirement}"), but the orchestrator image runs Nextflow ${available}, so Nextflow would stop at start. Launch a release that runs on ${available}, or move the image to a newer Nextflow (docs/ARCHITECTURE.md, "Nextflow versions").`
          : `Asks for Nextflow ${needs} (manifest.nextflowVersion "${requirement}", not strict); the orchestrator runs ${available}, so Nextflow will warn and run it anyway.`;
  return { requirement, strict, satisfied, message };
}
