/**
 * The data model shared by the wire formats, the merge rules and the store.
 *
 * A family is what a `# TYPE` line introduces; a series is one label set in it, identified by its
 * canonical label key (see `labelKey` in labels.ts): the key is what merging and storage use, and
 * the text parser can usually take it straight from the body as one slice, instead of allocating a
 * string per label and rendering them again. A family holds its series as two parallel columns,
 * `keys` and `values`, rather than an object per series: for counters, gauges and untyped metrics
 * an object per number was most of what a parse allocated (and the garbage collector then copied).
 */

/** A series' stored value: a number for counters, gauges and untyped; packed arrays otherwise (see {@link Histogram}). */
export type SeriesValue = number | Float64Array;

/** Metric types the gateway stores. OpenMetrics `unknown` is stored as `untyped`. */
export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

/** Flat label pairs: `[name0, value0, name1, value1, ...]`, unescaped values. */
export type LabelPairs = string[];

/**
 * A canonical label key, exactly as `labelKey` renders it: pairs sorted by name, empty values left
 * out, `a="x",b="y\"z"` (`""` for no labels). Histogram keys exclude `le`, summary keys `quantile`.
 */
export type LabelKey = string;

/**
 * A classic histogram series' value: cumulative bucket counts for ascending upper bounds.
 * `bounds` ends with `+Inf`; `counts[i]` is the count for `le=bounds[i]`.
 * `sum` and `count` are `undefined` when the body had no `_sum` / `_count` sample
 * (OpenMetrics allows both to be absent).
 */
export interface Histogram {
  bounds: number[];
  counts: number[];
  sum: number | undefined;
  count: number | undefined;
}

/** A summary series' value: quantile values plus `_sum` / `_count` (either may be absent in a body). */
export interface Summary {
  quantiles: number[];
  values: number[];
  sum: number | undefined;
  count: number | undefined;
}

/** What every family has, whatever its type. */
interface FamilyInfo {
  /**
   * The name series are stored and exposed under in the text format: for a text 0.0.4 counter
   * that is the name as written (`foo` or `foo_total`); for an OpenMetrics counter `foo` (samples
   * `foo_total`) it is `foo_total`, the name Prometheus itself stores for it.
   */
  name: string;
  /** Unescaped HELP text, "" when none was given. */
  help: string;
  /** OpenMetrics UNIT, "" when none was given. */
  unit: string;
  /** The series' canonical label keys, in body order; `values[i]` is series `keys[i]`'s value. */
  keys: LabelKey[];
  /**
   * True when whoever built the family proved its keys distinct (the text parser does, unless a
   * grouping label replaced a series' own label); anything that rewrites keys must clear it.
   * Absent: `prepare` checks for duplicates itself.
   */
  unique?: boolean;
}

/** A counter, gauge or untyped family: one number per series. */
export interface ScalarFamily extends FamilyInfo {
  type: "counter" | "gauge" | "untyped";
  values: number[];
}

/** A histogram family. */
export interface HistogramFamily extends FamilyInfo {
  type: "histogram";
  values: Histogram[];
}

/** A summary family. */
export interface SummaryFamily extends FamilyInfo {
  type: "summary";
  values: Summary[];
}

/** One metric family as pushed: its series as parallel `keys` and `values`. */
export type Family = ScalarFamily | HistogramFamily | SummaryFamily;

/**
 * Series as columns, the form reads hand them on in: series `i` (`from <= i < to`) is `keys[i]` with
 * `values[i]`. A `[key, value]` array per series was the largest part of what a big scrape allocated
 * (and the garbage collector then had to clear), where a shard's page already holds columns.
 */
export interface SeriesColumns {
  readonly keys: readonly string[];
  readonly values: ArrayLike<SeriesValue>;
  readonly from: number;
  readonly to: number;
}

/** Series as a renderer or encoder takes them: columns, or `[key, value, ...]` entries. */
export type SeriesInput = SeriesColumns | Iterable<readonly [labelKey: string, value: SeriesValue, ...rest: unknown[]]>;

/** `series` as columns (entries are copied into two arrays; columns are taken as they are). */
export function seriesColumns(series: SeriesInput): SeriesColumns {
  if ("to" in series && typeof series.to === "number") return series;
  const keys: string[] = [];
  const values: SeriesValue[] = [];
  for (const [key, value] of series as Iterable<readonly [string, SeriesValue]>) {
    keys.push(key);
    values.push(value);
  }
  return { keys, values, from: 0, to: keys.length };
}
