/** Parses pushed bodies, Prometheus text format 0.0.4 and OpenMetrics 1.0, in one pass over the string. */

import { GatewayError, parseError } from "../errors";
import type { Family, HistogramSeries, LabelPairs, MetricType, ScalarSeries, SummarySeries } from "../model";
import { isLegacyLabelName, labelNameProblem, metricNameProblem } from "../names";

/** Options of {@link parseExposition}. */
export interface ParseOptions {
  /**
   * Accept sample timestamps (default `true`: both formats allow them). The gateway passes `false`:
   * it stamps its own time on export, and a client's clock must never reach the receiver.
   */
  allowTimestamps?: boolean;
  /**
   * After a successful parse, throw `GatewayError("InvalidValue")` when the body holds a family the
   * gateway cannot store: an OpenMetrics `gaugehistogram`. Default `false`, so that conformance
   * checks see the parse alone.
   */
  rejectUnsupported?: boolean;
}

/**
 * Parses an exposition body into families, validating everything the format requires.
 *
 * - `"text"` is Prometheus text format 0.0.4 (as Prometheus 3 reads it, with quoted UTF-8 names);
 *   `"openmetrics"` is OpenMetrics 1.0 (the body must end with `# EOF`).
 * - Family names: a text counter keeps its name as written; an OpenMetrics counter `foo` (samples
 *   `foo_total`) becomes `foo_total`; info `foo` becomes a gauge `foo_info`; stateset `foo` a gauge
 *   `foo` (one series per state, the state in label `foo`); `unknown` becomes `untyped`; a
 *   gaugehistogram becomes a histogram (`_gsum`/`_gcount` as sum/count), which the gateway rejects
 *   with `rejectUnsupported`.
 * - `_created` samples and exemplars are validated, then dropped. `le` and `quantile` are removed
 *   from the labels of histogram and summary series. Labels keep their input order and empty values.
 * - A family announced by HELP/TYPE/UNIT but without samples is returned with no series.
 * - Duplicate series (same name and label set in any order; `a=""` counts as no label `a`) are an
 *   error, except an OpenMetrics series repeated with non-decreasing timestamps: the newest point
 *   is kept. A family's lines must be contiguous, and HELP/TYPE/UNIT come before its samples.
 *
 * Throws `GatewayError("ParseError")` with `line L, column C: ...` (1-based, columns count
 * characters) on any malformed or invalid input, and `GatewayError("InvalidValue")` for a
 * timestamp when `allowTimestamps` is false.
 *
 * @example
 * parseExposition('# TYPE jobs_total counter\njobs_total{queue="a"} 3\n', "text")
 * // [{ name: "jobs_total", type: "counter", help: "", unit: "",
 * //    series: [{ kind: "scalar", labels: ["queue", "a"], value: 3 }] }]
 */
export function parseExposition(body: string, format: "text" | "openmetrics", options: ParseOptions = {}): Family[] {
  const parser = new Parser(body, format === "openmetrics", options.allowTimestamps ?? true);
  const families = parser.run();
  const unsupported = parser.unsupported;
  if (options.rejectUnsupported === true && unsupported !== undefined) {
    throw new GatewayError(
      "InvalidValue",
      `line ${unsupported.line}: gaugehistogram "${unsupported.name}" is not supported: the gateway stores counters, gauges, histograms, summaries and untyped metrics; push it as a histogram or as gauges`,
    );
  }
  return families;
}

// Character codes.
const TAB = 9;
const LF = 10;
const CR = 13;
const SP = 32;
const QUOTE = 34;
const HASH = 35;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const EQ = 61;
const BSLASH = 92;
const UNDERSCORE = 95;
const LBRACE = 123;
const RBRACE = 125;

// Character classes of ASCII codes; a table beats chained range checks in the hot loops.
const C_METRIC = 1;
const C_LABEL = 2;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === UNDERSCORE;
  const digit = c >= ZERO && c <= NINE;
  CLASS[c] = (letter || digit || c === 58 ? C_METRIC : 0) | (letter || digit ? C_LABEL : 0);
}

function isMetricChar(c: number): boolean {
  return c < 128 && ((CLASS[c] ?? 0) & C_METRIC) !== 0;
}

