/** Character codes and classes, and the small string helpers the exposition parser shares. */

import type { LabelPairs } from "../../common/model";
import { isLegacyLabelName } from "../../common/names";

// Character codes.
export const TAB = 9;
export const LF = 10;
export const CR = 13;
export const SP = 32;
export const QUOTE = 34;
export const HASH = 35;
export const PLUS = 43;
export const COMMA = 44;
export const MINUS = 45;
export const DOT = 46;
export const ZERO = 48;
export const NINE = 57;
export const EQ = 61;
export const BSLASH = 92;
export const UNDERSCORE = 95;
export const LBRACE = 123;
export const RBRACE = 125;

// Character classes of ASCII codes; a table beats chained range checks in the hot loops.
const C_METRIC = 1;
const C_LABEL = 2;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === UNDERSCORE;
  const digit = c >= ZERO && c <= NINE;
  CLASS[c] = (letter || digit || c === 58 ? C_METRIC : 0) | (letter || digit ? C_LABEL : 0);
}

export function isMetricChar(c: number): boolean {
  return c < 128 && ((CLASS[c] ?? 0) & C_METRIC) !== 0;
}

export function isLabelChar(c: number): boolean {
  return c < 128 && ((CLASS[c] ?? 0) & C_LABEL) !== 0;
}

export function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/** Whether `s` has `text` at `at` (the caller has checked the room). */
export function rangeEquals(s: string, at: number, text: string): boolean {
  for (let k = 0; k < text.length; k++) if (s.charCodeAt(at + k) !== text.charCodeAt(k)) return false;
  return true;
}

/** Whether `s` holds the same `len` characters at `a` and at `b`. */
export function sameText(s: string, a: number, b: number, len: number): boolean {
  for (let k = 0; k < len; k++) if (s.charCodeAt(a + k) !== s.charCodeAt(b + k)) return false;
  return true;
}

export function compareRanges(s: string, a: number, aEnd: number, b: number, bEnd: number): number {
  for (; a < aEnd && b < bEnd; a++, b++) {
    const d = s.charCodeAt(a) - s.charCodeAt(b);
    if (d !== 0) return d;
  }
  return aEnd - a - (bEnd - b);
}

export function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

export function escapeQuoted(text: string): string {
  return text.replace(/[\\"\n]/g, (ch) => (ch === "\n" ? "\\n" : `\\${ch}`));
}

export function formatNumber(n: number): string {
  return n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n);
}

export function formatLabels(pairs: LabelPairs): string {
  let out = "{";
  for (let i = 0; i < pairs.length; i += 2) {
    if (i > 0) out += ",";
    const name = pairs[i] ?? "";
    out += `${isLegacyLabelName(name) ? name : `"${escapeQuoted(name)}"`}="${escapeQuoted(pairs[i + 1] ?? "")}"`;
  }
  return `${out}}`;
}

/** Whether `c` is a UTF-16 surrogate code unit (half of a pair, or alone). */
export function isSurrogate(c: number): boolean {
  return (c & 0xf800) === 0xd800;
}

/**
 * Whether the surrogate at `i` has no partner: a high one not followed by a low one, or a low one
 * not preceded by a high one. Such text is not Unicode and cannot be written as UTF-8; it is what
 * a string from RPC can hold where an HTTP body would be rejected as invalid UTF-8.
 */
export function isLoneSurrogate(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c <= 0xdbff) {
    const d = s.charCodeAt(i + 1);
    return !(d >= 0xdc00 && d <= 0xdfff);
  }
  const b = s.charCodeAt(i - 1);
  return !(b >= 0xd800 && b <= 0xdbff);
}

export function loneSurrogateProblem(c: number): string {
  return `lone UTF-16 surrogate U+${c.toString(16).toUpperCase()}: the text is not valid Unicode and cannot be written as UTF-8; fix the string's encoding`;
}

/** The backslash at `i` and the character after it, quoted for an error message: `"\t"`. */
export function escapeSequence(s: string, i: number): string {
  const cp = s.codePointAt(i + 1) ?? 0;
  return cp < 0x20 || cp === 0x7f ? `"\\" followed by U+${cp.toString(16).toUpperCase().padStart(4, "0")}` : `"\\${String.fromCodePoint(cp)}"`;
}
