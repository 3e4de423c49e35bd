/** Parses pushed bodies, Prometheus text format 0.0.4 and OpenMetrics 1.0, in one pass over the string. */

import { GatewayError, parseError } from "../../common/errors";
import { groupedLabelKey, labelKey, renderPair } from "../../common/labels";
import type { Family, Histogram, LabelPairs, MetricType, Summary } from "../../common/model";
import { isLegacyLabelName, labelNameProblem, metricNameProblem } from "../../common/names";

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
  /**
   * Pushgateway grouping labels to add to every series' key, replacing same-named labels of the
   * body: the keys `withGroupingLabels` (groups.ts) would give, built while parsing. Names must be
   * valid and distinct (as `parseGroupingPath` returns them). Duplicate series are still judged by
   * the body's own labels; two series that only the grouping makes equal are left for `prepare`
   * (merge.ts) to reject, as it does after `withGroupingLabels`.
   */
  group?: LabelPairs;
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
 * - `_created` samples and exemplars are validated, then dropped. Every series gets its canonical
 *   label key (`labelKey` in labels.ts: sorted by name, empty values left out), without `le` for
 *   histograms and `quantile` for summaries, and with `options.group` merged in.
 * - Series come as each family's `keys` and `values`, in the order of their first samples. A
 *   family announced by HELP/TYPE/UNIT but without samples is returned with no series.
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
 * //    keys: ['queue="a"'], values: [3] }]
 */
export function parseExposition(body: string, format: "text" | "openmetrics", options: ParseOptions = {}): Family[] {
  const parser = new Parser(body, format === "openmetrics", options.allowTimestamps ?? true, options.group ?? []);
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

// Series are found by the hash of their key: the sum of its pairs' hashes, so that it is the same
// for any label order and a pair can be taken out (`le`), each pair's hash being FNV-1a over its
// name, NAME_END (not a code unit) and its value as the key writes them, then mixed. Each parse
// starts FNV from a random offset, so a body cannot be built to make every series collide.
const FNV_PRIME = 0x01000193;
const NAME_END = 0x10000;

/** The hash of a canonical key's text (see above): what the label scan computes for plain labels. */
function hashKey(key: string, seed: number): number {
  let sum = 0;
  const n = key.length;
  let i = 0;
  while (i < n) {
    let h = seed;
    let c = key.charCodeAt(i);
    if (c === QUOTE) {
      // A quoted name, hashed with its quotes and escapes as written.
      h = Math.imul(h ^ c, FNV_PRIME);
      for (c = key.charCodeAt(++i); c !== QUOTE; c = key.charCodeAt(++i)) {
        h = Math.imul(h ^ c, FNV_PRIME);
        if (c === BSLASH) h = Math.imul(h ^ key.charCodeAt(++i), FNV_PRIME);
      }
      h = Math.imul(h ^ c, FNV_PRIME);
      i++;
    } else {
      for (; c !== EQ; c = key.charCodeAt(++i)) h = Math.imul(h ^ c, FNV_PRIME);
    }
    h = Math.imul(h ^ NAME_END, FNV_PRIME);
    // i is at '=', the value's quote follows.
    for (i += 2, c = key.charCodeAt(i); c !== QUOTE; c = key.charCodeAt(++i)) {
      h = Math.imul(h ^ c, FNV_PRIME);
      if (c === BSLASH) h = Math.imul(h ^ key.charCodeAt(++i), FNV_PRIME);
    }
    sum = (sum + mix(h)) | 0;
    i += 2; // the quote and the comma
  }
  return sum;
}

/** murmur3's finalizer: FNV's low bits, the table index, depend only on the code units' low bits. */
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
  /** Where each value starts, and where its closing quote is. */
  readonly vs: number[] = [];
  readonly ve: number[] = [];
  readonly nq: (string | undefined)[] = [];
  readonly vq: (string | undefined)[] = [];
  /** Index of the le / quantile / state label, or -1. */
  special = -1;
  /**
   * Every pair is written exactly as the canonical key renders it: a legacy name, `="`, the value
   * with no escapes but `\\ \" \n`, `"`, with no blanks between pairs but one ','; no value empty.
   */
  plain = true;
  /** Names strictly ascending (UTF-16 order), so none repeats. */
  sorted = true;
  /** `Parser.scanGeneration` when every name was the cached one at its index, else -1. */
  generation = -1;
  /** Each pair's hash (see `hashKey`), and their sum: the key's hash when plain (less a skipped pair's). */
  readonly ph: number[] = [];
  hash = 0;

  /** No labels: the empty key, whose hash is 0. */
  reset(): void {
    this.n = 0;
    this.special = -1;
    this.plain = true;
    this.sorted = true;
    this.generation = -1;
    this.hash = 0;
  }
}

/**
 * The series of the open family by key, in an open-addressing table of `[hash, number + 1]` pairs,
 * where `number` counts the body's series: the open family's are those from `first` on, and its
 * `n`th series is number `first + n`. A Map would allocate per entry and hash every key again, where
 * the label scan has hashed most keys already; equal hashes are told apart by comparing the keys.
 * Only the open family is looked up, so one table serves them all: another family's entry counts
 * as empty, and nothing needs clearing. It is sized from the body length up front, up to 64k pairs
 * (512 kB) unless a family needs more: a lookup is mostly a cache miss, and a smaller table misses
 * less. A text-format family whose lines come back after another family's (see `Parser.reopen`)
 * moves to a table of its own (`extract`), once, so that switching families costs nothing more.
 */
class SeriesIndex {
  table: Int32Array;
  mask: number;
  /** The open family's first series number, and how many series the body has had. */
  first = 0;
  count = 0;
  /** The hash the last `find` looked for. */
  hash = 0;
  /** Where each series' first labels are in the body (see `Parser.labelsAt`), by number. */
  labelsAt: Int32Array;
  /** Each series' hash, by number (for `extract`). */
  hashes: Int32Array;

  /** A table of `slots` pairs (a power of two) for about `capacity` series before it grows. */
  constructor(slots: number, capacity: number) {
    this.table = new Int32Array(slots * 2);
    this.mask = slots - 1;
    this.labelsAt = new Int32Array(capacity);
    this.hashes = new Int32Array(capacity);
  }

  /** The table for a whole body. */
  static forBody(bodyLength: number): SeriesIndex {
    let slots = 1024;
    while (slots < 65536 && slots * 64 < bodyLength) slots *= 2;
    return new SeriesIndex(slots, 1024);
  }

  /** A table of its own for the `n` series numbered from `first` (a family, see above), numbered from 0. */
  extract(first: number, n: number): SeriesIndex {
    let slots = 8;
    while (slots * 3 < n * 4 + 4) slots *= 2;
    const own = new SeriesIndex(slots, Math.max(8, n));
    for (let k = 0; k < n; k++) {
      const hash = this.hashes[first + k] ?? 0;
      let b = hash & own.mask;
      while ((own.table[2 * b + 1] ?? 0) !== 0) b = (b + 1) & own.mask;
      own.hash = hash;
      own.add(~b, this.labelsAt[first + k] ?? -1);
    }
    return own;
  }

