/**
 * Paged reads of a shard: families in name order and each family's series in label-key order, handed
 * over a page at a time (a few hundred KB) so that no RPC value comes near the 32 MiB limit, whatever
 * the label sizes. The Worker merges the shards' pages and streams the result.
 */
import type { MetricType } from "../common/model";
import type { SeriesValue } from "../common/model";
import type { FamilyState } from "./family";
import type { GroupState, ShardState } from "./state";

/** One series as a reader uses it: label key, value, last write (ms since the epoch). */
export type PageSeries = [key: string, value: SeriesValue, updated: number];

/**
 * A family's series in a page, as columns: structured cloning (every RPC value) copies typed arrays
 * as memory, where an array per series cost three to five times as much.
 */
export interface PageFamily {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  keys: string[];
  /** Counters, gauges, untyped: the values; histograms and summaries: one packed array per series. */
  values: Float64Array | Float64Array[];
  updated: Float64Array;
}

/** The `i`th series of a page family. */
export function pageSeries(f: PageFamily, i: number): PageSeries {
  return [f.keys[i] ?? "", f.values[i] ?? NaN, f.updated[i] ?? 0];
}

/** Where a read resumes: after this family and key. */
export type Cursor = [family: string, key: string];

export interface PageRequest {
  /** The last family and key of the previous page; null for the first. */
  after: Cursor | null;
  /** About how many bytes a page may hold (a series over it still comes whole). */
  maxBytes: number;
  /** The read's time: series past their expiry are left out even if the sweep has not run yet. */
  now: number;
  /** Only this group's series (and push times); all groups when absent. */
  group?: string;
}

export interface Page {
  families: PageFamily[];
  /** Where the next page starts; null when this was the last. */
  next: Cursor | null;
}

/** Families the shard makes up from its groups: the Pushgateway's push times. */
export const PUSH_TIME = "push_time_seconds";
export const PUSH_FAILURE_TIME = "push_failure_time_seconds";
const PUSH_TIME_HELP = "Last Unix time when changing this group succeeded.";
const PUSH_FAILURE_TIME_HELP = "Last Unix time when changing this group failed.";

/** Whether a group is past its TTL at `now`. */
export function groupExpired(group: GroupState, now: number): boolean {
  return group.ttlMs > 0 && group.pushTime > 0 && group.pushTime + group.ttlMs <= now;
}

/** Whether a series is past its expiry at `now` (its own, or its group's). */
export function seriesExpired(state: ShardState, family: FamilyState, slot: number, now: number): boolean {
  const expires = family.expires(slot);
  if (expires > 0 && expires <= now) return true;
  const group = state.groupOf(family, slot);
  return group.key !== "" && groupExpired(group, now);
}

/** One page of a shard's series in (family, key) order. */
export function readPage(state: ShardState, request: PageRequest): Page {
  const { after, maxBytes, now } = request;
  const filter = request.group === undefined ? undefined : state.groups.get(request.group);
  if (request.group !== undefined && filter === undefined) return { families: [], next: null };
  const names = familyNames(state, filter);
  let i = after === null ? 0 : lowerBound(names, after[0]);
  const out: PageFamily[] = [];
  let bytes = 0;
  // Where the next page starts: after the last series this page holds.
  let last: Cursor;
  // Only when a group has a TTL that ran out is each series' group looked up.
  const groupsExpired = [...state.groups.values()].some((g) => g.key !== "" && groupExpired(g, now));
  for (; i < names.length; i++) {
    const name = names[i] ?? "";
    const from = after !== null && name === after[0] ? after[1] : null;
    const keys: string[] = [];
    const scalars: number[] = [];
    const packed: Float64Array[] = [];
    const times: number[] = [];
    let meta: Omit<PageFamily, "keys" | "values" | "updated">;
    let scalar = true;
    if (name === PUSH_TIME || name === PUSH_FAILURE_TIME) {
      meta = { name, type: "gauge", help: name === PUSH_TIME ? PUSH_TIME_HELP : PUSH_FAILURE_TIME_HELP, unit: "" };
      for (const group of sortedGroups(state, filter)) {
        if (bytes >= maxBytes && keys.length > 0) break;
        if (from !== null && group.key <= from) continue;
        if (groupExpired(group, now)) continue;
        const ms = name === PUSH_TIME ? group.pushTime : group.failureTime;
        keys.push(group.key);
        scalars.push(ms / 1000);
        times.push(ms);
        bytes += 40 + group.key.length * 2;
      }
    } else {
      const family = state.families.get(name);
      if (family === undefined) continue;
      meta = { name, type: family.type, help: family.help, unit: family.unit };
      scalar = family.scalar;
      const sorted = family.sortedKeys();
      // A series over the page's size still comes whole, alone if need be.
      for (let k = from === null ? 0 : upperBound(sorted, from); k < sorted.length && (bytes < maxBytes || keys.length === 0); k++) {
        const key = sorted[k] ?? "";
        const slot = family.slot(key);
        if (slot < 0) continue;
        if (filter !== undefined && state.groupOf(family, slot) !== filter) continue;
        const expires = family.expires(slot);
        if (expires > 0 && expires <= now) continue;
        if (groupsExpired && seriesExpired(state, family, slot, now)) continue;
        const value = family.value(slot);
        keys.push(key);
        if (typeof value === "number") scalars.push(value);
        else packed.push(value);
        times.push(family.updated(slot));
        bytes += 40 + key.length * 2 + (typeof value === "number" ? 8 : value.length * 8);
      }
    }
    const end = keys[keys.length - 1];
    if (end === undefined) continue;
    out.push({ ...meta, keys, values: scalar ? Float64Array.from(scalars) : packed, updated: Float64Array.from(times) });
    bytes += 100 + meta.help.length * 2;
    last = [name, end];
    // Full (perhaps in the middle of this family): the next page resumes after its last series.
    if (bytes >= maxBytes) return { families: out, next: last };
  }
  return { families: out, next: null };
}

/** The family names a read covers, sorted, with the push-time families where groups exist. */
function familyNames(state: ShardState, filter: GroupState | undefined): string[] {
  let names: string[];
  if (filter === undefined) names = state.sortedNames();
  else names = [...filter.families.keys()].sort();
  const hasGroups = filter === undefined ? state.groups.size > 1 : filter.key !== "";
  if (!hasGroups) return names;
  return [...names, PUSH_FAILURE_TIME, PUSH_TIME].sort();
}

function sortedGroups(state: ShardState, filter: GroupState | undefined): GroupState[] {
  if (filter !== undefined) return filter.key === "" ? [] : [filter];
  return [...state.groups.values()].filter((g) => g.key !== "").sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The first index whose name is >= `name`. */
function lowerBound(sorted: readonly string[], name: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] ?? "") < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose key is > `key`. */
function upperBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] ?? "") <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
