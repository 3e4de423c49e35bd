/** Escaping for exposition text: label values and HELP, as the text and OpenMetrics formats define it. */

const NEEDS_LABEL_ESCAPE = /[\\"\n]/;

/**
 * A label value (or quoted name) with `\`, `"` and newline escaped; the only escapes either format reads.
 *
 * @example escapeLabelValue('say "hi"\n') // 'say \\"hi\\"\\n'
 */
export function escapeLabelValue(s: string): string {
  if (!NEEDS_LABEL_ESCAPE.test(s)) return s;
  return s.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/**
 * HELP text: text 0.0.4 escapes `\` and newline; OpenMetrics also escapes `"`.
 *
 * @example escapeHelp('a\\b "c"', false) // 'a\\\\b "c"'; escapeHelp('"c"', true) // '\\"c\\"'
 */
export function escapeHelp(s: string, openmetrics: boolean): string {
  const re = openmetrics ? /[\\"\n]/g : /[\\\n]/g;
  return s.replace(re, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}