  /** Starts indexing a new family. */
  open(): void {
    this.first = this.count;
  }

  /**
   * The slot of `key` (>= 0), or `~slot` for the empty slot it would take (for `add`). `keys` are
   * the family's, by index; with `own`, only series whose `own` key is "" count (see `scalar`).
   */
  find(hash: number, key: string, keys: readonly string[], own: readonly string[] | undefined): number {
    const table = this.table;
    const mask = this.mask;
    const first = this.first;
    this.hash = hash;
    for (let b = hash & mask; ; b = (b + 1) & mask) {
      const number = (table[2 * b + 1] ?? 0) - 1;
      if (number < first) return ~b;
      if (table[2 * b] === hash && keys[number - first] === key && (own === undefined || own[number - first] === "")) return b;
    }
  }

  /** The index in its family of the series in slot `b`. */
  index(b: number): number {
    return (this.table[2 * b + 1] ?? 0) - 1 - this.first;
  }

  /** Fills the empty slot `~miss` that the last `find` returned with the family's next series. */
  add(miss: number, labelsAt: number): void {
    const b = ~miss;
    this.table[2 * b] = this.hash;
    if (this.count === this.labelsAt.length) {
      const grown = new Int32Array(this.count * 2);
      grown.set(this.labelsAt);
      this.labelsAt = grown;
      const hashes = new Int32Array(this.count * 2);
      hashes.set(this.hashes);
      this.hashes = hashes;
    }
    this.labelsAt[this.count] = labelsAt;
    this.hashes[this.count] = this.hash;
    this.table[2 * b + 1] = ++this.count;
    // Up to 3/4 full: probing a few more neighbours, mostly in the same cache line, costs less than
    // the cache misses of a larger table.
    if ((this.count - this.first) * 4 > (this.mask + 1) * 3) this.grow();
  }

  /** Twice as large, keeping the open family's entries. */
  grow(): void {
    const old = this.table;
    const table = new Int32Array(old.length * 2);
    const mask = this.mask * 2 + 1;
    for (let e = 0; e < old.length; e += 2) {
      const number = (old[e + 1] ?? 0) - 1;
      if (number < this.first) continue;
      const hash = old[e] ?? 0;
      let b = hash & mask;
      while ((table[2 * b + 1] ?? 0) !== 0) b = (b + 1) & mask;
      table[2 * b] = hash;
      table[2 * b + 1] = number + 1;
    }
    this.table = table;
    this.mask = mask;
  }
}

/** `a` joined to `b` by a comma, either possibly empty (a grouping label with an empty value is ""). */
function joinKey(a: string, b: string): string {
  return b === "" ? a : a === "" ? b : `${a},${b}`;
}

/**
 * `key` as one flat string. V8 keeps a concatenation as a tree of its pieces until a character of
 * it is read, and then copies it into one string: a key is kept and hashed, and a flat one is
 * smaller and cheaper to keep (the pieces become short-lived garbage) and to hash.
 */
function flat(key: string): string {
  return key.charCodeAt(0) === -1 ? "" : key;
}

/** `name` compared with the label name at `s[a, b)`, by UTF-16 code units (as `labelKey` sorts). */
function compareToRange(name: string, s: string, a: number, b: number): number {
  const n = Math.min(name.length, b - a);
  for (let k = 0; k < n; k++) {
    const d = name.charCodeAt(k) - s.charCodeAt(a + k);
    if (d !== 0) return d;
  }
  return name.length - (b - a);
}

/** A histogram or summary series being assembled from its samples. */
interface Slot {
  /** The series' value, in its family's `histograms` or `summaries`. */
  readonly point: Histogram | Summary;
  /**
   * Where the labels of the series' first sample are in the body (-1: none), and the label left
   * out of its key ("le", "quantile" or ""): errors show the labels as first written, and scanning
   * them again then is cheaper than keeping them for every series.
   */
  readonly labelsAt: number;
  readonly skipped: string;
  /** Line of the series' first sample, for errors found when the series is complete. */
  readonly line: number;
  negativeBucket: boolean;
  negativeSum: boolean;
}

/** A family being parsed. */
interface FamilyState {
  /** The family's name as output (an OpenMetrics counter `foo` is `foo_total`), type, help and unit. */
  outName: string;
  type: MetricType;
  help: string;
  unit: string;
  /** The name the metadata lines use. */
  readonly name: string;
  readonly line: number;
  kind: number;
  hasType: boolean;
  hasHelp: boolean;
  hasUnit: boolean;
  hasSamples: boolean;
  /**
   * The series' keys (with the grouping labels) by index, and a scalar family's values: for a
   * scalar family, the first `count` of `Parser.scalarKeys` and `scalarValues` until it ends.
   */
  keys: string[];
  values: number[];
  count: number;
  /** The number of the family's first series in `Parser.index` (its series are numbered in a row). */
  first: number;
  /**
   * The family's own series index, once its lines came back after another family's (text format,
   * see `Parser.reopen`): from then on its series are found there, and a scalar family's keys and
   * values are kept in `keys` and `values` directly.
   */
  index: SeriesIndex | undefined;
  /** A histogram or summary family's values and series being assembled, by index. */
  readonly histograms: Histogram[];
  readonly summaries: Summary[];
  readonly slots: Slot[];
  /**
   * The body keys (without grouping labels) of the histogram and summary series, and with grouping
   * labels of the scalar ones, by index: the body's own label set decides what is a duplicate.
   */
  readonly bodyKeys: string[];
  /**
   * OpenMetrics counters seen only through `_created` so far, by index. They have their place in
   * `keys` and `values` already (a series' samples are adjacent, so the `_total` that would add it
   * comes next anyway), and are taken out when the family ends without their `_total`.
   */
  pending: Set<number> | undefined;
  /** Stateset groups seen (a stateset's group is its labels minus the state label). */
  groups: Set<string> | undefined;
  /** OpenMetrics: the current group (a scalar's index, a slot, or a key) and its timestamp, to check grouping and order. */
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

// What `Parser.labels` makes of a quoted string followed by ',' or '}' (a metric name among the labels).
/** An error: the name came before '{', or this is OpenMetrics. */
const NAME_NONE = 0;
/** The metric name, not read yet: skip it once. */
const NAME_SKIP = 1;
/** A second metric name: an error. */
const NAME_TAKEN = 2;

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
  /** Every family so far, in body order. */
  readonly states: FamilyState[] = [];
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
  /** Where a sample's labels are scanned first when its metric name is among them (see `sample`). */
  readonly nameScan = new LabelScan();
  readonly seed = (Math.random() * 0x100000000) | 0;
  readonly index: SeriesIndex;
  /**
   * Label names by index as recent scans had them, `scanNames` of them: where one is in the body,
   * its length, `hashKey`'s hash of it, and whether it sorts after the one before. Each was checked
   * after those before it, so a scan whose names all match needs no name checks, no hashing of names,
   * and no looking for repeats: consecutive series mostly repeat their label names.
   */
  scanNames = 0;
  /** Counts changes to the cached names: the same generation means the same names. */
  scanGeneration = 0;
  readonly scanNameAt: number[] = [];
  readonly scanNameLen: number[] = [];
  readonly scanNameHash: number[] = [];
  readonly scanNameUp: boolean[] = [];
  /** Where the current sample's labels start in the body (after '{' or the quoted name's ','), or -1. */
  labelsAt = -1;
  /** Set by `quotedSlow` when a backslash escapes nothing it knows (and so stays in the value: OpenMetrics). */
  oddEscape = false;
  /** Where `labels` found the metric name among the labels (NAME_SKIP), or -1. */
  nameItemAt = -1;
  /**
   * The open scalar family's keys and values (see `FamilyState.count`): kept from family to family
   * and copied out at their exact size when a family ends, so that they grow once per parse rather
   * than once per family, which left a trail of outgrown arrays for the garbage collector.
   */
  readonly scalarKeys: string[] = [];
  readonly scalarValues: number[] = [];
  /**
   * Label indexes in key order, reused by `plainKey`: `orderM` of them, sorted for the first
   * `orderN` cached names of `orderGeneration` without index `orderSkip`.
   */
  readonly order: number[] = [];
  orderM = 0;
  orderN = 0;
  orderGeneration = -1;
  orderSkip = -1;
  /** The grouping labels as given, and sorted by name: names, and `name="value"` ("" for an empty value). */
  readonly group: LabelPairs;
  readonly groupNames: string[] = [];
  readonly groupText: string[] = [];
  /** `hashKey` of the grouping labels' pairs: what they add to a key's hash. */
  groupHash = 0;
  /** Set by `groupedKey`: whether a grouping label replaced a label of the scan. */
  replaced = false;
  /**
   * Label names by position in the last series built, and where in the body they were: consecutive
   * series mostly repeat them. (Values rarely repeat at the same position: caching them costs more.)
   */
  readonly nameCache: string[] = [];
  readonly nameCacheAt: number[] = [];

