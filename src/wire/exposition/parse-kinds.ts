/** Family kinds (the stored types plus OpenMetrics' own), the sample-name suffixes each owns, and what a sample is in its family. */

import type { MetricType } from "../../common/model";
import { UNDERSCORE } from "./parse-chars";

// Family kinds: the stored types plus the OpenMetrics-only ones, kept apart until output.
export const K_COUNTER = 0;
export const K_GAUGE = 1;
export const K_UNTYPED = 2;
export const K_HISTOGRAM = 3;
export const K_GAUGEHISTOGRAM = 4;
export const K_SUMMARY = 5;
export const K_INFO = 6;
export const K_STATESET = 7;

export const TEXT_TYPES = new Map([
  ["counter", K_COUNTER],
  ["gauge", K_GAUGE],
  ["histogram", K_HISTOGRAM],
  ["summary", K_SUMMARY],
  ["untyped", K_UNTYPED],
]);
export const OM_TYPES = new Map([
  ["counter", K_COUNTER],
  ["gauge", K_GAUGE],
  ["histogram", K_HISTOGRAM],
  ["gaugehistogram", K_GAUGEHISTOGRAM],
  ["summary", K_SUMMARY],
  ["info", K_INFO],
  ["stateset", K_STATESET],
  ["unknown", K_UNTYPED],
]);

export function storedType(kind: number): MetricType {
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

export function kindName(kind: number, om: boolean): string {
  for (const [name, k] of om ? OM_TYPES : TEXT_TYPES) if (k === kind) return name;
  return "untyped";
}

/** The sample-name suffixes a family of this kind owns, beyond its own name. */
export function suffixes(kind: number, om: boolean): readonly string[] {
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
export const R_NONE = 0;
/** The value of a gauge, untyped or text-format counter series. */
export const R_VALUE = 1;
/** An OpenMetrics counter's `_total`. */
export const R_TOTAL = 2;
export const R_CREATED = 3;
export const R_BUCKET = 4;
/** `_sum`, or a gaugehistogram's `_gsum`. */
export const R_SUM = 5;
/** `_count`, or a gaugehistogram's `_gcount`. */
export const R_COUNT = 6;
export const R_QUANTILE = 7;
export const R_STATE = 8;
export const R_INFO = 9;

export function roleOf(st: { readonly name: string; readonly kind: number }, name: string, om: boolean): number {
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
