/**
 * Renders stored families as Prometheus text 0.0.4 or OpenMetrics 1.0 exposition that every parser
 * of the format reads, whatever was stored: names escaped for the scraper, and series whose values
 * OpenMetrics cannot carry left out of OpenMetrics output (and counted).
 */
import { seriesColumns, type MetricType, type SeriesInput } from "../../common/model";
import { hasLabelName } from "../../common/labels";
import { isLegacyMetricName } from "../../common/names";
import { escapeHelp, escapeLabelValue } from "./escape";
import { type EscapingScheme, escapeKeyChecked, escapeMetricName } from "./escaping";
import { formatFloat, formatOpenMetricsFloat, formatSampleValue } from "./float";

export { formatFloat } from "./float";

export type { SeriesValue } from "../../common/model";

/** What the renderer needs of a family: its metadata and its series in output order. */
export interface FamilyView {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly unit: string;
  /** The series, already in output order: columns, or `[labelKey, value]` pairs. */
  readonly series: SeriesInput;
}

export const TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
export const OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/** What to render: the format, and how names outside the legacy charset are written. */
export interface RenderOptions {
  /** OpenMetrics 1.0 instead of text 0.0.4. */
  readonly openmetrics: boolean;
  /**
   * `allow-utf-8` quotes such names (`{"my.metric","k8s.pod"="x"} 1`: only Prometheus 3 reads
   * that); the other schemes escape them (see escaping.ts), which every parser reads.
   */
  readonly escaping: EscapingScheme;
}

/**
 * Why the renderer left a series out; a series is counted once, under the first reason found.
 * `malformed_value` applies to every format; the reasons marked "OpenMetrics only" to OpenMetrics
 * output only (text keeps such series: its parsers have no such rules); the `escaped_*` ones to
 * every format when names are escaped (never with `allow-utf-8`); `name_clash` is for callers of
 * {@link claimFamilyNames} / {@link clashingFamilies}, which count a left-out family's series.
 */
export type OmissionReason =
  /** The stored value does not fit the family's type (a number in a histogram, an array of the wrong length). */
  | "malformed_value"
  /** OpenMetrics only: a histogram's bounds are not strictly increasing, hold NaN or do not end with `+Inf`; or its bucket counts decrease; or its `_count` is not its `+Inf` bucket. */
  | "malformed_buckets"
  /** OpenMetrics only: a histogram with a negative bound (OpenMetrics forbids `_sum` then, and the gateway always holds one). */
  | "negative_bucket_with_sum"
  /** OpenMetrics only: a summary's `quantile` is NaN or outside [0, 1]. */
  | "quantile_out_of_range"
  /** OpenMetrics only: NaN in a counter, or in a histogram's or summary's `_sum`, `_count` or bucket count. */
  | "nan_counter_like"
  /** OpenMetrics only: a negative counter, `_sum`, `_count` or bucket count (the untyped and gauge values may be negative). */
  | "negative_counter_like"
  /** OpenMetrics only: a `_count` or bucket count that is not an integer (`+Inf` included). */
  | "non_integer_count"
  /** OpenMetrics only: a negative summary quantile value (NaN is allowed). */
  | "negative_quantile_value"
  /** Escaped names: two label names of the series escape to the same name (`a.b` and `a_b` with `underscores`). */
  | "escaped_label_clash"
  /** Escaped names: a label name escapes to `__name__` (`..name__` with `underscores`). */
  | "escaped_reserved_label"
  /** Escaped names: the series' escaped labels equal another series' in the family (`{"a.b"="1"}` and `{a_b="1"}`); the one that needed no escaping is kept, else the first. */
  | "escaped_series_clash"
  /** The family's names (escaped, with their suffixes) collide with an earlier family's: see {@link claimFamilyNames}. */
  | "name_clash"
  /** A histogram series with an `le` label or a summary series with a `quantile` label (pushes refuse them; stored before they did): every line would carry it twice. */
  | "bucket_label";

/** Series left out, counted by reason; the renderer adds to what is there. */
export type Omitted = { [R in OmissionReason]?: number };

const TEXT: RenderOptions = { openmetrics: false, escaping: "allow-utf-8" };
const OPENMETRICS: RenderOptions = { openmetrics: true, escaping: "allow-utf-8" };