  constructor(src: string, om: boolean, allowTs: boolean, group: LabelPairs) {
    this.src = src;
    this.len = src.length;
    this.om = om;
    this.allowTs = allowTs;
    this.index = SeriesIndex.forBody(src.length);
    this.group = group;
    const byName: number[] = [];
    for (let i = 0; i < group.length; i += 2) byName.push(i);
    byName.sort((a, b) => ((group[a] ?? "") < (group[b] ?? "") ? -1 : 1));
    for (const i of byName) {
      const name = group[i] ?? "";
      const value = group[i + 1] ?? "";
      this.groupNames.push(name);
      // An empty value still replaces the body's label of that name, then leaves the key, as in labelKey.
      const text = value === "" ? "" : renderPair(name, value);
      this.groupText.push(text);
      this.groupHash = (this.groupHash + hashKey(text, this.seed)) | 0;
    }
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
    if (!this.om) for (const st of this.states) for (const slot of st.slots) this.checkPoint(st, slot);
    if (this.om && !this.eof) {
      const endsWithLf = len > 0 && s.charCodeAt(len - 1) === LF;
      const line = endsWithLf || len === 0 ? this.line + 1 : this.line;
      const column = endsWithLf || len === 0 ? 1 : this.column(len);
      throw parseError(line, column, 'missing "# EOF": an OpenMetrics body must end with the line "# EOF"');
    }
    return this.states.map(familyOf);
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
    // "# HELP name" or "# TYPE name" with nothing after the name is a comment in the text format,
    // as in the Pushgateway's parser (it has no text to take).
    if (!om && p >= end) return;

    const st = this.familyForMetadata(name, kw, nameAt);
    if (kw === "HELP") {
      if (st.hasHelp) this.fail(nameAt, `second HELP line for "${name}"; a family has at most one`);
      st.hasHelp = true;
      let helpEnd = end;
      if (!om && helpEnd > p && s.charCodeAt(helpEnd - 1) === CR) helpEnd--;
      st.help = this.unescapeHelp(p, helpEnd);
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
      st.unit = unit;
    }
  }

  /**
   * The HELP text in `[start, end)`, unescaped: `\\`, `\n` and `\"` (the Pushgateway's parser reads
   * `\"` in text-format HELP too). Any other backslash is an error in the text format, as there, and
   * stays as written in OpenMetrics, as its test vectors require.
   */
  unescapeHelp(start: number, end: number): string {
    const s = this.src;
    // Looked for within the line: indexOf would search on to the body's end whenever the line has
    // no backslash, once per HELP line.
    let i = start;
    for (let c = s.charCodeAt(i); i < end && c !== BSLASH; c = s.charCodeAt(++i)) {
      if (isSurrogate(c) && isLoneSurrogate(s, i)) this.fail(i, loneSurrogateProblem(c));
    }
    if (i >= end) return s.slice(start, end);
    let out = "";
    let from = start;
    for (; i < end; i++) {
      const c = s.charCodeAt(i);
      if (isSurrogate(c) && isLoneSurrogate(s, i)) this.fail(i, loneSurrogateProblem(c));
      if (c !== BSLASH) continue;
      const d = i + 1 < end ? s.charCodeAt(i + 1) : -1;
      if (d === BSLASH || d === 110 /* n */ || d === QUOTE) {
        out += s.slice(from, i) + (d === 110 ? "\n" : d === QUOTE ? '"' : "\\");
        i++;
        from = i + 1;
      } else if (!this.om) {
        this.fail(
          i,
          d < 0
            ? "the HELP text ends with a lone backslash; write a backslash as \\\\"
            : `invalid escape sequence ${escapeSequence(s, i)} in HELP text; the text format knows only \\\\ (backslash), \\n (newline) and \\" (quote): write a backslash as \\\\`,
        );
      }
    }
    return out + s.slice(from, end);
  }

  /**
   * The family a metadata line is about. The text format keeps a family's lines together wherever
   * they are (a HELP may come after the samples, or after other families), as the Pushgateway's
   * parser does; only TYPE must precede the samples. OpenMetrics wants all metadata first.
   */
  familyForMetadata(name: string, kw: string, pos: number): FamilyState {
    const cur = this.cur;
    let st = cur !== undefined && cur.name === name ? cur : undefined;
    if (st === undefined && !this.om) {
      const earlier = this.used.get(name);
      if (earlier !== undefined && earlier.name === name) st = earlier;
    }
    if (st === undefined) return this.openFamily(name, pos, false);
    if (st.hasSamples && (this.om || kw === "TYPE")) {
      const what = this.om ? "HELP, TYPE and UNIT lines" : "the TYPE line";
      this.fail(pos, `# ${kw} for "${name}" comes after its samples; put ${what} before the family's first sample`);
    }
    return st;
  }

