/**
 * Cumulative sources: per source (a process that keeps counting and pushes its totals again and
 * again) and group, the last values it pushed, so the next push adds only the increase. Stored
 * packed, a few rows per source (`sources` table), written in the same transaction as the
 * aggregate they were used for.
 */
import type { MetricType } from "../common/model";
import type { SeriesValue } from "../common/model";
import type { PackedSeries } from "./codec";
import { CHUNK_BYTES, CHUNK_SERIES, seriesBytes } from "./sizes";

/** One source's last pushed values for one group. */
export interface SourceState {
  source: string;
  group: string;
  /** Last push, ms since the epoch. */
  updated: number;
  /** Family -> label key -> last pushed value. */
  series: Map<string, Map<string, SeriesValue>>;
  /** Rows it takes now. */
  parts: number;
}

/** `source \0 group`, the key of a source's state. */
export function sourceKey(source: string, group: string): string {
  return `${source}\u0000${group}`;
}

/** Series a source state tracks. */
export function sourceSize(state: SourceState): number {
  let n = 0;
  for (const m of state.series.values()) n += m.size;
  return n;
}

/** A source state's series cut into rows of about a chunk's size (at least one row, maybe empty). */
export function sourceParts(state: SourceState, types: (family: string) => MetricType): PackedSeries[][] {
  const parts: PackedSeries[][] = [];
  let part: PackedSeries[] = [];
  let bytes = 0;
  for (const [family, keys] of state.series) {
    const type = types(family);
    for (const [key, value] of keys) {
      const size = seriesBytes(key, value);
      if (part.length >= CHUNK_SERIES || (part.length > 0 && bytes + size > CHUNK_BYTES)) {
        parts.push(part);
        part = [];
        bytes = 0;
      }
      part.push({ family, type, key, value, updated: state.updated, expires: 0 });
      bytes += size;
    }
  }
  if (part.length > 0 || parts.length === 0) parts.push(part);
  return parts;
}
