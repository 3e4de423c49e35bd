/**
 * The data model shared by the wire formats, the merge rules and the store.
 *
 * A family is what a `# TYPE` line introduces; a series is one label set in it.
 * Labels are kept as a flat array `[name0, value0, name1, value1, ...]` so that parsing
 * allocates one array per series instead of one object per label.
 */

/** Metric types the gateway stores. OpenMetrics `unknown` is stored as `untyped`. */
export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

/** Flat label pairs: `[name0, value0, name1, value1, ...]`, unescaped values. */
export type LabelPairs = string[];

/** A counter, gauge or untyped sample. */
export interface ScalarSeries {
  kind: "scalar";
  labels: LabelPairs;
  value: number;
}

/**
 * A classic histogram: cumulative bucket counts for ascending upper bounds.
 * `bounds` ends with `+Inf`; `counts[i]` is the count for `le=bounds[i]`.
 * `sum` and `count` are `undefined` when the body had no `_sum` / `_count` sample
 * (OpenMetrics allows both to be absent).
 */
export interface HistogramSeries {
  kind: "histogram";
  labels: LabelPairs;
  bounds: number[];
  counts: number[];
  sum: number | undefined;
  count: number | undefined;
}

/** A summary: quantile values plus `_sum` / `_count` (either may be absent in a body). */
export interface SummarySeries {
  kind: "summary";
  labels: LabelPairs;
  quantiles: number[];
  values: number[];
  sum: number | undefined;
  count: number | undefined;
}

export type Series = ScalarSeries | HistogramSeries | SummarySeries;

/**
 * One metric family as pushed.
 *
 * `name` is the name series are stored and exposed under in the text format:
 * for a text 0.0.4 counter that is the name as written (`foo` or `foo_total`);
 * for an OpenMetrics counter `foo` (samples `foo_total`) it is `foo_total`, the name
 * Prometheus itself stores for it.
 */
export interface Family {
  name: string;
  type: MetricType;
  /** Unescaped HELP text, "" when none was given. */
  help: string;
  /** OpenMetrics UNIT, "" when none was given. */
  unit: string;
  series: Series[];
}