/** The boolean form of the API means UTF-8 names quoted, as the renderer always wrote them. */
function toOptions(options: boolean | RenderOptions): RenderOptions {
  if (typeof options !== "boolean") return options;
  return options ? OPENMETRICS : TEXT;
}

/**
 * One family as exposition text, HELP and TYPE lines first, each line ending in `\n`.
 * Histograms are packed `[sum, count, bound0..boundN, count0..countN]` (cumulative counts);
 * summaries `[sum, count, q0..qN, value0..valueN]`. With a boolean, UTF-8 names are quoted
 * (`{ openmetrics, escaping: "allow-utf-8" }`).
 *
 * @example
 * renderFamily({ name: "k8s.pods", type: "gauge", help: "", unit: "", series: [['"k8s.ns"="a"', 3]] },
 *   { openmetrics: false, escaping: "underscores" });
 * // '# HELP k8s_pods \n# TYPE k8s_pods gauge\nk8s_pods{k8s_ns="a"} 3\n'
 */
export function renderFamily(family: FamilyView, openmetrics: boolean): string;
export function renderFamily(family: FamilyView, options: RenderOptions, omitted?: Omitted): string;
export function renderFamily(family: FamilyView, options: boolean | RenderOptions, omitted?: Omitted): string {
  const o = toOptions(options);
  return renderHeader(family, o) + renderSeries(family, o, omitted);
}

/** A family's exposed name, and in OpenMetrics the name of its counter samples. */
interface Names {
  /** The family name of HELP/TYPE/UNIT lines (an OpenMetrics counter's without `_total`). */
  base: string;
  /** The sample name of counters, gauges and untyped. */
  sample: string;
}

/**
 * Escaped first, as prometheus/common escapes the family before its encoders add suffixes: a
 * counter `a.b_total` is `U__a_2e_b__total` in text and the same samples in OpenMetrics.
 */
function exposedNames(family: Pick<FamilyView, "name" | "type">, o: RenderOptions): Names {
  const name = escapeMetricName(family.name, o.escaping);
  if (!o.openmetrics || family.type !== "counter") return { base: name, sample: name };
  // A counter named just `_total` keeps its name as the family's: an empty family name is no name.
  const base = name.endsWith("_total") && name.length > 6 ? name.slice(0, -6) : name;
  return { base, sample: `${base}_total` };
}

/** A name as HELP/TYPE/UNIT lines write it: quoted unless legacy. */
function shownName(name: string): string {
  return isLegacyMetricName(name) ? name : `"${escapeLabelValue(name)}"`;
}

/**
 * The HELP, TYPE (and in OpenMetrics, UNIT) lines of a family. HELP is always written (empty text
 * too, as `# HELP name ` with its space, which OpenMetrics requires). UNIT is written only when it
 * is a valid unit that suffixes the family name, as OpenMetrics requires; otherwise it is left out
 * (the samples are not).
 *
 * @example renderHeader({ name: "up", type: "untyped", help: "a\\b", unit: "" }, { openmetrics: true, escaping: "underscores" })
 * // '# HELP up a\\\\b\n# TYPE up unknown\n'
 */
export function renderHeader(family: Omit<FamilyView, "series">, openmetrics: boolean): string;
export function renderHeader(family: Omit<FamilyView, "series">, options: RenderOptions): string;
export function renderHeader(family: Omit<FamilyView, "series">, options: boolean | RenderOptions): string {
  const o = toOptions(options);
  const { base } = exposedNames(family, o);
  const typeWord = o.openmetrics && family.type === "untyped" ? "unknown" : family.type;
  const shown = shownName(base);
  let out = `# HELP ${shown} ${escapeHelp(family.help, o.openmetrics)}\n# TYPE ${shown} ${typeWord}\n`;
  if (o.openmetrics && unitFits(base, family.unit)) out += `# UNIT ${shown} ${family.unit}\n`;
  return out;
}

const UNIT = /^[a-zA-Z0-9_:]+$/;

/** OpenMetrics: a unit is metric-name characters and the family name must end in `_<unit>`. */
function unitFits(base: string, unit: string): boolean {
  return unit !== "" && UNIT.test(unit) && base.endsWith(`_${unit}`);
}

