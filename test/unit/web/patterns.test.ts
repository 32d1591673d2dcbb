import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { browserPattern } from '../../../web/src/wizard/patterns';

describe("the params form's browser patterns", () => {
  it('keeps a pattern the browser compiles (v flag), and leaves one it refuses to the server', () => {
    expect(browserPattern('^\\S+@\\S+$')).toBe('^\\S+@\\S+$');
    // rnaseq 3.24.0's trace_report_suffix: valid JSON Schema, refused with the v flag.
    const schema = JSON.parse(
      readFileSync('test/fixtures/nf-core-pipelines/rnaseq/3.24.0/nextflow_schema.json', 'utf8'),
    ) as { $defs: { generic_options: { properties: { trace_report_suffix: { pattern: string } } } } };
    const pattern = schema.$defs.generic_options.properties.trace_report_suffix.pattern;
    expect(() => new RegExp(pattern, 'u')).not.toThrow();
    expect(browserPattern(pattern)).toBeUndefined();
    expect(browserPattern(undefined)).toBeUndefined();
  });
});
