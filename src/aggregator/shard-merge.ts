/**
 * Merging what several shards hold of one family, with the aggregation rules themselves: counters,
 * untyped, histogram buckets and summary sum/count add up; gauges and summary quantiles take the
 * most recently written value.
 */
import type { SeriesValue } from "../wire/exposition/format";
import type { MetricType } from "../common/model";

/** One series as a shard reports it: label key, value, last write (ms since the epoch). */
export type ShardSeries = [key: string, value: SeriesValue, updated: number];

/** One family as a shard reports it, series sorted by label key. */
export interface ShardFamily {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  series: ShardSeries[];
}

/**
 * The family the shards hold together, series sorted by label key. Parts must share a name; a part
 * whose type differs from the first is left out (the type registry prevents that at push time).
 * Histogram series whose bucket layouts differ across shards keep the most recently written one.
 */
export function mergeShardFamilies(parts: readonly ShardFamily[]): ShardFamily {
  const first = parts[0];
  if (first === undefined) throw new Error("mergeShardFamilies needs at least one part");
  const same = parts.filter((p) => p.type === first.type);
  const help = same.find((p) => p.help !== "")?.help ?? "";
  const unit = same.find((p) => p.unit !== "")?.unit ?? "";
  if (same.length === 1) return { name: first.name, type: first.type, help, unit, series: first.series };
  const at = new Array<number>(same.length).fill(0);
  const out: ShardSeries[] = [];
  for (;;) {
    // The smallest key among the parts' next series (k is small: the shard count).
    let key: string | undefined;
    for (let p = 0; p < same.length; p++) {
      const s = same[p]?.series[at[p] ?? 0];
      if (s !== undefined && (key === undefined || s[0] < key)) key = s[0];
    }
    if (key === undefined) break;
    let merged: ShardSeries | undefined;
    for (let p = 0; p < same.length; p++) {
      const part = same[p];
      const i = at[p] ?? 0;
      const s = part?.series[i];
      if (s === undefined || s[0] !== key) continue;
      at[p] = i + 1;
      merged = merged === undefined ? s : combine(first.type, merged, s);
    }
    if (merged !== undefined) out.push(merged);
  }
  return { name: first.name, type: first.type, help, unit, series: out };
}

/** Two shards' values of one series. */
export function combine(type: MetricType, a: ShardSeries, b: ShardSeries): ShardSeries {
  const [key, va, ta] = a;
  const [, vb, tb] = b;
  const updated = Math.max(ta, tb);
  const newer = tb >= ta ? vb : va;
  switch (type) {
    case "gauge":
      return [key, newer, updated];
    case "counter":
    case "untyped":
      return [key, (va as number) + (vb as number), updated];
    case "histogram": {
      const x = va as Float64Array;
      const y = vb as Float64Array;
      if (!sameBounds(x, y)) return [key, newer, updated];
      const out = new Float64Array(x.length);
      const n = (x.length - 2) >> 1;
      for (let i = 0; i < x.length; i++) out[i] = i >= 2 && i < 2 + n ? (x[i] ?? NaN) : (x[i] ?? 0) + (y[i] ?? 0);
      return [key, out, updated];
    }
    case "summary": {
      const out = Float64Array.from(newer as Float64Array);
      const older = (tb >= ta ? va : vb) as Float64Array;
      out[0] = (out[0] ?? 0) + (older[0] ?? 0);
      out[1] = (out[1] ?? 0) + (older[1] ?? 0);
      return [key, out, updated];
    }
  }
}

function sameBounds(x: Float64Array, y: Float64Array): boolean {
  if (x.length !== y.length) return false;
  const n = (x.length - 2) >> 1;
  for (let i = 2; i < 2 + n; i++) if (x[i] !== y[i]) return false;
  return true;
}
