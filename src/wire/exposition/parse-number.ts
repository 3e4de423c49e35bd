/** Go-syntax float and integer tokens of the exposition formats, read from a range of a string. */

import { DOT, MINUS, PLUS, ZERO, isDigit } from "./parse-chars";

/** Powers of ten that are exact doubles: with a mantissa below 2^53 one multiplication or division by them rounds correctly. */
export const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * Parses `s[start, end)` as a Go-syntax decimal float (`[+-]` digits, optional fraction and
 * exponent; also `NaN`, `[+-]Inf`, `[+-]Infinity`, any case), or returns `undefined`. Hex, octal,
 * binary and `_` separators are rejected. Short integers are computed directly, the rest by
 * `Number()`, which rounds correctly.
 */
export function parseNumber(s: string, start: number, end: number): number | undefined {
  let i = start;
  if (i >= end) return undefined;
  let c = s.charCodeAt(i);
  let negative = false;
  if (c === PLUS || c === MINUS) {
    negative = c === MINUS;
    if (++i >= end) return undefined;
    c = s.charCodeAt(i);
  }
  if (isDigit(c) || c === DOT) {
    // Digits are accumulated while validating: with at most 15 significant digits and a power of
    // ten up to 1e22 both operands are exact, so one multiplication or division rounds correctly.
    let mantissa = 0;
    let digits = 0;
    let scale = 0;
    while (i < end && isDigit((c = s.charCodeAt(i)))) {
      mantissa = mantissa * 10 + (c - ZERO);
      digits++;
      i++;
    }
    if (i < end && c === DOT) {
      i++;
      while (i < end && isDigit((c = s.charCodeAt(i)))) {
        mantissa = mantissa * 10 + (c - ZERO);
        digits++;
        scale--;
        i++;
      }
    }
    if (digits === 0) return undefined;
    if (i < end) {
      if (c !== 101 && c !== 69) return undefined; // e E
      c = s.charCodeAt(++i);
      let expNegative = false;
      if (c === PLUS || c === MINUS) {
        expNegative = c === MINUS;
        i++;
      }
      const expStart = i;
      let exp = 0;
      while (i < end && isDigit((c = s.charCodeAt(i)))) {
        if (exp < 10000) exp = exp * 10 + (c - ZERO);
        i++;
      }
      if (i === expStart || i !== end) return undefined;
      scale += expNegative ? -exp : exp;
    }
    // Leading zeros do not count against the 15 digits: the mantissa stays exact below 2^53.
    if (mantissa <= 999_999_999_999_999 && scale >= -22 && scale <= 22) {
      const v = scale < 0 ? mantissa / (POW10[-scale] ?? 1) : mantissa * (POW10[scale] ?? 1);
      return negative ? -v : v;
    }
    return Number(s.slice(start, end));
  }
  const rest = s.slice(i, end).toLowerCase();
  if (rest === "inf" || rest === "infinity") return negative ? -Infinity : Infinity;
  if (rest === "nan" && i === start) return NaN;
  return undefined;
}

/** Parses `s[start, end)` as `[+-]digits` (a text-format timestamp), or returns `undefined`. */
export function parseIntToken(s: string, start: number, end: number): number | undefined {
  let i = start;
  const c = s.charCodeAt(i);
  if (c === PLUS || c === MINUS) i++;
  if (i >= end) return undefined;
  for (; i < end; i++) if (!isDigit(s.charCodeAt(i))) return undefined;
  return Number(s.slice(start, end));
}
