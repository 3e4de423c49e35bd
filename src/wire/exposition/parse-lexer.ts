/** Reading positions of an exposition body: errors with line and column, blanks, tokens, and quoted strings with their escapes. */

import { parseError } from "../../common/errors";
import { BSLASH, CR, LF, QUOTE, SP, TAB, escapeSequence, isLoneSurrogate, isSurrogate, loneSurrogateProblem } from "./parse-chars";

/** The position-level reading the parser (parse-machine.ts) builds on. */
export class Lexer {
  readonly src: string;
  readonly len: number;
  /** OpenMetrics rather than the text format: it separates with single spaces only. */
  readonly om: boolean;
  /** Where reading stands, the current line (1-based) and where it starts. */
  pos = 0;
  line = 0;
  lineStart = 0;
  /** Set by `quotedSlow` when a backslash escapes nothing it knows (and so stays in the value: OpenMetrics). */
  oddEscape = false;

  constructor(src: string, om: boolean) {
    this.src = src;
    this.len = src.length;
    this.om = om;
  }

  fail(pos: number, what: string): never {
    throw parseError(this.line, this.column(pos), what);
  }

  /** 1-based column of `pos` in the current line, in characters (code points). */
  column(pos: number): number {
    let n = 1;
    for (let i = this.lineStart; i < pos && i < this.len; i++) {
      const c = this.src.charCodeAt(i);
      if (c < 0xdc00 || c > 0xdfff) n++;
    }
    return n;
  }

  describe(pos: number): string {
    if (pos >= this.len) return "the end of the body";
    const c = this.src.charCodeAt(pos);
    if (c === LF) return "the end of the line";
    if (c === SP) return "a space";
    if (c === TAB) return "a tab";
    if (c === CR) return "a carriage return";
    return JSON.stringify(String.fromCodePoint(this.src.codePointAt(pos) ?? c));
  }

  /** Skips spaces and tabs (and CR, so CRLF bodies parse) in the text format; a no-op in OpenMetrics. */
  blanks(p: number): number {
    if (this.om) return p;
    const s = this.src;
    let c = s.charCodeAt(p);
    while (c === SP || c === TAB || c === CR) c = s.charCodeAt(++p);
    return p;
  }

  isBlank(c: number): boolean {
    return this.om ? c === SP : c === SP || c === TAB || c === CR;
  }

  /** End of the token at p: the next separator, line end or body end. */
  tokenEnd(p: number): number {
    const s = this.src;
    const len = this.len;
    if (this.om) {
      for (let c = s.charCodeAt(p); p < len && c !== SP && c !== LF; c = s.charCodeAt(++p));
    } else {
      for (let c = s.charCodeAt(p); p < len && c !== SP && c !== LF && c !== TAB && c !== CR; c = s.charCodeAt(++p));
    }
    return p;
  }

  lineEnd(p: number): number {
    const nl = this.src.indexOf("\n", p);
    return nl < 0 ? this.len : nl;
  }

  /**
   * Reads the double-quoted string whose opening quote is at p; leaves `pos` after the closing
   * quote. Unescapes `\\`, `\"` and `\n`. Any other backslash is an error in the text format (the
   * Pushgateway's parser rejects it); OpenMetrics keeps it as written, as its test vectors require.
   */
  quoted(p: number): string {
    const s = this.src;
    const len = this.len;
    const start = p + 1;
    for (let i = start; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return s.slice(start, i);
      }
      if (c === BSLASH || c === LF) return this.quotedSlow(start, i);
    }
    return this.quotedSlow(start, len);
  }

  quotedSlow(start: number, i: number): string {
    const s = this.src;
    const len = this.len;
    let out = "";
    let from = start;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return out + s.slice(from, i);
      }
      if (c === LF) break;
      if (c === BSLASH) {
        const d = s.charCodeAt(i + 1);
        if (d === BSLASH || d === QUOTE || d === 110 /* n */) {
          out += s.slice(from, i) + (d === 110 ? "\n" : d === QUOTE ? '"' : "\\");
          i++;
          from = i + 1;
        } else if (this.om) {
          this.oddEscape = true;
        } else if (i + 1 < len && d !== LF) {
          // (A backslash before the line's end is left to the unterminated-string error below.)
          this.fail(i, `invalid escape sequence ${escapeSequence(s, i)} in a quoted string; the text format knows only \\\\ (backslash), \\" (quote) and \\n (newline): write a backslash as \\\\`);
        }
      } else if (isSurrogate(c)) {
        if (isLoneSurrogate(s, i)) this.fail(i, loneSurrogateProblem(c));
      }
    }
    this.fail(start - 1, "unterminated quoted string: the closing '\"' is missing before the end of the line (escape quotes as \\\" and newlines as \\n)");
  }
}
