/** Validation helpers every domain uses at its boundaries: zod problems by field, size limits. */
import type { z } from 'zod';
import { type FieldProblem, PayloadTooLargeError, ValidationError } from './errors';

export function zodProblems(error: z.ZodError): FieldProblem[] {
  return error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join('.') : undefined,
    rule: issue.code,
    message: `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`,
  }));
}

export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = zodProblems(parsed.error);
    throw new ValidationError(`Invalid ${what}: ${problems.map((p) => p.message).join('; ')}`, problems);
  }
  return parsed.data;
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export function checkSize(what: string, bytes: number, max: number, hint: string): void {
  if (bytes > max) {
    const mb = (n: number) =>
      n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(n / 1024)} KB`;
    throw new PayloadTooLargeError(`${what} is ${mb(bytes)}; the limit is ${mb(max)}. ${hint}`, {
      field: what,
      size_bytes: bytes,
      limit_bytes: max,
    });
  }
}
