/**
 * The aggregation rules, as pure functions: turn a parsed push into keyed series values, then fold
 * them onto what is stored (counters and untyped summed, gauges replaced, histograms summed bucket
 * by bucket, summaries' sum and count summed with quantiles replaced).
 */
import { GatewayError } from "../common/errors";
import type { SeriesValue } from "../wire/exposition/format";
import type { Family, MetricType } from "../common/model";

/** One family of a push, ready to apply: label keys checked, values packed. */
export interface PreparedFamily {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  /** Label keys (see `labelKey`), parallel to `values`. */
  keys: string[];
  values: SeriesValue[];
}

/** Prefix of the gateway's own metrics; pushes may not use it. */
export const SELF_PREFIX = "metrics_gateway_";

/**
 * Packs every series of a parsed push under its key, checking what needs no stored state: reserved
 * names, duplicate label keys, counter values, histogram `_sum` / `_count` presence.
 * Throws a {@link GatewayError} naming the family and series at fault. A counter, gauge or untyped
 * family's columns are used as they are, not copied.
 */
export function prepare(families: readonly Family[]): PreparedFamily[] {
  const out: PreparedFamily[] = [];
  for (const family of families) {
    checkNotReserved(family.name);
    const keys = family.keys;
    // The text parser rejects duplicate series itself, but protobuf bodies and grouping labels
    // (which replace same-named labels of the body) can still map two series to one key.
    const seen = new Set<string>();
    let values: SeriesValue[];
    switch (family.type) {
      case "histogram":
        values = family.values.map((h, i) => {
          checkNew(family, seen, i);
          if (h.sum === undefined) {
            throw new GatewayError("InvalidValue", `${where(family, i)}: histogram has no _sum sample; the gateway needs _sum to aggregate, add it`);
          }
          return packArrays(h.sum, h.count ?? h.counts[h.counts.length - 1] ?? 0, h.bounds, h.counts);
        });
        break;
      case "summary":
        values = family.values.map((v, i) => {
          checkNew(family, seen, i);
          if (v.sum === undefined || v.count === undefined) {
            throw new GatewayError("InvalidValue", `${where(family, i)}: summary needs both _sum and _count samples to aggregate; add them`);
          }
          return packArrays(v.sum, v.count, v.quantiles, v.values);
        });
        break;
      default: {
        const numbers = family.values;
        for (let i = 0; i < keys.length; i++) {
          checkNew(family, seen, i);
          const value = numbers[i] ?? NaN;
          if (family.type === "counter" && !(value >= 0 && value !== Infinity)) {
            throw new GatewayError(
              "InvalidValue",
              `${where(family, i)}: counter value ${value} is not a finite number >= 0; counters only go up (use a gauge for values that go down)`,
            );
          }
        }
        values = numbers;
      }
    }
    out.push({ name: family.name, type: family.type, help: family.help, unit: family.unit, keys, values });
  }
  return out;
}

/**
 * The longest label set (rendered key) a series may have. A series is one SQLite row, and a row over
 * SQLite's size limit would fail the whole storage write; no real label set comes near this.
 */
export const MAX_KEY_CHARS = 65_536;

/**
 * Adds series `i`'s key to `seen`, throwing if it is there already (one Set insertion per series),
 * or if it is longer than {@link MAX_KEY_CHARS}.
 */
function checkNew(family: Family, seen: Set<string>, i: number): void {
  const before = seen.size;
  const key = family.keys[i] ?? "";
  if (key.length > MAX_KEY_CHARS) {
    throw new GatewayError(
      "LimitExceeded",
      `metric "${family.name}": a label set of ${key.length} characters is over the limit of ${MAX_KEY_CHARS}; shorten its label values`,
    );
  }
  seen.add(key);
  if (seen.size === before) {
    throw new GatewayError("InvalidValue", `${where(family, i)}: the same series appears twice in one push; send each label set once`);
  }
}

/** `metric "name{key}"`: series `i` of `family`, for messages. */
function where(family: Family, i: number): string {
  return `metric "${family.name}{${family.keys[i] ?? ""}}"`;
}

/** Per-group push times the gateway exposes itself, as the Pushgateway does. */
const GROUP_METRICS = new Set(["push_time_seconds", "push_failure_time_seconds"]);

/** Rejects names under the gateway's own {@link SELF_PREFIX} and the per-group push time names. */
export function checkNotReserved(name: string): void {
  if (name.startsWith(SELF_PREFIX)) {
    throw new GatewayError("InvalidName", `metric "${name}": the prefix "${SELF_PREFIX}" is reserved for the gateway's own metrics; rename the metric`);
  }
  if (GROUP_METRICS.has(name)) {
    throw new GatewayError("InvalidName", `metric "${name}" is reserved: the gateway sets it for every group, as the Pushgateway does; rename the metric`);
  }
}

/** `[sum, count, ...at, ...values]`: the packed form of histograms and summaries. */
export function packArrays(sum: number, count: number, at: readonly number[], values: readonly number[]): Float64Array {
  const n = at.length;
  const packed = new Float64Array(2 + 2 * n);
  packed[0] = sum;
  packed[1] = count;
  for (let i = 0; i < n; i++) {
    packed[2 + i] = at[i] ?? NaN;
    packed[2 + n + i] = values[i] ?? NaN;
  }
  return packed;
}

/**
 * The stored value after applying `pushed` onto `stored` (undefined when new).
 * Throws TypeConflict when a histogram's bucket layout differs from the stored one.
 */
export function merge(type: MetricType, stored: SeriesValue | undefined, pushed: SeriesValue, where: string): SeriesValue {
  if (stored === undefined) return pushed;
  switch (type) {
    case "gauge":
      return pushed;
    case "counter":
    case "untyped":
      return (stored as number) + (pushed as number);
    case "histogram": {
      const a = stored as Float64Array;
      const b = pushed as Float64Array;
      if (!sameLayout(a, b)) {
        throw new GatewayError(
          "TypeConflict",
          `${where}: bucket layout ${describeBounds(b)} differs from the stored ${describeBounds(a)}; push the same buckets, or delete the series first`,
        );
      }
      const out = new Float64Array(a.length);
      const n = (a.length - 2) >> 1;
      out[0] = (a[0] ?? 0) + (b[0] ?? 0);
      out[1] = (a[1] ?? 0) + (b[1] ?? 0);
      for (let i = 0; i < n; i++) {
        out[2 + i] = a[2 + i] ?? NaN;
        out[2 + n + i] = (a[2 + n + i] ?? 0) + (b[2 + n + i] ?? 0);
      }
      return out;
    }
    case "summary": {
      const a = stored as Float64Array;
      const out = Float64Array.from(pushed as Float64Array);
      out[0] = (a[0] ?? 0) + (out[0] ?? 0);
      out[1] = (a[1] ?? 0) + (out[1] ?? 0);
      return out;
    }
  }
}

function sameLayout(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  const n = (a.length - 2) >> 1;
  for (let i = 2; i < 2 + n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeBounds(v: Float64Array): string {
  const n = (v.length - 2) >> 1;
  const bounds: string[] = [];
  for (let i = 2; i < 2 + n; i++) bounds.push(String(v[i]).replace("Infinity", "+Inf"));
  return `[${bounds.join(", ")}]`;
}