function isLabelChar(c: number): boolean {
  return c < 128 && ((CLASS[c] ?? 0) & C_LABEL) !== 0;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

// Family kinds: the stored types plus the OpenMetrics-only ones, kept apart until output.
const K_COUNTER = 0;
const K_GAUGE = 1;
const K_UNTYPED = 2;
const K_HISTOGRAM = 3;
const K_GAUGEHISTOGRAM = 4;
const K_SUMMARY = 5;
const K_INFO = 6;
const K_STATESET = 7;

const TEXT_TYPES = new Map([
  ["counter", K_COUNTER],
  ["gauge", K_GAUGE],
  ["histogram", K_HISTOGRAM],
  ["summary", K_SUMMARY],
  ["untyped", K_UNTYPED],
]);
const OM_TYPES = new Map([
  ["counter", K_COUNTER],
  ["gauge", K_GAUGE],
  ["histogram", K_HISTOGRAM],
  ["gaugehistogram", K_GAUGEHISTOGRAM],
  ["summary", K_SUMMARY],
  ["info", K_INFO],
  ["stateset", K_STATESET],
  ["unknown", K_UNTYPED],
]);

function storedType(kind: number): MetricType {
  switch (kind) {
    case K_COUNTER:
      return "counter";
    case K_HISTOGRAM:
    case K_GAUGEHISTOGRAM:
      return "histogram";
    case K_SUMMARY:
      return "summary";
    case K_UNTYPED:
      return "untyped";
    default:
      return "gauge";
  }
}

function kindName(kind: number, om: boolean): string {
  for (const [name, k] of om ? OM_TYPES : TEXT_TYPES) if (k === kind) return name;
  return "untyped";
}

/** The sample-name suffixes a family of this kind owns, beyond its own name. */
function suffixes(kind: number, om: boolean): readonly string[] {
  switch (kind) {
    case K_COUNTER:
      return om ? ["_total", "_created"] : [];
    case K_HISTOGRAM:
      return om ? ["_bucket", "_sum", "_count", "_created"] : ["_bucket", "_sum", "_count"];
    case K_GAUGEHISTOGRAM:
      return ["_bucket", "_gsum", "_gcount"];
    case K_SUMMARY:
      return om ? ["_sum", "_count", "_created"] : ["_sum", "_count"];
    case K_INFO:
      return ["_info"];
    default:
      return [];
  }
}

// What a sample is within its family.
const R_NONE = 0;
/** The value of a gauge, untyped or text-format counter series. */
const R_VALUE = 1;
/** An OpenMetrics counter's `_total`. */
const R_TOTAL = 2;
const R_CREATED = 3;
const R_BUCKET = 4;
/** `_sum`, or a gaugehistogram's `_gsum`. */
const R_SUM = 5;
/** `_count`, or a gaugehistogram's `_gcount`. */
const R_COUNT = 6;
const R_QUANTILE = 7;
const R_STATE = 8;
const R_INFO = 9;

function roleOf(st: FamilyState, name: string, om: boolean): number {
  const base = st.name;
  if (name === base) {
    switch (st.kind) {
      case K_GAUGE:
      case K_UNTYPED:
        return R_VALUE;
      case K_COUNTER:
        return om ? R_NONE : R_VALUE;
      case K_SUMMARY:
        return R_QUANTILE;
      case K_STATESET:
        return R_STATE;
      default:
        return R_NONE;
    }
  }
  if (name.length < base.length + 2 || name.charCodeAt(base.length) !== UNDERSCORE || !name.startsWith(base)) return R_NONE;
  const suffix = name.slice(base.length);
  switch (st.kind) {
    case K_COUNTER:
      if (!om) return R_NONE;
      return suffix === "_total" ? R_TOTAL : suffix === "_created" ? R_CREATED : R_NONE;
    case K_HISTOGRAM:
      if (suffix === "_bucket") return R_BUCKET;
      if (suffix === "_sum") return R_SUM;
      if (suffix === "_count") return R_COUNT;
      return om && suffix === "_created" ? R_CREATED : R_NONE;
    case K_GAUGEHISTOGRAM:
      return suffix === "_bucket" ? R_BUCKET : suffix === "_gsum" ? R_SUM : suffix === "_gcount" ? R_COUNT : R_NONE;
    case K_SUMMARY:
      if (suffix === "_sum") return R_SUM;
      if (suffix === "_count") return R_COUNT;
      return om && suffix === "_created" ? R_CREATED : R_NONE;
    case K_INFO:
      return suffix === "_info" ? R_INFO : R_NONE;
    default:
      return R_NONE;
  }
}

// ---- label scanning and series lookup ------------------------------------------------------

// FNV-1a over UTF-16 code units; 0x10000 (not a code unit) separates a label's name from its value.
// Each parse starts from a random offset, so a body cannot be built to make every series collide.
const FNV_PRIME = 0x01000193;
const NAME_END = 0x10000;

function hashString(text: string, h: number): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

/** murmur3's finalizer, so that summing pair hashes (order-independent) still spreads well. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The labels of one sample as positions in the body, so that a sample of an existing series
 * (a histogram bucket, say) allocates no strings. Quoted names and escaped values, which differ
 * from their source text, are kept decoded in `nq` / `vq`.
 */
class LabelScan {
  n = 0;
  readonly ns: number[] = [];
  readonly ne: number[] = [];
  readonly vs: number[] = [];
  readonly ve: number[] = [];
  readonly nq: (string | undefined)[] = [];
  readonly vq: (string | undefined)[] = [];
  /** Hash of each pair, 0 for an empty value (Prometheus treats `a=""` as no label `a`). */
  readonly ph: number[] = [];
  /** Sum of the pair hashes: the same for any label order. */
  hash = 0;
  /** Index of the le / quantile / state label, or -1. */
  special = -1;

  reset(): void {
    this.n = 0;
    this.hash = 0;
    this.special = -1;
  }
}

/**
 * The series of one family, found by label-set hash in an open-addressing table of
 * `[hash, index + 1]` pairs (cheaper than a Map: no per-entry allocation, no key objects).
 * Equal hashes are told apart by comparing the labels, so collisions only cost a comparison.
 */
class SeriesIndex<T extends { readonly labels: LabelPairs }> {
  readonly entries: T[] = [];
  table = new Int32Array(64);
  mask = 31;

  find(p: Parser, lab: LabelScan, hash: number, skip: number): T | undefined {
    const table = this.table;
    for (let b = hash & this.mask; ; b = (b + 1) & this.mask) {
      const index = table[2 * b + 1] ?? 0;
      if (index === 0) return undefined;
      if (table[2 * b] === hash) {
        const e = this.entries[index - 1];
        if (e !== undefined && p.sameLabels(lab, skip, e.labels)) return e;
      }
    }
  }

  /** Adds an entry that `find` did not find. */
  add(hash: number, e: T): void {
    this.entries.push(e);
    if (this.entries.length * 2 > this.mask + 1) this.grow();
    this.put(hash, this.entries.length);
  }

  put(hash: number, index: number): void {
    const table = this.table;
    let b = hash & this.mask;
    while ((table[2 * b + 1] ?? 0) !== 0) b = (b + 1) & this.mask;
    table[2 * b] = hash;
    table[2 * b + 1] = index;
  }

  grow(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2);
    this.mask = this.mask * 2 + 1;
    for (let b = 0; b < old.length; b += 2) {
      const index = old[b + 1] ?? 0;
      if (index !== 0) this.put(old[b] ?? 0, index);
    }
  }
}

/** A histogram or summary series being assembled from its samples. */
interface Slot {
  readonly series: HistogramSeries | SummarySeries;
  readonly labels: LabelPairs;
  /** Line of the series' first sample, for errors found when the series is complete. */
  readonly line: number;
  negativeBucket: boolean;
  negativeSum: boolean;
}

/** A family being parsed. */
interface FamilyState {
  readonly fam: Family;
  /** The name the metadata lines use; an OpenMetrics counter `foo` has `fam.name` `foo_total`. */
  readonly name: string;
  readonly line: number;
  kind: number;
  hasType: boolean;
  hasHelp: boolean;
  hasUnit: boolean;
  hasSamples: boolean;
  readonly scalars: SeriesIndex<ScalarSeries>;
  /** OpenMetrics counters seen only through `_created` so far: indexed, not yet in `fam.series`. */
  readonly pending: Set<ScalarSeries>;
  readonly slots: SeriesIndex<Slot>;
  /** Stateset groups seen (a stateset's group is its labels minus the state label). */
  readonly groups: Set<string>;
  /** OpenMetrics: the current group (series, slot or key) and its timestamp, to check grouping and order. */
  group: unknown;
  groupHasTs: boolean;
  groupTs: number;
  /**
   * The last sample name seen, where it was in the body (-1: quoted), and its role, so repeated
   * names are neither sliced nor resolved again.
   */
  lastName: string;
  lastNameAt: number;
  lastRole: number;
}

// How a sample relates to the current OpenMetrics group.
const G_NEW = 0;
const G_SAME = 1;
const G_NEXT_POINT = 2;
/** Info samples form one group: OpenMetrics does not order their timestamps. */
const INFO_GROUP = "info";

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

class Parser {
  readonly src: string;
  readonly len: number;
  readonly om: boolean;
  readonly allowTs: boolean;
  pos = 0;
  line = 0;
  lineStart = 0;
  eof = false;
  readonly families: Family[] = [];
  /** Every name a family owns (its own and its samples'), to reject reuse and clashes. */
  readonly used = new Map<string, FamilyState>();
  cur: FamilyState | undefined = undefined;
  unsupported: FamilyState | undefined = undefined;
  /** Labels of the current sample and of the previous one (swapped per sample). */
  lab = new LabelScan();
  prevLab = new LabelScan();
  /** The histogram or summary series of the previous sample, and the index of its le / quantile label. */
  prevSlot: Slot | undefined = undefined;
  prevSkip = -1;
  readonly exemplarLab = new LabelScan();
  readonly seed = (Math.random() * 0x100000000) | 0;
  /**
   * Label names by position in the last series built, and where in the body they were: consecutive
   * series mostly repeat them. (Values rarely repeat at the same position: caching them costs more.)
   */
  readonly nameCache: string[] = [];
  readonly nameCacheAt: number[] = [];

  constructor(src: string, om: boolean, allowTs: boolean) {
    this.src = src;
    this.len = src.length;
    this.om = om;
    this.allowTs = allowTs;
  }

  run(): Family[] {
    const s = this.src;
    const len = this.len;
    while (this.pos < len) {
      this.line++;
      this.lineStart = this.pos;
      const c = s.charCodeAt(this.pos);
      if (c === HASH) {
        this.comment();
      } else if (c === LF) {
        if (this.om) this.fail(this.pos, "blank line: OpenMetrics does not allow empty lines; remove it");
        this.pos++;
      } else if (!this.om && (c === SP || c === TAB || c === CR)) {
        const p = this.blanks(this.pos);
        const d = s.charCodeAt(p);
        if (p >= len || d === LF) this.pos = p + 1;
        else if (d === HASH) {
          this.pos = p;
          this.comment();
        } else {
          this.pos = p;
          this.sample();
        }
      } else {
        this.sample();
      }
    }
    this.closeFamily();
    if (this.om && !this.eof) {
      const endsWithLf = len > 0 && s.charCodeAt(len - 1) === LF;
      const line = endsWithLf || len === 0 ? this.line + 1 : this.line;
      const column = endsWithLf || len === 0 ? 1 : this.column(len);
      throw parseError(line, column, 'missing "# EOF": an OpenMetrics body must end with the line "# EOF"');
    }
    return this.families;
  }

