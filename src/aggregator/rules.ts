/**
 * The aggregation rules as pure functions: how a pushed value meets the stored one (counters and
 * untyped summed, gauges replaced, histograms summed bucket by bucket, summaries' sum and count
 * summed with quantiles replaced), how shards' parts of one series combine on read, and how a
 * cumulative source's totals become increases.
 *
 * Histograms and summaries are packed as `[sum, count, at0..atN, v0..vN]` (bucket upper bounds and
 * cumulative counts, or quantiles and their values).
 */
import type { MetricType } from "../common/model";
import type { SeriesValue } from "../common/model";

/** What a merge noticed, for the self-metrics. */
export interface MergeNotes {
  /** Histogram layouts that differed and were merged over the intersection of their bounds. */
  narrowed: number;
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
 * The stored value after applying `pushed` onto `stored` (undefined when new). Histograms with
 * other bucket bounds merge over the bounds both have (see {@link addHistograms}).
 */
export function merge(type: MetricType, stored: SeriesValue | undefined, pushed: SeriesValue, notes?: MergeNotes): SeriesValue {
  if (stored === undefined) return pushed;
  switch (type) {
    case "gauge":
      return pushed;
    case "counter":
    case "untyped":
      return (stored as number) + (pushed as number);
    case "histogram":
      return addHistograms(stored as Float64Array, pushed as Float64Array, notes);
    case "summary": {
      const out = Float64Array.from(pushed as Float64Array);
      const a = stored as Float64Array;
      out[0] = (a[0] ?? 0) + (out[0] ?? 0);
      out[1] = (a[1] ?? 0) + (out[1] ?? 0);
      return out;
    }
  }
}

/**
 * Two histograms added. Same bounds: bucket by bucket. Other bounds (a deploy changed the buckets):
 * the cumulative counts at the bounds both layouts have add up exactly, so the result keeps exactly
 * those bounds (`+Inf` is always one of them); `_sum` and `_count` always add. Nothing is
 * interpolated: a bucket only one layout has cannot be filled in exactly for the other, so it goes.
 */
export function addHistograms(a: Float64Array, b: Float64Array, notes?: MergeNotes): Float64Array {
  const na = (a.length - 2) >> 1;
  const nb = (b.length - 2) >> 1;
  if (na === nb) {
    let same = true;
    for (let i = 2; i < 2 + na; i++) {
      if (a[i] !== b[i]) {
        same = false;
        break;
      }
    }
    if (same) {
      const out = new Float64Array(a.length);
      out[0] = (a[0] ?? 0) + (b[0] ?? 0);
      out[1] = (a[1] ?? 0) + (b[1] ?? 0);
      for (let i = 0; i < na; i++) {
        out[2 + i] = a[2 + i] ?? NaN;
        out[2 + na + i] = (a[2 + na + i] ?? 0) + (b[2 + nb + i] ?? 0);
      }
      return out;
    }
  }
  if (notes !== undefined) notes.narrowed++;
  const bounds: number[] = [];
  const counts: number[] = [];
  let i = 0;
  let j = 0;
  while (i < na && j < nb) {
    const x = a[2 + i] ?? NaN;
    const y = b[2 + j] ?? NaN;
    if (x === y) {
      bounds.push(x);
      counts.push((a[2 + na + i] ?? 0) + (b[2 + nb + j] ?? 0));
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  // Both end in +Inf (the parser and the RPC helpers guarantee it), so the intersection never is empty.
  return packArrays((a[0] ?? 0) + (b[0] ?? 0), (a[1] ?? 0) + (b[1] ?? 0), bounds, counts);
}

/** Whether two packed histograms have the same bucket bounds. */
export function sameBounds(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  const n = (a.length - 2) >> 1;
  for (let i = 2; i < 2 + n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Two shards' parts of one series, each with its last-write time: counters, untyped and histograms
 * add (histograms over their common bounds), gauges take the newer value, summaries add sum and count
 * and take the newer quantiles.
 */
export function combine(type: MetricType, va: SeriesValue, ta: number, vb: SeriesValue, tb: number, notes?: MergeNotes): SeriesValue {
  switch (type) {
    case "gauge":
      return tb >= ta ? vb : va;
    case "counter":
    case "untyped":
      return (va as number) + (vb as number);
    case "histogram":
      return addHistograms(va as Float64Array, vb as Float64Array, notes);
    case "summary": {
      const newer = (tb >= ta ? vb : va) as Float64Array;
      const older = (tb >= ta ? va : vb) as Float64Array;
      const out = Float64Array.from(newer);
      out[0] = (out[0] ?? 0) + (older[0] ?? 0);
      out[1] = (out[1] ?? 0) + (older[1] ?? 0);
      return out;
    }
  }
}

/**
 * What a cumulative source's push adds: the increase since the same source's previous push of the
 * series (`previous`, undefined for its first push). A value lower than the previous one means the
 * source restarted (its counters began again at 0), so the new value counts whole. Gauges and
 * summary quantiles are not cumulative: they are replaced as in any push, so the pushed value is
 * returned as it is.
 *
 * - counter, untyped: `current - previous`, or `current` after a restart;
 * - histogram: per bucket and for `_sum`/`_count`; a restart is any bucket or `_count` going down,
 *   or another bucket layout (a process changes its buckets only by restarting);
 * - summary: `_sum`/`_count` as increases, quantiles as pushed; a restart is `_count` going down.
 *
 * @example increase("counter", 5, 8) // 3
 * @example increase("counter", 8, 2) // 2 (restarted)
 */
export function increase(type: MetricType, previous: SeriesValue | undefined, current: SeriesValue): SeriesValue {
  if (previous === undefined) return current;
  switch (type) {
    case "gauge":
      return current;
    case "counter":
    case "untyped": {
      const p = previous as number;
      const c = current as number;
      return c >= p ? c - p : c;
    }
    case "histogram": {
      const p = previous as Float64Array;
      const c = current as Float64Array;
      // A process cannot change its buckets without restarting: another layout counts whole.
      if (!sameBounds(p, c) || (c[1] ?? 0) < (p[1] ?? 0)) return c;
      const n = (c.length - 2) >> 1;
      const out = Float64Array.from(c);
      for (let i = 0; i < n; i++) {
        const before = p[2 + n + i] ?? 0;
        const now = c[2 + n + i] ?? 0;
        if (now < before) return c;
        out[2 + n + i] = now - before;
      }
      out[0] = (c[0] ?? 0) - (p[0] ?? 0);
      out[1] = (c[1] ?? 0) - (p[1] ?? 0);
      return out;
    }
    case "summary": {
      const p = previous as Float64Array;
      const c = current as Float64Array;
      if ((c[1] ?? 0) < (p[1] ?? 0)) return c;
      const out = Float64Array.from(c);
      out[0] = (c[0] ?? 0) - (p[0] ?? 0);
      out[1] = (c[1] ?? 0) - (p[1] ?? 0);
      return out;
    }
  }
}
