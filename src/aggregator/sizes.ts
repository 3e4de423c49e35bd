/** How big things are: chunk bounds, a series' encoded size in a packed row, and its estimated heap size. */
import type { SeriesValue } from "../common/model";

/** A chunk holds at most this many series... */
export const CHUNK_SERIES = 512;
/** ...and about this many bytes. */
export const CHUNK_BYTES = 256 * 1024;

/** Estimated encoded bytes of a series in a packed row. */
export function seriesBytes(key: string, value: SeriesValue): number {
  return 28 + key.length * 3 + (typeof value === "number" ? 8 : value.length * 8);
}

const WIDE = /[^\u0000-\u00ff]/;

/**
 * Estimated heap bytes of a series (the per-shard byte budget counts these): its key (V8 keeps a
 * string of Latin-1 characters at one byte each, others at two), its value and its bookkeeping.
 */
export function heapBytes(key: string, value: SeriesValue): number {
  const keyBytes = WIDE.test(key) ? key.length * 2 : key.length;
  return 64 + keyBytes + (typeof value === "number" ? 0 : 64 + value.length * 8);
}
