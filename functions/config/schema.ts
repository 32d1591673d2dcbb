/** Building blocks of the configuration sections: common value shapes and the fix beside a variable. */
import { z } from 'zod';

export const Email = z.email();
export const HostPort = z.string().regex(/^[\w.-]+:\d{1,5}$/, 'must be host:port');
export const PerMinute = z.coerce.number().int().min(0).max(1_000_000);

/** A comma-separated list, each item checked. */
export const commaList = (item: z.ZodType<string, string>) =>
  z
    .string()
    .default('')
    .transform((list) =>
      list
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item));

/** The fix the error names when the variable is wrong ("… (set it to …)"), kept beside its schema. */
export function fix<T extends z.ZodType>(schema: T, text: string): T {
  return schema.meta({ fix: text }) as T;
}

/** The fix of a variable of `shape`, if it has one. */
export function fixOf(shape: z.ZodRawShape, name: string): string | undefined {
  const field = shape[name] as z.ZodType | undefined;
  const meta = field?.meta() as { fix?: string } | undefined;
  return meta?.fix;
}