  // ---- errors -------------------------------------------------------------------------------

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

  // ---- lexing helpers -----------------------------------------------------------------------

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
   * quote. Unescapes `\\`, `\"` and `\n`; any other backslash stays as written, as Prometheus does.
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
        }
      }
    }
    this.fail(start - 1, "unterminated quoted string: the closing '\"' is missing before the end of the line (escape quotes as \\\" and newlines as \\n)");
  }

  // ---- comments and metadata ----------------------------------------------------------------

  comment(): void {
    const s = this.src;
    let p = this.pos + 1;
    if (this.om) {
      if (s.charCodeAt(p) !== SP) {
        this.fail(p, 'expected a space after "#": OpenMetrics allows only "# HELP", "# TYPE", "# UNIT" and "# EOF" lines, no comments');
      }
      p++;
      const kwEnd = this.tokenEnd(p);
      const kw = s.slice(p, kwEnd);
      if (kw === "EOF") {
        if (kwEnd < this.len) {
          // kwEnd is the line's end here: tokenEnd stops only at a space or LF, and "# EOF " is not "# EOF".
          if (s.charCodeAt(kwEnd) !== LF) this.fail(kwEnd, '"# EOF" must be alone on its line');
          if (kwEnd + 1 < this.len) {
            this.line++;
            this.lineStart = kwEnd + 1;
            this.fail(kwEnd + 1, 'text after "# EOF": "# EOF" must be the last line of an OpenMetrics body; remove what follows it');
          }
        }
        this.eof = true;
        this.pos = this.len;
        return;
      }
      if (kw !== "HELP" && kw !== "TYPE" && kw !== "UNIT") {
        this.fail(p, `unknown line "# ${kw}": OpenMetrics allows only "# HELP", "# TYPE", "# UNIT" and "# EOF" lines, no comments`);
      }
      if (s.charCodeAt(kwEnd) !== SP) this.fail(kwEnd, `expected a space and a metric name after "# ${kw}"`);
      this.metadata(kw, kwEnd + 1);
      return;
    }
    // Text format: "# HELP" and "# TYPE" lines; every other line starting with '#' is a comment.
    p = this.blanks(p);
    const kwEnd = this.tokenEnd(p);
    const isHelp = kwEnd - p === 4 && s.startsWith("HELP", p);
    if (isHelp || (kwEnd - p === 4 && s.startsWith("TYPE", p))) {
      const nameAt = this.blanks(kwEnd);
      // Like Prometheus, "# HELP" with nothing after it is an ordinary comment.
      if (nameAt > kwEnd && nameAt < this.len && s.charCodeAt(nameAt) !== LF) {
        this.metadata(isHelp ? "HELP" : "TYPE", nameAt);
        return;
      }
    }
    this.pos = this.lineEnd(p) + 1;
  }

  /** Reads a metric name at p (plain or quoted), leaving `pos` after it. */
  metricName(p: number, where: string): string {
    const s = this.src;
    const c = s.charCodeAt(p);
    if (c === QUOTE) {
      const name = this.quoted(p);
      const problem = metricNameProblem(name);
      if (problem !== undefined) this.fail(p, problem);
      return name;
    }
    const start = p;
    while (p < this.len && isMetricChar(s.charCodeAt(p))) p++;
    if (p === start) this.fail(start, `expected a metric name ${where}, found ${this.describe(start)}`);
    if (isDigit(c)) this.fail(start, `metric name "${s.slice(start, p)}" starts with a digit; names match [a-zA-Z_:][a-zA-Z0-9_:]* (or are quoted)`);
    this.pos = p;
    return s.slice(start, p);
  }

  metadata(kw: string, p: number): void {
    const s = this.src;
    const om = this.om;
    const nameAt = p;
    const name = this.metricName(p, `after "# ${kw}"`);
    p = this.pos;
    const c = s.charCodeAt(p);
    const what = kw === "HELP" ? "help text" : kw === "TYPE" ? "metric type" : "unit";
    if (om) {
      if (c !== SP) {
        if (p >= this.len || c === LF) this.fail(p, `expected a space and the ${what} after the metric name "${name}"`);
        this.fail(p, `found ${this.describe(p)} after metric name "${name}", expected a single space; names match [a-zA-Z_:][a-zA-Z0-9_:]*, quote others: # ${kw} "my.name" ...`);
      }
      p++;
    } else if (this.isBlank(c)) {
      p = this.blanks(p);
    } else if (p < this.len && c !== LF) {
      this.fail(p, `found ${this.describe(p)} in metric name "${name}"; names match [a-zA-Z_:][a-zA-Z0-9_:]*, quote others: # ${kw} "my.name" ...`);
    }
    const end = this.lineEnd(p);
    this.pos = end + 1;

    const st = this.familyForMetadata(name, kw, nameAt);
    if (kw === "HELP") {
      if (st.hasHelp) this.fail(nameAt, `second HELP line for "${name}"; a family has at most one`);
      st.hasHelp = true;
      let helpEnd = end;
      if (!om && helpEnd > p && s.charCodeAt(helpEnd - 1) === CR) helpEnd--;
      st.fam.help = this.unescapeHelp(p, helpEnd);
    } else if (kw === "TYPE") {
      if (st.hasType) this.fail(nameAt, `second TYPE line for "${name}"; a family has exactly one type`);
      const typeEnd = this.tokenEnd(p);
      if (typeEnd === p) this.fail(p, `expected a metric type after "# TYPE ${name}"`);
      if (!om && this.blanks(typeEnd) < end) this.fail(this.blanks(typeEnd), `unexpected text after the metric type`);
      if (om && typeEnd < end) this.fail(typeEnd, `unexpected text after the metric type (OpenMetrics allows no trailing spaces)`);
      this.setType(st, s.slice(p, typeEnd), p, nameAt);
    } else {
      if (st.hasUnit) this.fail(nameAt, `second UNIT line for "${name}"; a family has at most one`);
      const unit = s.slice(p, end);
      if (unit !== "" && !name.endsWith(`_${unit}`)) {
        this.fail(p, `unit "${unit}" must be the suffix of the metric name: name the metric "${name}_${unit}", or drop the UNIT line`);
      }
      if (unit !== "" && (st.kind === K_INFO || st.kind === K_STATESET)) {
        this.fail(p, `${kindName(st.kind, om)} "${name}" cannot have a unit; remove the UNIT line`);
      }
      st.hasUnit = true;
      st.fam.unit = unit;
    }
  }

  unescapeHelp(start: number, end: number): string {
    const s = this.src;
    let i = s.indexOf("\\", start);
    if (i < 0 || i >= end) return s.slice(start, end);
    let out = "";
    let from = start;
    for (; i < end - 1; i++) {
      if (s.charCodeAt(i) !== BSLASH) continue;
      const d = s.charCodeAt(i + 1);
      // Text 0.0.4 escapes only \\ and \n in HELP; OpenMetrics also \".
      if (d === BSLASH || d === 110 /* n */ || (d === QUOTE && this.om)) {
        out += s.slice(from, i) + (d === 110 ? "\n" : d === QUOTE ? '"' : "\\");
        i++;
        from = i + 1;
      }
    }
    return out + s.slice(from, end);
  }

  familyForMetadata(name: string, kw: string, pos: number): FamilyState {
    const cur = this.cur;
    if (cur !== undefined && cur.name === name) {
      if (cur.hasSamples) {
        this.fail(pos, `# ${kw} for "${name}" comes after its samples; put HELP and TYPE lines before the family's first sample`);
      }
      return cur;
    }
    return this.openFamily(name, pos, false);
  }

  setType(st: FamilyState, type: string, pos: number, namePos: number): void {
    const om = this.om;
    const kind = (om ? OM_TYPES : TEXT_TYPES).get(type);
    if (kind === undefined) {
      const known = om ? "counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown" : "counter, gauge, histogram, summary or untyped";
      const hint = om && type === "untyped" ? ' (OpenMetrics calls it "unknown")' : !om && type === "unknown" ? ' (the text format calls it "untyped")' : "";
      this.fail(pos, `unknown metric type "${type}"${hint}; use ${known}`);
    }
    if (st.hasUnit && st.fam.unit !== "" && (kind === K_INFO || kind === K_STATESET)) {
      this.fail(pos, `${type} "${st.name}" cannot have a unit; remove the UNIT line`);
    }
    for (const suffix of suffixes(kind, om)) {
      const other = this.used.get(st.name + suffix);
      if (other !== undefined && other !== st) {
        this.fail(namePos, `${type} "${st.name}" has samples named "${st.name}${suffix}", which clashes with the family "${other.name}" at line ${other.line}; rename one of them`);
      }
      this.used.set(st.name + suffix, st);
    }
    st.kind = kind;
    st.hasType = true;
    st.fam.type = storedType(kind);
    if (om && kind === K_COUNTER) st.fam.name = `${st.name}_total`;
    if (kind === K_INFO) st.fam.name = `${st.name}_info`;
    if (kind === K_GAUGEHISTOGRAM) this.unsupported ??= st;
  }

  // ---- families -----------------------------------------------------------------------------

  openFamily(name: string, pos: number, bySample: boolean): FamilyState {
    const prev = this.used.get(name);
    if (prev !== undefined) {
      const type = kindName(prev.kind, this.om);
      if (bySample && prev === this.cur) {
        const names = suffixes(prev.kind, this.om).map((x) => `"${prev.name}${x}"`);
        if (roleOf(prev, prev.name, this.om) !== R_NONE) names.unshift(`"${prev.name}"`);
        this.fail(pos, `sample "${name}" does not fit the ${type} "${prev.name}", whose samples are named ${names.join(", ")}`);
      }
      if (prev.name === name) {
        this.fail(pos, `metric "${name}" already appeared at line ${prev.line}; keep a family's metadata and samples together in one block`);
      }
      this.fail(pos, `metric name "${name}" clashes with the ${type} "${prev.name}" at line ${prev.line}, which uses that name for its samples; rename one of them`);
    }
    this.closeFamily();
    const fam: Family = { name, type: "untyped", help: "", unit: "", series: [] };
    const st: FamilyState = {
      fam,
      name,
      line: this.line,
      kind: K_UNTYPED,
      hasType: false,
      hasHelp: false,
      hasUnit: false,
      hasSamples: false,
      scalars: new SeriesIndex(),
      pending: new Set(),
      slots: new SeriesIndex(),
      groups: new Set(),
      group: undefined,
      groupHasTs: false,
      groupTs: 0,
      lastName: "",
      lastNameAt: -1,
      lastRole: R_NONE,
    };
    this.used.set(name, st);
    this.families.push(fam);
    this.cur = st;
    this.prevSlot = undefined;
    return st;
  }

  closeFamily(): void {
    const st = this.cur;
    if (st === undefined) return;
    this.cur = undefined;
    for (const slot of st.slots.entries) this.checkPoint(st, slot);
  }

  // ---- samples ------------------------------------------------------------------------------

  sample(): void {
    const s = this.src;
    const len = this.len;
    const om = this.om;
    let p = this.pos;
    const nameStart = p;
    let c = s.charCodeAt(p);
    const cur = this.cur;
    let name: string;
    let role = R_NONE;
    let hasLabels = false;
    let afterComma = false;

    if (c === LBRACE) {
      // {"name", labels...}: the quoted-name form Prometheus 3 uses for UTF-8 names.
      p = this.blanks(p + 1);
      if (s.charCodeAt(p) !== QUOTE) {
        this.fail(p, `expected the metric name as a quoted string after '{', found ${this.describe(p)}; a sample needs a metric name`);
      }
      const quoteAt = p;
      name = this.metricName(p, "");
      p = this.blanks(this.pos);
      c = s.charCodeAt(p);
      if (c === EQ) {
        this.fail(quoteAt, `the sample has no metric name: ${JSON.stringify(name)} is followed by '=', so it is a label name; put the metric name before '{' or first inside the braces`);
      }
      if (c === COMMA) hasLabels = afterComma = true;
      else if (c !== RBRACE) this.fail(p, `expected ',' or '}' after the quoted metric name, found ${this.describe(p)}`);
      p++;
    } else {
      // The previous sample's name, already validated, is the likely one: compare before scanning.
      const last = cur === undefined ? "" : cur.lastName;
      if (cur !== undefined && cur.lastNameAt >= 0 && sameText(s, nameStart, cur.lastNameAt, last.length) && !isMetricChar(s.charCodeAt(nameStart + last.length))) {
        p = nameStart + last.length;
        name = last;
        role = cur.lastRole;
      } else {
        while (p < len && isMetricChar(s.charCodeAt(p))) p++;
        if (p === nameStart) {
          this.fail(nameStart, `expected a metric name at the start of the line, found ${this.describe(nameStart)}`);
        }
        if (isDigit(c)) {
          this.fail(nameStart, `metric name "${s.slice(nameStart, p)}" starts with a digit; names match [a-zA-Z_:][a-zA-Z0-9_:]* (or are quoted: {"0name"})`);
        }
        name = s.slice(nameStart, p);
      }
      c = s.charCodeAt(p);
      if (!om && this.isBlank(c)) {
        // The text format allows blanks between the name and '{'.
        const q = this.blanks(p);
        if (s.charCodeAt(q) === LBRACE) {
          p = q;
          c = LBRACE;
        }
      }
      if (c === LBRACE) {
        hasLabels = true;
        p++;
      } else if (!this.isBlank(c)) {
        if (p >= len || c === LF) this.fail(p, `sample "${name}" has no value; write "${name} <value>"`);
        let q = p;
        for (let d = s.charCodeAt(q); q < len && d !== SP && d !== TAB && d !== LF && d !== LBRACE; d = s.charCodeAt(++q));
        const whole = s.slice(nameStart, q);
        this.fail(p, `found ${this.describe(p)} in metric name "${whole}"; names match [a-zA-Z_:][a-zA-Z0-9_:]*, quote others inside the braces: {${JSON.stringify(whole)}} 1`);
      }
    }

    let st: FamilyState;
    if (role !== R_NONE && cur !== undefined) {
      st = cur;
    } else {
      role = cur === undefined ? R_NONE : roleOf(cur, name, om);
      if (cur === undefined || role === R_NONE) {
        st = this.openFamily(name, nameStart, true);
        role = R_VALUE;
      } else {
        st = cur;
      }
      st.lastName = name;
      st.lastNameAt = s.charCodeAt(nameStart) === LBRACE ? -1 : nameStart;
      st.lastRole = role;
    }
    st.hasSamples = true;

    const kind = st.kind;
    const lab = this.prevLab;
    this.prevLab = this.lab;
    this.lab = lab;
    if (hasLabels) {
      const special = role === R_BUCKET ? "le" : role === R_QUANTILE ? "quantile" : role === R_STATE ? st.name : "";
      p = this.labels(p, lab, afterComma, special);
    } else {
      lab.reset();
    }

    // Separator, value, timestamp, exemplar.
    c = s.charCodeAt(p);
    if (om) {
      if (c !== SP) this.fail(p, p >= len || c === LF ? `expected a space and the sample value` : `expected a space before the sample value, found ${this.describe(p)}`);
      p++;
    } else {
      if (!this.isBlank(c)) this.fail(p, p >= len || c === LF ? `expected a blank and the sample value` : `expected a blank before the sample value, found ${this.describe(p)}`);
      p = this.blanks(p);
    }
    const valueAt = p;
    p = this.tokenEnd(p);
    if (p === valueAt) this.fail(p, om && s.charCodeAt(p) === SP ? "expected the sample value, found a second space (OpenMetrics separates with exactly one space)" : "expected the sample value");
    const value = parseNumber(s, valueAt, p);
    if (value === undefined) {
      this.fail(valueAt, `invalid sample value "${s.slice(valueAt, p)}"; write a decimal number such as 42, -1.5 or 2e-3, or NaN, +Inf, -Inf`);
    }

    let hasTs = false;
    let ts = 0;
    let tsAt = 0;
    if (om) {
      if (p < len && s.charCodeAt(p) === SP) {
        p++;
        if (s.charCodeAt(p) === HASH) {
          p = this.exemplar(p, kind, role);
        } else {
          tsAt = p;
          ts = this.omTimestamp(p, "sample");
          p = this.pos;
          hasTs = true;
          if (p < len && s.charCodeAt(p) === SP) {
            p++;
            if (s.charCodeAt(p) !== HASH) this.fail(p, `expected "# {...}" (an exemplar) or the end of the line after the timestamp, found ${this.describe(p)}`);
            p = this.exemplar(p, kind, role);
          }
        }
      }
      if (p < len && s.charCodeAt(p) !== LF) this.fail(p, `found ${this.describe(p)} where the sample should end; OpenMetrics allows no trailing spaces or extra fields`);
    } else {
      p = this.blanks(p);
      if (p < len && s.charCodeAt(p) !== LF) {
        tsAt = p;
        const end = this.tokenEnd(p);
        const t = parseIntToken(s, p, end);
        if (t === undefined) {
          if (s.charCodeAt(p) === HASH) {
            this.fail(p, "exemplars are only allowed in OpenMetrics; send the body as application/openmetrics-text or drop the exemplar");
          }
          this.fail(p, `invalid timestamp "${s.slice(p, end)}"; the text format's timestamps are integer milliseconds since the epoch`);
        }
        ts = t;
        hasTs = true;
        p = this.blanks(end);
        if (p < len && s.charCodeAt(p) !== LF) this.fail(p, `found ${this.describe(p)} after the timestamp, expected the end of the line; a sample is: name{labels} value [timestamp]`);
      }
    }
    if (hasTs && !this.allowTs) {
      throw new GatewayError("InvalidValue", `line ${this.line}: sample has a timestamp; the gateway stamps its own time on export, remove the timestamp`);
    }
    this.pos = p + 1;

    if (kind === K_HISTOGRAM || kind === K_GAUGEHISTOGRAM || kind === K_SUMMARY) {
      this.composite(st, role, value, hasTs, ts, nameStart, valueAt, tsAt);
    } else {
      this.scalar(st, role, name, value, hasTs, ts, nameStart, valueAt, tsAt);
    }
  }

  /**
   * Scans `name="value", ...}` from p, just after '{' (or, with `afterComma`, after the comma that
   * follows a quoted metric name), into `lab`; returns the position after '}'. Checks names and
   * duplicates, hashes each pair, and notes where the label named `special` is.
   */
  labels(p: number, lab: LabelScan, afterComma: boolean, special: string): number {
    const s = this.src;
    const len = this.len;
    const om = this.om;
    lab.reset();
    p = this.blanks(p);
    let c = s.charCodeAt(p);
    if (c === RBRACE && (!afterComma || !om)) return p + 1;
    let sum = 0;
    let sorted = true;
    for (let i = 0; ; i++) {
      // Label name, hashed as it is scanned.
      const nameAt = p;
      let h = this.seed;
      let quotedName: string | undefined = undefined;
      if (c === QUOTE) {
        quotedName = this.quoted(p);
        p = this.pos;
        const problem = labelNameProblem(quotedName);
        if (problem !== undefined) this.fail(nameAt, problem);
        h = hashString(quotedName, h);
      } else {
        while (p < len && isLabelChar(c)) {
          h = Math.imul(h ^ c, FNV_PRIME);
          c = s.charCodeAt(++p);
        }
        if (p === nameAt) {
          if (c === RBRACE || c === COMMA) this.fail(p, om ? `expected a label name, found ${this.describe(p)} (OpenMetrics allows no empty or trailing commas)` : `expected a label name, found ${this.describe(p)}`);
          this.fail(p, `expected a label name, found ${this.describe(p)}; label names match [a-zA-Z_][a-zA-Z0-9_]* (quote others: {"my.label"="v"})`);
        }
        const first = s.charCodeAt(nameAt);
        if (isDigit(first)) this.fail(nameAt, `label name "${s.slice(nameAt, p)}" starts with a digit; label names match [a-zA-Z_][a-zA-Z0-9_]* (or are quoted)`);
        if (first === UNDERSCORE && s.charCodeAt(nameAt + 1) === UNDERSCORE) {
          this.fail(nameAt, `label name "${s.slice(nameAt, p)}" starts with "__", which Prometheus reserves for internal labels; rename the label`);
        }
      }
      const nameEnd = p;
      h = Math.imul(h ^ NAME_END, FNV_PRIME);

      // '=' and the quoted value: a plain value is hashed as it is scanned, an escaped one decoded.
      p = this.blanks(p);
      if (s.charCodeAt(p) !== EQ) this.fail(p, `expected '=' after label name "${this.labelName(lab, i, nameAt, nameEnd, quotedName)}", found ${this.describe(p)}`);
      p = this.blanks(p + 1);
      if (s.charCodeAt(p) !== QUOTE) {
        this.fail(p, `expected '"' to open the value of label "${this.labelName(lab, i, nameAt, nameEnd, quotedName)}", found ${this.describe(p)}; label values are double-quoted`);
      }
      const valueAt = p + 1;
      let q = valueAt;
      let decoded: string | undefined = undefined;
      const hn = h;
      for (;;) {
        c = q < len ? s.charCodeAt(q) : LF;
        if (c === QUOTE) break;
        if (c === BSLASH || c === LF) {
          decoded = this.quoted(p);
          q = this.pos - 1;
          h = hashString(decoded, hn);
          break;
        }
        h = Math.imul(h ^ c, FNV_PRIME);
        q++;
      }
      const empty = decoded === undefined ? q === valueAt : decoded.length === 0;
      const ph = empty ? 0 : mix(h);
      lab.ns[i] = nameAt;
      lab.ne[i] = nameEnd;
      lab.nq[i] = quotedName;
      lab.vs[i] = valueAt;
      lab.ve[i] = q;
      lab.vq[i] = decoded;
      lab.ph[i] = ph;
      lab.n = i + 1;
      sum = (sum + ph) | 0;
      p = q + 1;

      if (special !== "" && (quotedName === undefined ? nameEnd - nameAt === special.length && rangeEquals(s, nameAt, special) : quotedName === special)) {
        lab.special = i;
      }
      // Names in strictly ascending order (the usual case) cannot repeat; once out of order, look.
      if (i > 0 && (!sorted || this.compareNames(lab, i - 1, i) >= 0)) {
        sorted = false;
        for (let k = 0; k < i; k++) {
          if (this.compareNames(lab, k, i) === 0) this.fail(nameAt, `label "${this.nameOf(lab, i)}" appears twice in the same series; keep one`);
        }
      }

      // ',' or '}'.
      p = this.blanks(p);
      c = s.charCodeAt(p);
      if (c === COMMA) {
        p = this.blanks(p + 1);
        c = s.charCodeAt(p);
        if (c === RBRACE && !om) break;
        continue;
      }
      if (c === RBRACE) break;
      this.fail(p, `expected ',' or '}' after the value of label "${this.nameOf(lab, i)}", found ${this.describe(p)}`);
    }
    lab.hash = sum;
    return p + 1;
  }

  /** A label's name while it is being scanned (for error messages). */
  labelName(lab: LabelScan, i: number, start: number, end: number, quotedName: string | undefined): string {
    return quotedName ?? (i < lab.n ? this.nameOf(lab, i) : this.src.slice(start, end));
  }

  nameOf(lab: LabelScan, i: number): string {
    return lab.nq[i] ?? this.src.slice(lab.ns[i] ?? 0, lab.ne[i] ?? 0);
  }

  valueOf(lab: LabelScan, i: number): string {
    return lab.vq[i] ?? this.src.slice(lab.vs[i] ?? 0, lab.ve[i] ?? 0);
  }

  compareNames(lab: LabelScan, a: number, b: number): number {
    if (lab.nq[a] === undefined && lab.nq[b] === undefined) {
      return compareRanges(this.src, lab.ns[a] ?? 0, lab.ne[a] ?? 0, lab.ns[b] ?? 0, lab.ne[b] ?? 0);
    }
    const x = this.nameOf(lab, a);
    const y = this.nameOf(lab, b);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  nameEquals(lab: LabelScan, i: number, text: string): boolean {
    const q = lab.nq[i];
    if (q !== undefined) return q === text;
    const a = lab.ns[i] ?? 0;
    return (lab.ne[i] ?? 0) - a === text.length && rangeEquals(this.src, a, text);
  }

  valueEquals(lab: LabelScan, i: number, text: string): boolean {
    const q = lab.vq[i];
    if (q !== undefined) return q === text;
    const a = lab.vs[i] ?? 0;
    return (lab.ve[i] ?? 0) - a === text.length && rangeEquals(this.src, a, text);
  }

  isEmptyValue(lab: LabelScan, i: number): boolean {
    const q = lab.vq[i];
    return q === undefined ? lab.vs[i] === lab.ve[i] : q.length === 0;
  }

  /** Whether the scanned labels, without index `skip`, are the label set `stored` (any order; empty values ignored). */
  sameLabels(lab: LabelScan, skip: number, stored: LabelPairs): boolean {
    const n = lab.n;
    let j = 0;
    let ordered = true;
    for (let i = 0; i < n && ordered; i++) {
      if (i === skip) continue;
      ordered = j < stored.length && this.nameEquals(lab, i, stored[j] ?? "") && this.valueEquals(lab, i, stored[j + 1] ?? "");
      j += 2;
    }
    if (ordered && j === stored.length) return true;
    let mine = 0;
    for (let i = 0; i < n; i++) {
      if (i === skip || this.isEmptyValue(lab, i)) continue;
      mine++;
      let found = false;
      for (let k = 0; k < stored.length; k += 2) {
        if (this.nameEquals(lab, i, stored[k] ?? "")) {
          found = this.valueEquals(lab, i, stored[k + 1] ?? "");
          break;
        }
      }
      if (!found) return false;
    }
    let theirs = 0;
    for (let k = 1; k < stored.length; k += 2) if (stored[k] !== "") theirs++;
    return mine === theirs;
  }

  /** The label set without index `skip` as text, the same for any order and spelling (stateset groups). */
  canonicalKey(lab: LabelScan, skip: number): string {
    const parts: string[] = [];
    for (let i = 0; i < lab.n; i++) {
      if (i === skip || this.isEmptyValue(lab, i)) continue;
      parts.push(`${JSON.stringify(this.nameOf(lab, i))}=${JSON.stringify(this.valueOf(lab, i))}`);
    }
    return parts.sort().join(",");
  }

  /** The scanned labels as the series' LabelPairs (without index `skip`), reusing the previous series' name strings. */
  materialize(lab: LabelScan, skip: number): LabelPairs {
    const s = this.src;
    const n = lab.n;
    // Sized up front: push() would give every small array a 17-slot backing store.
    const pairs: LabelPairs = new Array<string>(skip >= 0 && skip < n ? 2 * n - 2 : 2 * n);
    let j = 0;
    for (let i = 0; i < n; i++) {
      if (i === skip) continue;
      let name = lab.nq[i];
      if (name === undefined) {
        const a = lab.ns[i] ?? 0;
        const len = (lab.ne[i] ?? 0) - a;
        const cached = this.nameCache[i];
        if (cached !== undefined && cached.length === len && sameText(s, a, this.nameCacheAt[i] ?? 0, len)) {
          name = cached;
        } else {
          name = this.nameCache[i] = s.slice(a, a + len);
          this.nameCacheAt[i] = a;
        }
      }
      pairs[j] = name;
      pairs[j + 1] = lab.vq[i] ?? s.slice(lab.vs[i] ?? 0, lab.ve[i] ?? 0);
      j += 2;
    }
    return pairs;
  }

  /** Whether two scans hold the same labels in the same order (each without its index `skip`). */
  sameScan(a: LabelScan, skipA: number, b: LabelScan, skipB: number): boolean {
    const s = this.src;
    for (let i = 0, j = 0; ; i++, j++) {
      if (i === skipA) i++;
      if (j === skipB) j++;
      if (i >= a.n || j >= b.n) return i >= a.n && j >= b.n;
      if (a.nq[i] === undefined && b.nq[j] === undefined) {
        const x = a.ns[i] ?? 0;
        const y = b.ns[j] ?? 0;
        const len = (a.ne[i] ?? 0) - x;
        if ((b.ne[j] ?? 0) - y !== len || !sameText(s, x, y, len)) return false;
      } else if (this.nameOf(a, i) !== this.nameOf(b, j)) {
        return false;
      }
      if (a.vq[i] === undefined && b.vq[j] === undefined) {
        const x = a.vs[i] ?? 0;
        const y = b.vs[j] ?? 0;
        const len = (a.ve[i] ?? 0) - x;
        if ((b.ve[j] ?? 0) - y !== len || !sameText(s, x, y, len)) return false;
      } else if (this.valueOf(a, i) !== this.valueOf(b, j)) {
        return false;
      }
    }
  }

  labelsText(lab: LabelScan, skip: number): string {
    return formatLabels(this.materialize(lab, skip));
  }

  /** Parses an OpenMetrics timestamp (float seconds, finite) at p; leaves `pos` after it. */
  omTimestamp(p: number, what: string): number {
    const s = this.src;
    const end = this.tokenEnd(p);
    if (end === p) {
      this.fail(p, s.charCodeAt(p) === SP ? `expected the ${what} timestamp, found a second space (OpenMetrics separates with exactly one space)` : `expected the ${what} timestamp after the space (OpenMetrics allows no trailing spaces)`);
    }
    const ts = parseNumber(s, p, end);
    if (ts === undefined || !Number.isFinite(ts)) {
      this.fail(p, `invalid ${what} timestamp "${s.slice(p, end)}"; OpenMetrics timestamps are finite decimal seconds since the epoch, such as 1700000000.5`);
    }
    this.pos = end;
    return ts;
  }

  /** Validates an OpenMetrics exemplar starting at the '#' at p; returns the position after it. */
  exemplar(p: number, kind: number, role: number): number {
    const s = this.src;
    if (role !== R_TOTAL && role !== R_BUCKET) {
      this.fail(p, `exemplars are only allowed on counter "_total" and histogram "_bucket" samples, not on this ${kindName(kind, true)} sample`);
    }
    if (s.charCodeAt(p + 1) !== SP) this.fail(p + 1, `expected a space after '#' before the exemplar's labels, found ${this.describe(p + 1)}`);
    p += 2;
    if (s.charCodeAt(p) !== LBRACE) this.fail(p, `expected '{' to open the exemplar's labels, found ${this.describe(p)}`);
    const labelsAt = p;
    const lab = this.exemplarLab;
    p = this.labels(p + 1, lab, false, "");
    let chars = 0;
    for (let i = 0; i < lab.n; i++) chars += codePoints(this.nameOf(lab, i)) + codePoints(this.valueOf(lab, i));
    if (chars > 128) this.fail(labelsAt, `exemplar labels are ${chars} characters long; OpenMetrics allows at most 128 (names and values together)`);
    if (s.charCodeAt(p) !== SP) this.fail(p, `expected a space and the exemplar value after its labels, found ${this.describe(p)}`);
    p++;
    const valueAt = p;
    p = this.tokenEnd(p);
    if (p === valueAt) this.fail(p, "expected the exemplar value");
    if (parseNumber(s, valueAt, p) === undefined) this.fail(valueAt, `invalid exemplar value "${s.slice(valueAt, p)}"; write a decimal number`);
    if (p < this.len && s.charCodeAt(p) === SP) {
      this.omTimestamp(p + 1, "exemplar");
      p = this.pos;
    }
    return p;
  }

  // ---- series assembly ----------------------------------------------------------------------

  /**
   * OpenMetrics grouping: a group's samples are adjacent, all with timestamps or none, and the
   * timestamps never go back. `group` is the existing series (or key) or `undefined` for a new one.
   * Tells whether the sample starts a group, continues it, or starts a later point of it.
   */
  enterGroup(st: FamilyState, group: unknown, hasTs: boolean, ts: number, pos: number, tsAt: number, skip: number): number {
    if (group !== undefined && group === st.group) {
      if (hasTs !== st.groupHasTs) {
        this.fail(hasTs ? tsAt : pos, `some samples of series ${this.labelsText(this.lab, skip)} have a timestamp and others do not; timestamp all or none`);
      }
      if (!hasTs) return G_SAME;
      if (ts < st.groupTs && st.kind !== K_INFO) this.fail(tsAt, `timestamp goes backwards within series ${this.labelsText(this.lab, skip)}; samples must be in time order`);
      const next = ts !== st.groupTs;
      st.groupTs = ts;
      return next ? G_NEXT_POINT : G_SAME;
    }
    if (group !== undefined && group !== INFO_GROUP) {
      this.fail(pos, `the samples of series ${this.labelsText(this.lab, skip)} in "${st.name}" are not together; OpenMetrics requires each series' samples to be adjacent`);
    }
    st.group = group;
    st.groupHasTs = hasTs;
    st.groupTs = ts;
    return G_NEW;
  }

  scalar(st: FamilyState, role: number, name: string, value: number, hasTs: boolean, ts: number, pos: number, valueAt: number, tsAt: number): void {
    const om = this.om;
    const lab = this.lab;
    if (role === R_STATE) {
      if (lab.special < 0) this.fail(pos, `stateset sample "${name}" needs a label "${st.name}" naming its state, e.g. ${name}{${st.name}="ready"} 1`);
      if (value !== 0 && value !== 1) this.fail(valueAt, `stateset value must be 0 or 1, got ${value}`);
    } else if (role === R_INFO) {
      if (value !== 1) this.fail(valueAt, `info value must be 1, got ${value}`);
    } else if (role === R_TOTAL) {
      if (Number.isNaN(value)) this.fail(valueAt, "counter value is NaN; a counter must be a non-negative number");
      if (value < 0) this.fail(valueAt, `counter value ${value} is negative; a counter must be a non-negative number`);
    }
    const found = st.scalars.find(this, lab, lab.hash, -1);
    let step = G_NEW;
    let isGroup = false;
    if (om) {
      if (role === R_STATE) {
        const group = this.canonicalKey(lab, lab.special);
        const seen = st.groups.has(group);
        step = this.enterGroup(st, seen ? group : undefined, hasTs, ts, pos, tsAt, -1);
        st.group = group;
        st.groups.add(group);
      } else if (st.kind === K_INFO) {
        step = this.enterGroup(st, INFO_GROUP, hasTs, ts, pos, tsAt, -1);
        st.group = INFO_GROUP;
      } else {
        step = this.enterGroup(st, found, hasTs, ts, pos, tsAt, -1);
        isGroup = true;
      }
    }
    if (found === undefined) {
      const series: ScalarSeries = { kind: "scalar", labels: this.materialize(lab, -1), value: role === R_CREATED ? NaN : value };
      st.scalars.add(lab.hash, series);
      if (role === R_CREATED) st.pending.add(series);
      else st.fam.series.push(series);
      if (isGroup) st.group = series;
      return;
    }
    if (role === R_CREATED) return;
    if (st.pending.delete(found)) {
      found.value = value;
      st.fam.series.push(found);
      return;
    }
    // A series repeated with a later timestamp is a later point of it: keep the newest value.
    if (om && hasTs && step !== G_NEW) {
      found.value = value;
      return;
    }
    const hint = found.labels.length !== lab.n * 2 ? ' (a label with an empty value is the same as no label)' : "";
    this.fail(pos, `duplicate series ${name}${formatLabels(found.labels)}${hint}: it already has a sample in this body; send each series once`);
  }

  composite(st: FamilyState, role: number, value: number, hasTs: boolean, ts: number, pos: number, valueAt: number, tsAt: number): void {
    const om = this.om;
    const kind = st.kind;
    const lab = this.lab;
    const skip = role === R_BUCKET || role === R_QUANTILE ? lab.special : -1;
    const hash = skip >= 0 ? (lab.hash - (lab.ph[skip] ?? 0)) | 0 : lab.hash;
    // Most samples continue the previous sample's series: compare with its labels in the body first.
    const prev = this.prevSlot;
    let slot = prev !== undefined && this.sameScan(lab, skip, this.prevLab, this.prevSkip) ? prev : st.slots.find(this, lab, hash, skip);
    if (om) {
      const step = this.enterGroup(st, slot, hasTs, ts, pos, tsAt, skip);
      if (step === G_NEXT_POINT && slot !== undefined) {
        // A later point of the same series: the earlier one must be complete, the newest wins.
        this.checkPoint(st, slot);
        const series = slot.series;
        if (series.kind === "histogram") {
          series.bounds = [];
          series.counts = [];
        } else {
          series.quantiles = [];
          series.values = [];
        }
        series.sum = undefined;
        series.count = undefined;
        slot.negativeBucket = false;
        slot.negativeSum = false;
      }
    }
    if (slot === undefined) {
      const labels = this.materialize(lab, skip);
      const series: HistogramSeries | SummarySeries =
        kind === K_SUMMARY
          ? { kind: "summary", labels, quantiles: [], values: [], sum: undefined, count: undefined }
          : { kind: "histogram", labels, bounds: [], counts: [], sum: undefined, count: undefined };
      slot = { series, labels, line: this.line, negativeBucket: false, negativeSum: false };
      st.slots.add(hash, slot);
      st.fam.series.push(series);
      if (om) st.group = slot;
    }
    this.prevSlot = slot;
    this.prevSkip = skip;
    const series = slot.series;
    switch (role) {
      case R_BUCKET: {
        if (series.kind !== "histogram") return;
        const le = this.specialNumber(pos, "le", "histogram bucket", 'le="0.5"');
        const at = lab.vs[lab.special] ?? pos;
        if (Number.isNaN(value) || value < 0) this.fail(valueAt, `bucket count ${value} is not a non-negative number`);
        const n = series.bounds.length;
        const lastBound = series.bounds[n - 1] ?? -Infinity;
        const lastCount = series.counts[n - 1] ?? 0;
        if (n > 0 && !(le > lastBound)) {
          const text = this.valueOf(lab, lab.special);
          this.fail(at, le === lastBound ? `bucket le="${text}" appears twice in series ${formatLabels(slot.labels)}` : `bucket le="${text}" comes after le="${formatNumber(lastBound)}"; list buckets in ascending order of le`);
        }
        if (value < lastCount) this.fail(valueAt, `bucket count ${value} is less than the previous bucket's ${lastCount}; bucket counts are cumulative and never decrease`);
        if (le < 0) slot.negativeBucket = true;
        series.bounds.push(le);
        series.counts.push(value);
        return;
      }
      case R_QUANTILE: {
        if (series.kind !== "summary") return;
        const q = this.specialNumber(pos, "quantile", "summary quantile", 'quantile="0.99"');
        const at = lab.vs[lab.special] ?? pos;
        if (!(q >= 0 && q <= 1)) this.fail(at, `quantile ${this.valueOf(lab, lab.special)} is outside [0, 1]`);
        if (om && value < 0) this.fail(valueAt, `quantile value ${value} is negative; OpenMetrics summary quantiles cannot be negative`);
        if (series.quantiles.includes(q)) this.fail(at, `quantile ${this.valueOf(lab, lab.special)} appears twice in series ${formatLabels(slot.labels)}`);
        series.quantiles.push(q);
        series.values.push(value);
        return;
      }
      case R_SUM: {
        const sumName = kind === K_GAUGEHISTOGRAM ? "_gsum" : "_sum";
        if (series.sum !== undefined) this.fail(pos, `duplicate ${sumName} for series ${formatLabels(slot.labels)}`);
        if (om) {
          if (Number.isNaN(value)) this.fail(valueAt, `${kindName(kind, om)} ${sumName} is NaN; it must be a number`);
          if (value < 0) {
            if (kind !== K_GAUGEHISTOGRAM) this.fail(valueAt, `${kindName(kind, om)} ${sumName} ${value} is negative; in OpenMetrics it is a counter`);
            slot.negativeSum = true;
          }
        }
        series.sum = value;
        return;
      }
      case R_COUNT: {
        const countName = kind === K_GAUGEHISTOGRAM ? "_gcount" : "_count";
        if (series.count !== undefined) this.fail(pos, `duplicate ${countName} for series ${formatLabels(slot.labels)}`);
        if (Number.isNaN(value) || value < 0) this.fail(valueAt, `${kindName(kind, om)} ${countName} ${value} is not a non-negative number`);
        series.count = value;
        return;
      }
      default:
        // _created: validated as a sample, not stored.
        return;
    }
  }

  /** The number in the le / quantile label of the current sample. */
  specialNumber(pos: number, label: string, what: string, example: string): number {
    const lab = this.lab;
    const i = lab.special;
    if (i < 0) this.fail(pos, `${what} sample needs a "${label}" label, e.g. ${example}`);
    const decoded = lab.vq[i];
    const n = decoded === undefined ? parseNumber(this.src, lab.vs[i] ?? 0, lab.ve[i] ?? 0) : parseNumber(decoded, 0, decoded.length);
    const at = lab.vs[i] ?? pos;
    if (n === undefined || Number.isNaN(n)) this.fail(at, `${label}="${this.valueOf(lab, i)}" is not a number; write e.g. ${example} or ${label}="+Inf"`);
    // OpenMetrics requires the canonical spelling of infinity in these labels.
    if (this.om && n === Infinity && !this.valueEquals(lab, i, "+Inf")) this.fail(at, `${label}="${this.valueOf(lab, i)}" must be written ${label}="+Inf" in OpenMetrics`);
    return n;
  }

  /** Checks a complete histogram point: the +Inf bucket, `_count`, and OpenMetrics' sum rules. */
  checkPoint(st: FamilyState, slot: Slot): void {
    const series = slot.series;
    if (series.kind !== "histogram") return;
    const om = this.om;
    const where = `${kindName(st.kind, om)} "${st.name}" series ${formatLabels(series.labels)}`;
    const n = series.bounds.length;
    if (n === 0 || series.bounds[n - 1] !== Infinity) {
      throw parseError(slot.line, 1, `${where} has no le="+Inf" bucket; every histogram needs one, equal to its count`);
    }
    const inf = series.counts[n - 1] ?? 0;
    const gauge = st.kind === K_GAUGEHISTOGRAM;
    if (series.count !== undefined && series.count !== inf) {
      throw parseError(slot.line, 1, `${where}: ${gauge ? "_gcount" : "_count"} ${series.count} differs from the le="+Inf" bucket ${inf}; they must be equal`);
    }
    if (!om) return;
    const sumName = gauge ? "_gsum" : "_sum";
    const countName = gauge ? "_gcount" : "_count";
    if ((series.sum === undefined) !== (series.count === undefined)) {
      throw parseError(slot.line, 1, `${where} has ${series.sum === undefined ? countName : sumName} without ${series.sum === undefined ? sumName : countName}; OpenMetrics needs both or neither`);
    }
    if (!gauge && slot.negativeBucket && series.sum !== undefined) {
      throw parseError(slot.line, 1, `${where} has negative buckets and a _sum; OpenMetrics forbids _sum when buckets are negative`);
    }
    if (gauge && slot.negativeSum && !slot.negativeBucket) {
      throw parseError(slot.line, 1, `${where} has a negative _gsum but no negative bucket`);
    }
  }
}