  setType(st: FamilyState, type: string, pos: number, namePos: number): void {
    const om = this.om;
    const kind = (om ? OM_TYPES : TEXT_TYPES).get(type);
    if (kind === undefined) {
      const known = om ? "counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown" : "counter, gauge, histogram, summary or untyped";
      const gauge = !om && /^gauge_?histogram$/i.test(type);
      const hint =
        om && type === "untyped"
          ? ' (OpenMetrics calls it "unknown")'
          : !om && type === "unknown"
            ? ' (the text format calls it "untyped")'
            : gauge
              ? " (the gateway does not store gauge histograms: push it as a histogram or as gauges)"
              : "";
      this.fail(pos, `unknown metric type "${type}"${hint}; use ${known}`);
    }
    if (st.hasUnit && st.unit !== "" && (kind === K_INFO || kind === K_STATESET)) {
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
    st.type = storedType(kind);
    if (om && kind === K_COUNTER) st.outName = `${st.name}_total`;
    if (kind === K_INFO) st.outName = `${st.name}_info`;
    if (kind === K_GAUGEHISTOGRAM) this.unsupported ??= st;
  }

  // ---- families -----------------------------------------------------------------------------

  openFamily(name: string, pos: number, bySample: boolean): FamilyState {
    const prev = this.used.get(name);
    if (prev !== undefined) {
      const type = kindName(prev.kind, this.om);
      if (bySample && (prev === this.cur || !this.om)) {
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
    const st: FamilyState = {
      outName: name,
      type: "untyped",
      help: "",
      unit: "",
      name,
      line: this.line,
      kind: K_UNTYPED,
      hasType: false,
      hasHelp: false,
      hasUnit: false,
      hasSamples: false,
      keys: [],
      values: [],
      count: 0,
      first: this.index.count,
      index: undefined,
      histograms: [],
      summaries: [],
      slots: [],
      bodyKeys: [],
      // Created when needed: most families have neither, and a body may have thousands of families.
      pending: undefined,
      groups: undefined,
      group: undefined,
      groupHasTs: false,
      groupTs: 0,
      lastName: "",
      lastNameAt: -1,
      lastRole: R_NONE,
    };
    this.used.set(name, st);
    this.states.push(st);
    this.index.open();
    this.cur = st;
    this.prevSlot = undefined;
    return st;
  }

  closeFamily(): void {
    const st = this.cur;
    if (st === undefined) return;
    this.cur = undefined;
    // A text-format family may come back later (see `reopen`): its series are checked at the end.
    if (this.om) for (const slot of st.slots) this.checkPoint(st, slot);
    if (st.count > 0 && st.index === undefined) {
      st.keys = this.scalarKeys.slice(0, st.count);
      st.values = this.scalarValues.slice(0, st.count);
    }
    const pending = st.pending;
    if (pending !== undefined && pending.size > 0) {
      st.keys = st.keys.filter((_, i) => !pending.has(i));
      st.values = st.values.filter((_, i) => !pending.has(i));
    }
  }

  /**
   * Makes an earlier family the open one again: in the text format a family's lines may be spread
   * over the body, and the Pushgateway's parser merges them (expfmt's "evil summary" case). The
   * family moves to a series index of its own the first time, so that its series stay findable,
   * duplicates included, however often the body switches between families.
   */
  reopen(st: FamilyState): FamilyState {
    this.closeFamily();
    st.index ??= this.index.extract(st.first, st.type === "histogram" || st.type === "summary" ? st.slots.length : st.count);
    this.cur = st;
    this.prevSlot = undefined;
    return st;
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
    let nameItems = NAME_NONE;

    if (c === LBRACE) {
      // {"name", labels...}: the quoted-name form Prometheus 3 uses for UTF-8 names. The text format
      // also allows the name after labels ({a="1", "name"}), as the Pushgateway's parser does.
      p = this.blanks(p + 1);
      const quoteAt = p;
      let nameFirst = false;
      name = "";
      if (s.charCodeAt(p) === QUOTE) {
        const quoted = this.quoted(p);
        const q = this.blanks(this.pos);
        c = s.charCodeAt(q);
        if (c !== EQ) {
          const problem = metricNameProblem(quoted);
          if (problem !== undefined) this.fail(quoteAt, problem);
          name = quoted;
          nameFirst = true;
          if (c === COMMA) hasLabels = afterComma = true;
          else if (c !== RBRACE) this.fail(q, `expected ',' or '}' after the quoted metric name, found ${this.describe(q)}`);
          p = q + 1;
          nameItems = NAME_TAKEN;
        } else if (om) {
          this.fail(quoteAt, `the sample has no metric name: ${JSON.stringify(quoted)} is followed by '=', so it is a label name; put the metric name before '{' or first inside the braces`);
        }
      } else if (om) {
        this.fail(p, `expected the metric name as a quoted string after '{', found ${this.describe(p)}; a sample needs a metric name`);
      }
      if (!nameFirst) {
        // Look for the name among the labels: this scan also reports anything wrong with them.
        this.nameItemAt = -1;
        this.labels(p, this.nameScan, false, "", NAME_SKIP);
        if (this.nameItemAt < 0) {
          this.fail(nameStart, `the sample has no metric name: write it before '{' or quote it inside the braces, e.g. {"my.metric",label="value"} 1`);
        }
        name = this.metricName(this.nameItemAt, "");
        hasLabels = true;
        nameItems = NAME_SKIP;
      }
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
      if (cur !== undefined && role !== R_NONE) {
        st = cur;
      } else {
        // The text format merges a family's lines wherever they are (see `reopen`).
        const earlier = om ? undefined : this.used.get(name);
        const earlierRole = earlier === undefined || earlier === cur ? R_NONE : roleOf(earlier, name, om);
        if (earlier !== undefined && earlierRole !== R_NONE) {
          st = this.reopen(earlier);
          role = earlierRole;
        } else {
          st = this.openFamily(name, nameStart, true);
          role = R_VALUE;
        }
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
      this.labelsAt = p;
      p = this.labels(p, lab, afterComma, special, nameItems);
    } else {
      this.labelsAt = -1;
      lab.reset();
    }

    // Separator, value, timestamp, exemplar.
    c = s.charCodeAt(p);
    if (om) {
      if (c !== SP) this.fail(p, p >= len || c === LF ? `expected a space and the sample value` : `expected a space before the sample value, found ${this.describe(p)}`);
      p++;
    } else if (this.isBlank(c)) {
      p = this.blanks(p);
    } else if (p >= len || c === LF) {
      this.fail(p, `expected a blank and the sample value`);
    } else if (!hasLabels && s.charCodeAt(nameStart) !== LBRACE) {
      this.fail(p, `expected a blank before the sample value, found ${this.describe(p)}`);
    }
    // (In the text format the value may follow '}' directly: `a{b="c"}1`, as the Pushgateway reads it.)
    const valueAt = p;
    // Plain decimals (most values) are read here in one pass; the rest by tokenEnd and parseNumber.
    let mantissa = 0;
    let digits = 0;
    let scale = 0;
    for (c = s.charCodeAt(p); c >= ZERO && c <= NINE; c = s.charCodeAt(++p)) {
      mantissa = mantissa * 10 + (c - ZERO);
      digits++;
    }
    if (c === DOT) {
      for (c = s.charCodeAt(++p); c >= ZERO && c <= NINE; c = s.charCodeAt(++p)) {
        mantissa = mantissa * 10 + (c - ZERO);
        digits++;
        scale--;
      }
    }
    let value: number;
    // As in parseNumber: up to 15 significant digits and a power of ten up to 1e22 divide exactly.
    if (digits > 0 && mantissa <= 999_999_999_999_999 && scale >= -22 && (p >= len || c === SP || c === LF || (!om && (c === TAB || c === CR)))) {
      value = scale < 0 ? mantissa / (POW10[-scale] ?? 1) : mantissa;
    } else {
      p = this.tokenEnd(valueAt);
      if (p === valueAt) this.fail(p, om && s.charCodeAt(p) === SP ? "expected the sample value, found a second space (OpenMetrics separates with exactly one space)" : "expected the sample value");
      const parsed = parseNumber(s, valueAt, p);
      if (parsed === undefined) {
        this.fail(valueAt, `invalid sample value "${s.slice(valueAt, p)}"; write a decimal number such as 42, -1.5 or 2e-3, or NaN, +Inf, -Inf`);
      }
      value = parsed;
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
   * duplicates, notes where the label named `special` is, and whether the text is already the
   * canonical key (`lab.plain`, `lab.sorted`). `nameItems` says what a quoted string that is not
   * followed by '=' is: an error (NAME_NONE), the metric name, skipped and its quote's position
   * left in `nameItemAt` (NAME_SKIP, once), or a second metric name (NAME_TAKEN).
   */
  labels(p: number, lab: LabelScan, afterComma: boolean, special: string, nameItems: number): number {
    const s = this.src;
    const len = this.len;
    const om = this.om;
    lab.reset();
    p = this.blanks(p);
    let c = s.charCodeAt(p);
    if (c === RBRACE && (!afterComma || !om)) return p + 1;
    let plain = true;
    let sorted = true;
    let sum = 0;
    // Whether every name so far is the cached one at its index (see `scanNames`).
    let cached = true;
    for (let i = 0; ; i++) {
      // Label name. A name the previous scans had at this index needs no checks and no hashing.
      const nameAt = p;
      let h = 0;
      let quotedName: string | undefined = undefined;
      if (c === QUOTE) {
        quotedName = this.quoted(p);
        p = this.pos;
        if (nameItems !== NAME_NONE) {
          // Followed by ',' or '}' rather than '=': the sample's metric name, which the text format
          // may put anywhere in the braces (`{a="1","my.metric"}`), as the Pushgateway reads it.
          const q = this.blanks(p);
          const d = s.charCodeAt(q);
          if (d === COMMA || d === RBRACE) {
            if (nameItems === NAME_TAKEN) {
              this.fail(nameAt, `${JSON.stringify(quotedName)} is a second metric name: a sample has one; a label is written "name"="value"`);
            }
            nameItems = NAME_TAKEN;
            this.nameItemAt = nameAt;
            // Neither the text between the labels nor the names' positions are the usual ones.
            plain = false;
            cached = false;
            this.scanNames = Math.min(this.scanNames, i);
            p = q;
            if (d === RBRACE) break;
            p = this.blanks(p + 1);
            c = s.charCodeAt(p);
            if (c === RBRACE && !om) break;
            i--;
            continue;
          }
        }
        const problem = labelNameProblem(quotedName);
        if (problem !== undefined) this.fail(nameAt, problem);
        // Even a legacy name differs from its quoted spelling.
        plain = false;
        cached = false;
      } else if (cached && i < this.scanNames && this.sameName(p, i)) {
        p += this.scanNameLen[i] ?? 0;
        h = this.scanNameHash[i] ?? 0;
      } else {
        h = this.seed;
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
        cached = false;
      }
      const nameEnd = p;
      const nameHash = h;
      h = Math.imul(h ^ NAME_END, FNV_PRIME);

      // '=' and the quoted value: a value with a backslash (or an unterminated one) is decoded.
      // Blanks, which the text format allows around them, are looked for only when needed.
      if (s.charCodeAt(p) !== EQ) {
        p = this.blanks(p);
        if (s.charCodeAt(p) !== EQ) this.fail(p, `expected '=' after label name "${this.labelName(lab, i, nameAt, nameEnd, quotedName)}", found ${this.describe(p)}`);
        plain = false;
      }
      p++;
      if (s.charCodeAt(p) !== QUOTE) {
        p = this.blanks(p);
        if (s.charCodeAt(p) !== QUOTE) {
          this.fail(p, `expected '"' to open the value of label "${this.labelName(lab, i, nameAt, nameEnd, quotedName)}", found ${this.describe(p)}; label values are double-quoted`);
        }
        plain = false;
      }
      const valueAt = p + 1;
      let q = valueAt;
      let decoded: string | undefined = undefined;
      for (;;) {
        c = q < len ? s.charCodeAt(q) : LF;
        if (c === QUOTE) break;
        if (c === BSLASH || c === LF) {
          this.oddEscape = false;
          // quoted() decodes from the opening quote and checks the rest of the value.
          decoded = this.quoted(p);
          // `\\`, `\"` and `\n` are also how the key escapes; any other backslash is kept, and doubled there.
          if (this.oddEscape) plain = false;
          const end = this.pos - 1;
          for (; q < end; q++) h = Math.imul(h ^ s.charCodeAt(q), FNV_PRIME);
          break;
        }
        if (isSurrogate(c) && isLoneSurrogate(s, q)) this.fail(q, loneSurrogateProblem(c));
        h = Math.imul(h ^ c, FNV_PRIME);
        q++;
      }
      const ph = mix(h);
      sum = (sum + ph) | 0;
      // An empty value is no label: the key leaves it out.
      if (q === valueAt) plain = false;
      lab.ns[i] = nameAt;
      lab.ne[i] = nameEnd;
      lab.nq[i] = quotedName;
      lab.vs[i] = valueAt;
      lab.ve[i] = q;
      lab.vq[i] = decoded;
      lab.ph[i] = ph;
      lab.n = i + 1;
      p = q + 1;

      if (special !== "" && (quotedName === undefined ? nameEnd - nameAt === special.length && rangeEquals(s, nameAt, special) : quotedName === special)) {
        lab.special = i;
      }
      if (cached) {
        // The same names as a scan that checked them: same order, no repeats.
        if (i > 0 && this.scanNameUp[i] !== true) sorted = false;
      } else {
        // Names in strictly ascending order (the usual case) cannot repeat; once out of order, look.
        const up = i === 0 || this.compareNames(lab, i - 1, i) < 0;
        if (i > 0 && (!sorted || !up)) {
          sorted = false;
          for (let k = 0; k < i; k++) {
            if (this.compareNames(lab, k, i) === 0) this.fail(nameAt, `label "${this.nameOf(lab, i)}" appears twice in the same series; keep one`);
          }
        }
        if (quotedName !== undefined) {
          // Not cached, nor anything after it in this scan: a cached name follows the cached ones.
          this.scanNames = Math.min(this.scanNames, i);
        } else if (this.scanNames >= i) {
          // Cached after the names before it, which this scan matched or cached; those cached
          // after it followed other names and no longer count.
          this.scanNameAt[i] = nameAt;
          this.scanNameLen[i] = nameEnd - nameAt;
          this.scanNameHash[i] = nameHash;
          this.scanNameUp[i] = up;
          this.scanNames = i + 1;
        }
        this.scanGeneration++;
      }

      // ',' or '}'. Blanks before '}' and a trailing comma are outside the key's text; others are not.
      c = s.charCodeAt(p);
      if (c === COMMA) {
        p++;
        c = s.charCodeAt(p);
        if (!isLabelChar(c) && c !== QUOTE) {
          p = this.blanks(p);
          if (p !== q + 2) plain = false;
          c = s.charCodeAt(p);
          if (c === RBRACE && !om) break;
        }
        continue;
      }
      if (c === RBRACE) break;
      p = this.blanks(p);
      c = s.charCodeAt(p);
      if (c === COMMA) {
        plain = false;
        p = this.blanks(p + 1);
        c = s.charCodeAt(p);
        if (c === RBRACE && !om) break;
        continue;
      }
      if (c === RBRACE) break;
      this.fail(p, `expected ',' or '}' after the value of label "${this.nameOf(lab, i)}", found ${this.describe(p)}`);
    }
    lab.plain = plain;
    lab.sorted = sorted;
    lab.hash = sum;
    lab.generation = cached ? this.scanGeneration : -1;
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

  valueEquals(lab: LabelScan, i: number, text: string): boolean {
    const q = lab.vq[i];
    if (q !== undefined) return q === text;
    const a = lab.vs[i] ?? 0;
    return (lab.ve[i] ?? 0) - a === text.length && rangeEquals(this.src, a, text);
  }

  // ---- label keys ---------------------------------------------------------------------------

  /**
   * The canonical key (see `labelKey`) of the scanned labels without index `skip` and without the
   * grouping labels: what tells the body's series apart. Plain, sorted labels (what clients write)
   * are their own key: one slice of the body. Plain but unsorted ones are slices put in order; only
   * others (quoted names, blanks, other escapes, empty values) are decoded and rendered again.
   */
  bodyKey(lab: LabelScan, skip: number): string {
    if (!lab.plain) return labelKey(this.materialize(lab, skip));
    if (lab.sorted) return this.sortedSlice(lab, skip);
    return this.plainKey(lab, skip, false);
  }

  /** The hash of `key`, `bodyKey(lab, skip)`: the scan's own when its pairs are written as in the key. */
  keyHash(lab: LabelScan, skip: number, key: string): number {
    if (!lab.plain) return hashKey(key, this.seed);
    return skip < 0 ? lab.hash : (lab.hash - (lab.ph[skip] ?? 0)) | 0;
  }

  /** Whether the label name at p is the one the previous scan had at index i (`scanName*`). */
  sameName(p: number, i: number): boolean {
    const n = this.scanNameLen[i] ?? 0;
    return sameText(this.src, p, this.scanNameAt[i] ?? 0, n) && !isLabelChar(this.src.charCodeAt(p + n));
  }

  /** The key a new series gets: `bodyKey` (already computed) with the grouping labels merged in. */
  seriesKey(lab: LabelScan, skip: number, bodyKey: string): string {
    return this.group.length === 0 ? bodyKey : this.groupedKey(lab, skip);
  }

  /** The key of the scanned labels without index `skip` and with the grouping labels; sets `replaced`. */
  groupedKey(lab: LabelScan, skip: number): string {
    if (lab.plain) return this.plainKey(lab, skip, true);
    const pairs = this.materialize(lab, skip);
    this.replaced = false;
    for (let i = 0; i < pairs.length; i += 2) {
      if (pairs[i + 1] !== "" && this.groupNames.includes(pairs[i] ?? "")) this.replaced = true;
    }
    return groupedLabelKey(pairs, this.group);
  }

  /** Plain, sorted labels without index `skip`: their text from the first name to the last value's quote. */
  sortedSlice(lab: LabelScan, skip: number): string {
    const s = this.src;
    const last = lab.n - 1;
    if (last < 0 || (last === 0 && skip === 0)) return "";
    const from = lab.ns[skip === 0 ? 1 : 0] ?? 0;
    const to = (lab.ve[skip === last ? last - 1 : last] ?? 0) + 1;
    if (skip <= 0 || skip >= last) return s.slice(from, to);
    // Skipped in the middle: the text before it (with its comma) and after it.
    return flat(s.slice(from, lab.ns[skip] ?? 0) + s.slice(lab.ns[skip + 1] ?? 0, to));
  }

  /**
   * Plain labels without index `skip`, sorted by name, and with `grouped` the grouping labels merged
   * in (replacing same-named ones), joined by commas. Pairs adjacent in the body are sliced together.
   */
  plainKey(lab: LabelScan, skip: number, grouped: boolean): string {
    const s = this.src;
    const order = this.order;
    let m = this.orderM;
    // The same names as the last series: the same order.
    if (lab.generation < 0 || lab.generation !== this.orderGeneration || lab.n !== this.orderN || skip !== this.orderSkip) {
      m = 0;
      for (let i = 0; i < lab.n; i++) if (i !== skip) order[m++] = i;
      if (!lab.sorted) {
        // Insertion sort: a handful of labels, often nearly in order.
        for (let k = 1; k < m; k++) {
          const x = order[k] ?? 0;
          let j = k - 1;
          for (; j >= 0 && this.compareNames(lab, order[j] ?? 0, x) > 0; j--) order[j + 1] = order[j] ?? 0;
          order[j + 1] = x;
        }
      }
      this.orderM = m;
      this.orderN = lab.n;
      this.orderGeneration = lab.generation;
      this.orderSkip = skip;
    }
    const names = grouped ? this.groupNames : [];
    const texts = this.groupText;
    let key = "";
    let g = 0;
    this.replaced = false;
    // The run of body text not yet added: [from, to), ending after label `prev`'s closing quote.
    let from = -1;
    let to = 0;
    let prev = -2;
    for (let k = 0; k < m; k++) {
      const i = order[k] ?? 0;
      const a = lab.ns[i] ?? 0;
      let replaced = false;
      while (g < names.length) {
        const d = compareToRange(names[g] ?? "", s, a, lab.ne[i] ?? 0);
        if (d > 0) break;
        if (from >= 0) key = joinKey(key, s.slice(from, to));
        from = -1;
        // An empty grouping value replaces the body's label, then is left out like any empty value.
        key = joinKey(key, texts[g] ?? "");
        g++;
        if (d === 0) {
          // Plain labels have no empty values: this one would have been in the key.
          replaced = this.replaced = true;
          break;
        }
      }
      if (replaced) continue;
      if (from < 0 || i !== prev + 1) {
        if (from >= 0) key = joinKey(key, s.slice(from, to));
        from = a;
      }
      to = (lab.ve[i] ?? 0) + 1;
      prev = i;
    }
    if (from >= 0) key = joinKey(key, s.slice(from, to));
    for (; g < names.length; g++) key = joinKey(key, texts[g] ?? "");
    return flat(key);
  }

  /**
   * The labels a series was first written with (at `at`, see `Slot.labelsAt`; `skipped` left out),
   * scanned again for an error message.
   */
  scanAgain(at: number, skipped: string): { text: string; count: number } {
    if (at < 0) return { text: "{}", count: 0 };
    const lab = new LabelScan();
    this.labels(at, lab, false, skipped, this.om ? NAME_TAKEN : NAME_SKIP);
    return { text: formatLabels(this.materialize(lab, skipped === "" ? -1 : lab.special)), count: lab.n };
  }

  slotText(slot: Slot): string {
    return this.scanAgain(slot.labelsAt, slot.skipped).text;
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
    p = this.labels(p + 1, lab, false, "", NAME_NONE);
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
    const grouped = this.group.length > 0;
    // A family with an index of its own (see `reopen`) keeps its keys and values in place.
    const series = st.index ?? this.index;
    const keys = st.index === undefined ? this.scalarKeys : st.keys;
    const values = st.index === undefined ? this.scalarValues : st.values;
    // The series' key, and what identifies it in the body: the same key, unless grouping labels
    // replaced a label of its own. Then two of the body's series may share a key, which `prepare`
    // rejects; the body's own key, kept in `bodyKeys`, tells whether this is one series twice.
    let key: string;
    let own = "";
    let at: number;
    if (!grouped) {
      key = this.bodyKey(lab, -1);
      at = series.find(this.keyHash(lab, -1, key), key, keys, undefined);
    } else {
      key = this.groupedKey(lab, -1);
      if (this.replaced) {
        own = this.bodyKey(lab, -1);
        at = series.find(this.keyHash(lab, -1, own), own, st.bodyKeys, undefined);
      } else {
        // The grouping only adds pairs: the key's hash is the body's plus theirs.
        const hash = (this.keyHash(lab, -1, lab.plain ? "" : this.bodyKey(lab, -1)) + this.groupHash) | 0;
        at = series.find(hash, key, keys, st.bodyKeys);
      }
    }
    const found = at < 0 ? -1 : series.index(at);
    let step = G_NEW;
    let isGroup = false;
    if (om) {
      if (role === R_STATE) {
        const group = this.bodyKey(lab, lab.special);
        const groups = (st.groups ??= new Set());
        const seen = groups.has(group);
        step = this.enterGroup(st, seen ? group : undefined, hasTs, ts, pos, tsAt, -1);
        st.group = group;
        groups.add(group);
      } else if (st.kind === K_INFO) {
        step = this.enterGroup(st, INFO_GROUP, hasTs, ts, pos, tsAt, -1);
        st.group = INFO_GROUP;
      } else {
        step = this.enterGroup(st, found < 0 ? undefined : found, hasTs, ts, pos, tsAt, -1);
        isGroup = true;
      }
    }
    if (found < 0) {
      const index = st.count++;
      series.add(at, this.labelsAt);
      // Overwritten where an earlier family left entries: the arrays grow once per parse.
      const seriesValue = role === R_CREATED ? NaN : value;
      if (index < keys.length) {
        keys[index] = key;
        values[index] = seriesValue;
      } else {
        keys.push(key);
        values.push(seriesValue);
      }
      if (grouped) st.bodyKeys.push(own);
      if (role === R_CREATED) (st.pending ??= new Set()).add(index);
      if (isGroup) st.group = index;
      return;
    }
    if (role === R_CREATED) return;
    if (st.pending !== undefined && st.pending.delete(found)) {
      values[found] = value;
      return;
    }
    // A series repeated with a later timestamp is a later point of it: keep the newest value.
    if (om && hasTs && step !== G_NEW) {
      values[found] = value;
      return;
    }
    const first = this.scanAgain(series.labelsAt[series.first + found] ?? -1, "");
    const hint = first.count !== lab.n ? " (a label with an empty value is the same as no label)" : "";
    this.fail(pos, `duplicate series ${name}${first.text}${hint}: it already has a sample in this body; send each series once`);
  }

  composite(st: FamilyState, role: number, value: number, hasTs: boolean, ts: number, pos: number, valueAt: number, tsAt: number): void {
    const om = this.om;
    const kind = st.kind;
    const lab = this.lab;
    const index = st.index ?? this.index;
    const skip = role === R_BUCKET || role === R_QUANTILE ? lab.special : -1;
    // Most samples continue the previous sample's series: compare with its labels in the body first.
    const prev = this.prevSlot;
    let key = "";
    let miss = -1;
    let slot: Slot | undefined;
    if (prev !== undefined && this.sameScan(lab, skip, this.prevLab, this.prevSkip)) {
      slot = prev;
    } else {
      key = this.bodyKey(lab, skip);
      miss = index.find(this.keyHash(lab, skip, key), key, st.bodyKeys, undefined);
      if (miss >= 0) slot = st.slots[index.index(miss)];
    }
    if (om) {
      const step = this.enterGroup(st, slot, hasTs, ts, pos, tsAt, skip);
      if (step === G_NEXT_POINT && slot !== undefined) {
        // A later point of the same series: the earlier one must be complete, the newest wins.
        this.checkPoint(st, slot);
        const point = slot.point;
        if ("bounds" in point) {
          point.bounds = [];
          point.counts = [];
        } else {
          point.quantiles = [];
          point.values = [];
        }
        point.sum = undefined;
        point.count = undefined;
        slot.negativeBucket = false;
        slot.negativeSum = false;
      }
    }
    if (slot === undefined) {
      let point: Histogram | Summary;
      if (kind === K_SUMMARY) {
        const summary: Summary = { quantiles: [], values: [], sum: undefined, count: undefined };
        st.summaries.push(summary);
        point = summary;
      } else {
        const histogram: Histogram = { bounds: [], counts: [], sum: undefined, count: undefined };
        st.histograms.push(histogram);
        point = histogram;
      }
      const skipped = skip < 0 ? "" : role === R_BUCKET ? "le" : "quantile";
      slot = { point, labelsAt: this.labelsAt, skipped, line: this.line, negativeBucket: false, negativeSum: false };
      index.add(miss, this.labelsAt);
      st.slots.push(slot);
      st.keys.push(this.seriesKey(lab, skip, key));
      st.bodyKeys.push(key);
      if (om) st.group = slot;
    }
    this.prevSlot = slot;
    this.prevSkip = skip;
    const series = slot.point;
    switch (role) {
      case R_BUCKET: {
        if (!("bounds" in series)) return;
        const le = this.specialNumber(pos, "le", "histogram bucket", 'le="0.5"');
        const at = lab.vs[lab.special] ?? pos;
        if (Number.isNaN(value) || value < 0) this.fail(valueAt, `bucket count ${value} is not a non-negative number`);
        const n = series.bounds.length;
        const lastBound = series.bounds[n - 1] ?? -Infinity;
        const lastCount = series.counts[n - 1] ?? 0;
        if (n > 0 && !(le > lastBound)) {
          const text = this.valueOf(lab, lab.special);
          this.fail(at, le === lastBound ? `bucket le="${text}" appears twice in series ${this.slotText(slot)}` : `bucket le="${text}" comes after le="${formatNumber(lastBound)}"; list buckets in ascending order of le`);
        }
        if (value < lastCount) this.fail(valueAt, `bucket count ${value} is less than the previous bucket's ${lastCount}; bucket counts are cumulative and never decrease`);
        if (le < 0) slot.negativeBucket = true;
        series.bounds.push(le);
        series.counts.push(value);
        return;
      }
      case R_QUANTILE: {
        if (!("quantiles" in series)) return;
        const q = this.specialNumber(pos, "quantile", "summary quantile", 'quantile="0.99"');
        const at = lab.vs[lab.special] ?? pos;
        if (!(q >= 0 && q <= 1)) this.fail(at, `quantile ${this.valueOf(lab, lab.special)} is outside [0, 1]`);
        if (om && value < 0) this.fail(valueAt, `quantile value ${value} is negative; OpenMetrics summary quantiles cannot be negative`);
        if (series.quantiles.includes(q)) this.fail(at, `quantile ${this.valueOf(lab, lab.special)} appears twice in series ${this.slotText(slot)}`);
        series.quantiles.push(q);
        series.values.push(value);
        return;
      }
      case R_SUM: {
        const sumName = kind === K_GAUGEHISTOGRAM ? "_gsum" : "_sum";
        if (series.sum !== undefined) this.fail(pos, `duplicate ${sumName} for series ${this.slotText(slot)}`);
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
        if (series.count !== undefined) this.fail(pos, `duplicate ${countName} for series ${this.slotText(slot)}`);
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

  /**
   * Checks a complete histogram point: the +Inf bucket, `_count`, and OpenMetrics' sum rules. A
   * text-format histogram without a +Inf bucket gets one equal to its `_count`, as the Pushgateway
   * exposes it (expfmt's writer adds it); without `_count` either, its total is unknown: an error.
   */
  checkPoint(st: FamilyState, slot: Slot): void {
    const series = slot.point;
    if (!("bounds" in series)) return;
    const om = this.om;
    let n = series.bounds.length;
    if (n === 0 || series.bounds[n - 1] !== Infinity) {
      const count = series.count;
      if (om || count === undefined) {
        const fix = om ? "" : ' (or at least a _count, which it then equals)';
        throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)} has no le="+Inf" bucket; every histogram needs one, equal to its count${fix}`);
      }
      const last = series.counts[n - 1] ?? 0;
      if (count < last) {
        throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)}: _count ${count} is less than the le="${formatNumber(series.bounds[n - 1] ?? 0)}" bucket's ${last}, so it cannot be the le="+Inf" bucket; bucket counts are cumulative`);
      }
      series.bounds.push(Infinity);
      series.counts.push(count);
      n++;
    }
    const inf = series.counts[n - 1] ?? 0;
    const gauge = st.kind === K_GAUGEHISTOGRAM;
    if (series.count !== undefined && series.count !== inf) {
      throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)}: ${gauge ? "_gcount" : "_count"} ${series.count} differs from the le="+Inf" bucket ${inf}; they must be equal`);
    }
    if (!om) return;
    const sumName = gauge ? "_gsum" : "_sum";
    const countName = gauge ? "_gcount" : "_count";
    if ((series.sum === undefined) !== (series.count === undefined)) {
      throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)} has ${series.sum === undefined ? countName : sumName} without ${series.sum === undefined ? sumName : countName}; OpenMetrics needs both or neither`);
    }
    if (!gauge && slot.negativeBucket && series.sum !== undefined) {
      throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)} has negative buckets and a _sum; OpenMetrics forbids _sum when buckets are negative`);
    }
    if (gauge && slot.negativeSum && !slot.negativeBucket) {
      throw parseError(slot.line, 1, `${this.seriesWhere(st, slot)} has a negative _gsum but no negative bucket`);
    }
  }

  /** `histogram "h" series {a="1"}`, for errors about a whole series (it scans its labels again). */
  seriesWhere(st: FamilyState, slot: Slot): string {
    return `${kindName(st.kind, this.om)} "${st.name}" series ${this.slotText(slot)}`;
  }
}

/** The family a parsed state holds, as output. */
function familyOf(st: FamilyState): Family {
  const { outName: name, help, unit, keys } = st;
  switch (st.type) {
    case "histogram":
      return { name, type: st.type, help, unit, keys, values: st.histograms };
    case "summary":
      return { name, type: st.type, help, unit, keys, values: st.summaries };
    default:
      return { name, type: st.type, help, unit, keys, values: st.values };
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

/** Whether `c` is a UTF-16 surrogate code unit (half of a pair, or alone). */
function isSurrogate(c: number): boolean {
  return (c & 0xf800) === 0xd800;
}

/**
 * Whether the surrogate at `i` has no partner: a high one not followed by a low one, or a low one
 * not preceded by a high one. Such text is not Unicode and cannot be written as UTF-8; it is what
 * a string from RPC can hold where an HTTP body would be rejected as invalid UTF-8.
 */
function isLoneSurrogate(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c <= 0xdbff) {
    const d = s.charCodeAt(i + 1);
    return !(d >= 0xdc00 && d <= 0xdfff);
  }
  const b = s.charCodeAt(i - 1);
  return !(b >= 0xd800 && b <= 0xdbff);
}

function loneSurrogateProblem(c: number): string {
  return `lone UTF-16 surrogate U+${c.toString(16).toUpperCase()}: the text is not valid Unicode and cannot be written as UTF-8; fix the string's encoding`;
}

/** The backslash at `i` and the character after it, quoted for an error message: `"\t"`. */
function escapeSequence(s: string, i: number): string {
  const cp = s.codePointAt(i + 1) ?? 0;
  return cp < 0x20 || cp === 0x7f ? `"\\" followed by U+${cp.toString(16).toUpperCase().padStart(4, "0")}` : `"\\${String.fromCodePoint(cp)}"`;
}
