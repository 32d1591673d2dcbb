/**
 * A JSON Schema `pattern` the browser can check as typed, or undefined. The browser compiles
 * the `pattern` attribute with the `v` flag, which refuses some patterns JSON Schema accepts
 * (rnaseq 3.24.0 has one) and then silently checks nothing: those are left to the server.
 */
export function browserPattern(pattern: string | undefined): string | undefined {
  if (!pattern) return undefined;
  try {
    new RegExp(pattern, 'v');
    return pattern;
  } catch {
    return undefined;
  }
}