/**
 * The sample lines of a family's series, in the order given. With `options`, series are left
 * out as {@link OmissionReason} says and counted in `omitted` (when given).
 *
 * @example
 * const omitted: Omitted = {};
 * renderSeries({ name: "jobs_total", type: "counter", help: "", unit: "", series: [["", 3], ['a="x"', -1]] },
 *   { openmetrics: true, escaping: "underscores" }, omitted);
 * // 'jobs_total 3\n', omitted = { negative_counter_like: 1 }
 */
export function renderSeries(family: FamilyView, openmetrics: boolean): string;
export function renderSeries(family: FamilyView, options: RenderOptions, omitted?: Omitted): string;
export function renderSeries(family: FamilyView, options: boolean | RenderOptions, omitted?: Omitted): string {
  let out = "";
  for (const part of renderSeriesParts(family, toOptions(options), omitted, Infinity)) out += part;
  return out;
}

/**
 * {@link renderSeries} in parts of at most `slice` series each, the lines of series whose keys
 * escaping changed last: the same text, escaping clashes checked across every series given, and
 * no string longer than a slice's lines (a long one lands in V8's large-object space).
 */
export function* renderSeriesParts(family: FamilyView, o: RenderOptions, omitted: Omitted | undefined, slice: number): Generator<string> {
  const om = o.openmetrics;
  const { type } = family;
  const { base, sample } = exposedNames(family, o);
  const keys = o.escaping === "allow-utf-8" ? undefined : new EscapedKeys(o.escaping);
  const omit = (reason: OmissionReason): void => {
    if (omitted !== undefined) omitted[reason] = (omitted[reason] ?? 0) + 1;
  };
  const { keys: labelKeys, values, from, to } = seriesColumns(family.series);
  const histogram = type === "histogram";
  const packed = histogram || type === "summary";
  const points = start(histogram ? `${base}_bucket` : base);
  const sum = start(`${base}_sum`);
  const count = start(`${base}_count`);
  const extra = histogram ? 'le="' : 'quantile="';
  const s = start(sample);
  const counter = om && type === "counter";
  for (let first = from; first < to; first += slice) {
    const last = Math.min(to, first + slice);
    let out = "";
    for (let row = first; row < last; row++) {
      const key = labelKeys[row] ?? "";
      const value = values[row] ?? NaN;
      if (packed) {
        if (typeof value === "number" || value.length < 2 || (value.length & 1) !== 0) {
          omit("malformed_value");
          continue;
        }
        if (hasLabelName(key, histogram ? "le" : "quantile")) {
          omit("bucket_label");
          continue;
        }
        const n = (value.length - 2) >> 1;
        if (om) {
          const problem = histogram ? histogramProblem(value, n) : summaryProblem(value, n);
          if (problem !== undefined) {
            omit(problem);
            continue;
          }
        }
        const k = keys === undefined ? key : keys.take(key);
        if (typeof k !== "string") {
          omit(k.reason);
          continue;
        }
        const open = k === "" ? points.open : `${points.open}${k},`;
        let lines = "";
        for (let i = 0; i < n; i++) {
          const at = value[2 + i] ?? NaN;
          // Text keeps the form it always had (Prometheus 2 stores `le` as written, so a change would
          // split series); OpenMetrics requires the canonical form (`1.0`, `+Inf`).
          lines += `${open}${extra}${om ? formatOpenMetricsFloat(at) : formatFloat(at)}"} ${formatSampleValue(value[2 + n + i] ?? NaN, om)}\n`;
        }
        lines += `${line(sum, k)} ${formatSampleValue(value[0] ?? NaN, om)}\n`;
        lines += `${line(count, k)} ${formatSampleValue(value[1] ?? NaN, om)}\n`;
        if (k === key) out += lines;
        else keys?.defer(k, lines);
      } else {
        if (typeof value !== "number") {
          omit("malformed_value");
          continue;
        }
        if (counter && !(value >= 0)) {
          omit(value !== value ? "nan_counter_like" : "negative_counter_like");
          continue;
        }
        const k = keys === undefined ? key : keys.take(key);
        if (typeof k !== "string") {
          omit(k.reason);
          continue;
        }
        if (k === key) out += `${line(s, k)} ${formatSampleValue(value, om)}\n`;
        else keys?.defer(k, `${line(s, k)} ${formatSampleValue(value, om)}\n`);
      }
    }
    if (out !== "") yield out;
  }
  const deferred = keys === undefined ? [] : keys.finish(omit);
  for (let i = 0; i < deferred.length; i += slice) yield deferred.slice(i, i + slice).join("");
}