// ---- numbers and strings ----------------------------------------------------------------------

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
function parseIntToken(s: string, start: number, end: number): number | undefined {
  let i = start;
  const c = s.charCodeAt(i);
  if (c === PLUS || c === MINUS) i++;
  if (i >= end) return undefined;
  for (; i < end; i++) if (!isDigit(s.charCodeAt(i))) return undefined;
  return Number(s.slice(start, end));
}

/** Whether `s` has `text` at `at` (the caller has checked the room). */
function rangeEquals(s: string, at: number, text: string): boolean {
  for (let k = 0; k < text.length; k++) if (s.charCodeAt(at + k) !== text.charCodeAt(k)) return false;
  return true;
}

/** Whether `s` holds the same `len` characters at `a` and at `b`. */
function sameText(s: string, a: number, b: number, len: number): boolean {
  for (let k = 0; k < len; k++) if (s.charCodeAt(a + k) !== s.charCodeAt(b + k)) return false;
  return true;
}

function compareRanges(s: string, a: number, aEnd: number, b: number, bEnd: number): number {
  for (; a < aEnd && b < bEnd; a++, b++) {
    const d = s.charCodeAt(a) - s.charCodeAt(b);
    if (d !== 0) return d;
  }
  return aEnd - a - (bEnd - b);
}

function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

function escapeQuoted(text: string): string {
  return text.replace(/[\\"\n]/g, (ch) => (ch === "\n" ? "\\n" : `\\${ch}`));
}

function formatNumber(n: number): string {
  return n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n);
}

function formatLabels(pairs: LabelPairs): string {
  let out = "{";
  for (let i = 0; i < pairs.length; i += 2) {
    if (i > 0) out += ",";
    const name = pairs[i] ?? "";
    out += `${isLegacyLabelName(name) ? name : `"${escapeQuoted(name)}"`}="${escapeQuoted(pairs[i + 1] ?? "")}"`;
  }
  return `${out}}`;
}
