/** Structured JSON log lines, as Cloud Logging parses them from stdout. */
export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR';

export interface Logger {
  log(severity: Severity, message: string, fields?: Record<string, unknown>): void;
}

const RANK: Record<Severity, number> = { DEBUG: 0, INFO: 1, NOTICE: 2, WARNING: 3, ERROR: 4 };

/** The least severe level written: LOG_LEVEL (DEBUG, INFO, NOTICE, WARNING, ERROR), default INFO. */
export function logLevel(value = process.env.LOG_LEVEL): Severity {
  const level = value?.toUpperCase();
  return level && level in RANK ? (level as Severity) : 'INFO';
}

export function jsonLogger(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  level: Severity = logLevel(),
): Logger {
  return {
    log(severity, message, fields = {}) {
      if (RANK[severity] < RANK[level]) return;
      write(JSON.stringify({ severity, message, time: new Date().toISOString(), ...fields }));
    },
  };
}

/**
 * Lines a person reads in a terminal (the local stack's, unless LOG_FORMAT=json): the time, the
 * severity when it is not INFO, the message, then each field as key=value (strings quoted only
 * when they hold spaces; objects as JSON).
 */
export function readableLogger(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  level: Severity = logLevel(),
): Logger {
  const show = (value: unknown): string => {
    if (typeof value === 'string')
      return /[\s="]/.test(value) || value === '' ? JSON.stringify(value) : value;
    if (value === null || typeof value !== 'object') return String(value);
    return JSON.stringify(value);
  };
  return {
    log(severity, message, fields = {}) {
      if (RANK[severity] < RANK[level]) return;
      const time = new Date().toISOString().slice(11, 19);
      const pairs = Object.entries(fields)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => `${key}=${show(value)}`);
      write([time, ...(severity === 'INFO' ? [] : [severity]), message, ...pairs].join(' '));
    },
  };
}

/** Collects log entries in memory; the local stack and tests read them back. */
export function memoryLogger(): Logger & {
  entries: { severity: Severity; message: string; fields: Record<string, unknown> }[];
} {
  const entries: { severity: Severity; message: string; fields: Record<string, unknown> }[] = [];
  return {
    entries,
    log(severity, message, fields = {}) {
      entries.push({ severity, message, fields });
    },
  };
}

/**
 * A logger that never writes a secret: every value the Secrets port resolved is replaced by
 * [redacted] in the message and the fields, whatever put it there.
 */
export function redacting(logger: Logger, redact: (text: string) => string): Logger {
  return {
    log(severity, message, fields = {}) {
      const text = JSON.stringify({ message, fields });
      const clean = redact(text);
      if (clean === text) {
        logger.log(severity, message, fields);
        return;
      }
      const parsed = JSON.parse(clean) as { message: string; fields: Record<string, unknown> };
      logger.log(severity, parsed.message, parsed.fields);
    },
  };
}

/**
 * One way to put an unknown error in a log line: its stack (or text), then each `cause` in
 * turn, so a 503 whose message names no internals still tells the operator what failed.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(
      current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current),
    );
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join('\nCaused by: ');
}