/** How a sample name starts a line: `name{` / `name`, or for a quoted name `{"my.name",` / `{"my.name"}`. */
interface SampleStart {
  /** Followed by the labels and `}`. */
  open: string;
  /** The whole name part of a sample without labels. */
  bare: string;
}

function start(name: string): SampleStart {
  if (isLegacyMetricName(name)) return { open: `${name}{`, bare: name };
  const quoted = `{"${escapeLabelValue(name)}"`;
  return { open: `${quoted},`, bare: `${quoted}}` };
}

/** A sample's name and labels: `name`, `name{a="b"}`, `{"my.name"}` or `{"my.name",a="b"}`. */
function line(s: SampleStart, key: string): string {
  return key === "" ? s.bare : `${s.open}${key}}`;
}

/** Why OpenMetrics cannot carry a histogram series (the checks OpenMetrics parsers make), if it cannot. */
function histogramProblem(v: Float64Array, n: number): OmissionReason | undefined {
  if (n === 0 || v[1 + n] !== Infinity) return "malformed_buckets";
  let negative = false;
  for (let i = 0; i < n; i++) {
    const b = v[2 + i] ?? NaN;
    if (b !== b || (i > 0 && b <= (v[1 + i] ?? NaN))) return "malformed_buckets";
    if (b < 0) negative = true;
  }
  if (negative) return "negative_bucket_with_sum";
  const sum = v[0] ?? NaN;
  const count = v[1] ?? NaN;
  let problem = counterLike(sum, false) ?? counterLike(count, true);
  let previous = 0;
  for (let i = 0; i < n && problem === undefined; i++) {
    const c = v[2 + n + i] ?? NaN;
    problem = counterLike(c, true);
    if (problem === undefined && c < previous) return "malformed_buckets";
    previous = c;
  }
  if (problem !== undefined) return problem;
  return count === previous ? undefined : "malformed_buckets";
}

/** Why OpenMetrics cannot carry a summary series, if it cannot. */
function summaryProblem(v: Float64Array, n: number): OmissionReason | undefined {
  for (let i = 0; i < n; i++) {
    const q = v[2 + i] ?? NaN;
    if (!(q >= 0 && q <= 1)) return "quantile_out_of_range";
  }
  const problem = counterLike(v[0] ?? NaN, false) ?? counterLike(v[1] ?? NaN, true);
  if (problem !== undefined) return problem;
  for (let i = 0; i < n; i++) if ((v[2 + n + i] ?? NaN) < 0) return "negative_quantile_value";
  return undefined;
}

/** A `_sum`, `_count` or bucket count: never NaN or negative; counts are integers. */
function counterLike(x: number, count: boolean): OmissionReason | undefined {
  if (x !== x) return "nan_counter_like";
  if (x < 0) return "negative_counter_like";
  if (count && !Number.isInteger(x)) return "non_integer_count";
  return undefined;
}

const SERIES_CLASH = { reason: "escaped_series_clash" } as const;

/**
 * Escapes a family's label keys and keeps the escaped label sets distinct, cheaply: a key with
 * nothing to escape (nearly all) is only remembered in an array; a series whose key was escaped
 * is rendered after the others (its labels no longer sort where its key did anyway), once it is
 * known that no unescaped key equals its escaped one. Between an unescaped series and an escaped
 * one with the same labels, the unescaped one is kept; between escaped ones, the first.
 */
class EscapedKeys {
  readonly #scheme: EscapingScheme;
  readonly #plain: string[] = [];
  readonly #escaped: string[] = [];
  readonly #lines: string[] = [];
  readonly #seen = new Set<string>();

  constructor(scheme: EscapingScheme) {
    this.#scheme = scheme;
  }

  /** `key` itself (write the series now), its escaped form (write it with `defer`), or why to leave the series out. */
  take(key: string): string | { readonly reason: OmissionReason } {
    const escaped = escapeKeyChecked(key, this.#scheme);
    if (typeof escaped !== "string") return escaped;
    if (escaped === key) {
      this.#plain.push(key);
      return key;
    }
    if (this.#seen.has(escaped)) return SERIES_CLASH;
    this.#seen.add(escaped);
    return escaped;
  }

  /** Holds the lines of a series whose key `take` escaped. */
  defer(escaped: string, lines: string): void {
    this.#escaped.push(escaped);
    this.#lines.push(lines);
  }

  /** The held lines (each series' own), less those of series an unescaped key equals (counted with `omit`). */
  finish(omit: (reason: OmissionReason) => void): string[] {
    if (this.#escaped.length === 0) return [];
    const taken = new Set<string>();
    for (const key of this.#plain) if (this.#seen.has(key)) taken.add(key);
    const out: string[] = [];
    for (let i = 0; i < this.#escaped.length; i++) {
      if (taken.has(this.#escaped[i] ?? "")) omit("escaped_series_clash");
      else out.push(this.#lines[i] ?? "");
    }
    return out;
  }
}

/**
 * Claims the names a family's lines use once rendered with `options` in `claimed`, or returns
 * false (claiming nothing) when one is already claimed: then the two families cannot both be in
 * one scrape, and the caller leaves this one out (counting its series as `name_clash`). Call it
 * for every family of a scrape, in output order, before rendering it.
 *
 * The names are what the parsers tie to a family: in text, the name plus `_bucket`/`_sum`/`_count`
 * for histograms and `_sum`/`_count` for summaries (promtool reads a later `foo_count` family's
 * HELP as a second HELP of histogram `foo`); in OpenMetrics also `_total` and `_created` (the
 * OpenMetrics parsers' "clashing name"). Families that escape to the same name (`a.b` and `a_b`
 * with `underscores`) always clash.
 *
 * @example
 * const claimed = new Set<string>();
 * claimFamilyNames({ name: "a_b", type: "gauge" }, { openmetrics: false, escaping: "underscores" }, claimed); // true
 * claimFamilyNames({ name: "a.b", type: "gauge" }, { openmetrics: false, escaping: "underscores" }, claimed); // false
 */
export function claimFamilyNames(family: Pick<FamilyView, "name" | "type">, options: RenderOptions, claimed: Set<string>): boolean {
  const { base } = exposedNames(family, options);
  const suffixes = familySuffixes(family.type, options.openmetrics);
  for (const s of suffixes) if (claimed.has(base + s)) return false;
  for (const s of suffixes) claimed.add(base + s);
  return true;
}

/**
 * The names of the families to leave out of a scrape rendered with `options` because their names
 * clash ({@link claimFamilyNames}): families whose name needs no escaping claim first, so an
 * escaped family never pushes out one exposed under its own name; then the escaped ones. Each
 * group claims in the order given (the scrape's order, by name).
 *
 * @example
 * clashingFamilies([{ name: "a.b", type: "gauge" }, { name: "a_b", type: "gauge" }], { openmetrics: false, escaping: "underscores" });
 * // Set { "a.b" }
 */
export function clashingFamilies(families: Iterable<Pick<FamilyView, "name" | "type">>, options: RenderOptions): Set<string> {
  const claimed = new Set<string>();
  const out = new Set<string>();
  const escaped: Pick<FamilyView, "name" | "type">[] = [];
  for (const f of families) {
    if (escapeMetricName(f.name, options.escaping) !== f.name) escaped.push(f);
    else if (!claimFamilyNames(f, options, claimed)) out.add(f.name);
  }
  for (const f of escaped) if (!claimFamilyNames(f, options, claimed)) out.add(f.name);
  return out;
}

function familySuffixes(type: MetricType, openmetrics: boolean): readonly string[] {
  if (type === "histogram") return openmetrics ? ["", "_bucket", "_sum", "_count", "_created"] : ["", "_bucket", "_sum", "_count"];
  if (type === "summary") return openmetrics ? ["", "_sum", "_count", "_created"] : ["", "_sum", "_count"];
  if (type === "counter" && openmetrics) return ["", "_total", "_created"];
  return [""];
}
