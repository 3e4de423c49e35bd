/**
 * Paged reads of a shard: families in name order and each family's series in label-key order, handed
 * over a page at a time (a few hundred KB) so that no RPC value comes near the 32 MiB limit, whatever
 * the label sizes. The Worker merges the shards' pages and streams the result.
 */
import type { MetricType } from "../common/model";
import type { SeriesValue } from "../common/model";
import { renderSeries, type Omitted, type RenderOptions } from "../wire/exposition/format";
import type { FamilyState, RenderedCache } from "./family";
import { groupExpiry, RENDER_CACHE_BYTES, textBytes, type GroupState, type ShardState } from "./state";

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
  /** The family's series as exposition lines, when the page holds it whole as text (the columns are then empty). */
  rendered?: Rendered;
}

/** A family's series rendered by its shard. */
export interface Rendered {
  /**
   * The text in pieces of at most {@link TEXT_PIECE} characters: the Worker then never holds one
   * string large enough for V8's large-object space (see src/worker/scrape.ts).
   */
  text: string[];
  /** Series the family holds in this read (those in the text and those left out), and those left out by reason. */
  series: number;
  omitted: Omitted;
}

/** Characters of rendered text a page carries in one string, at most (cut at line ends where a line allows). */
export const TEXT_PIECE = 32 * 1024;

/** A key after every label key (keys start with a name character or `"`): a cursor past a whole family. */
export const FAMILY_END = "\uffff";

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
  /**
   * A scrape's render options: a family this shard holds whole in the page comes as rendered text
   * (kept for the next scrape while the family does not change) instead of columns, unless another
   * shard holds series of it too (see {@link PageRequest.only}).
   */
  render?: RenderOptions;
  /** Whether ungrouped series may be on other shards too (SHARDS > 1): families with such series come as columns. */
  rotating?: boolean;
  /**
   * Only this family's series, as columns: the Worker found another shard holding series of it, so
   * the shard remembers to hand it over as columns from now on.
   */
  only?: string;
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
  const expiry = groupExpiry(group);
  return expiry > 0 && expiry <= now;
}

/** Whether a series is past its expiry at `now` (its own, or its group's). */
export function seriesExpired(state: ShardState, family: FamilyState, slot: number, now: number): boolean {
  const expires = family.expires(slot);
  if (expires > 0 && expires <= now) return true;
  const group = state.groupOf(family, slot);
  return group.key !== "" && groupExpired(group, now);
}

/** One page of a shard's series in (family, key) order. */
export function readPage(state: ShardState, request: PageRequest, renderBudget = RENDER_CACHE_BYTES): Page {
  const { after, maxBytes, now } = request;
  const filter = request.group === undefined ? undefined : state.groups.get(request.group);
  if (request.group !== undefined && filter === undefined) return { families: [], next: null };
  let names = familyNames(state, filter);
  const only = request.only === undefined ? undefined : state.families.get(request.only);
  if (request.only !== undefined) {
    names = only === undefined ? [] : [only.name];
    if (only !== undefined) {
      only.shared = true;
      state.forgetRendered(only);
    }
  }
  const render = filter === undefined && only === undefined ? request.render : undefined;
  let i = after === null ? 0 : lowerBound(names, after[0]);
  const out: PageFamily[] = [];
  let bytes = 0;
  // Where the next page starts: after the last series this page holds.
  let last: Cursor = ["", ""];
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
      const rendered = render !== undefined && from === null ? renderedFamily(state, family, render, request.rotating === true, maxBytes, now, renderBudget) : null;
      if (rendered !== null) {
        // Every series past its expiry: nothing of the family in this read.
        if (rendered.series === 0) continue;
        const size = rendered.text.length + 100 + meta.help.length * 2;
        // A page holds a rendered family whole: one that does not fit starts the next page.
        if (out.length > 0 && bytes + size > maxBytes) return { families: out, next: last };
        out.push({ ...meta, keys: [], values: new Float64Array(0), updated: new Float64Array(0), rendered: { text: pieces(rendered.text), series: rendered.series, omitted: rendered.omitted } });
        bytes += size;
        last = [name, FAMILY_END];
        if (bytes >= maxBytes) return { families: out, next: last };
        continue;
      }
      scalar = family.scalar;
      const sorted = family.sortedSlots();
      const c = family.columns;
      // A series over the page's size still comes whole, alone if need be.
      for (let k = from === null ? 0 : upperBound(family, sorted, from); k < sorted.length && (bytes < maxBytes || keys.length === 0); k++) {
        const slot = sorted[k] ?? 0;
        const key = c.keys[slot] ?? "";
        if (filter !== undefined && state.groupOf(family, slot) !== filter) continue;
        if (c.expires !== null) {
          const expires = c.expires[slot] ?? 0;
          if (expires > 0 && expires <= now) continue;
        }
        if (groupsExpired && seriesExpired(state, family, slot, now)) continue;
        keys.push(key);
        times.push(c.updated[slot] ?? 0);
        if (scalar) {
          scalars.push(c.scalar[slot] ?? NaN);
          bytes += 48 + key.length * 2;
        } else {
          const value = c.packed[slot] ?? new Float64Array(2);
          packed.push(value);
          bytes += 40 + key.length * 2 + value.length * 8;
        }
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

/**
 * A family's series rendered with `render` (its kept text when still valid, else rendered now and
 * kept if the shard's budget allows); null when it must come as columns: another shard holds some of
 * it, or it is too large for one page.
 */
function renderedFamily(state: ShardState, family: FamilyState, render: RenderOptions, rotating: boolean, maxBytes: number, now: number, budget: number): RenderedCache | null {
  if (family.shared) return null;
  const options = `${render.openmetrics ? "openmetrics" : "text"}/${render.escaping}`;
  const kept = family.rendered;
  if (kept !== null && kept.options === options && kept.version === family.version && kept.epoch === state.renderEpoch && kept.validFrom <= now && now < kept.validUntil) {
    if (kept.leftOut.every(([group, expiry]) => groupExpiry(group) === expiry)) return kept;
  }
  // Too large for a page at any key length, or its text was at this version: paged as columns (and
  // a text kept before is stale).
  const over = family.oversize;
  if (family.size * 48 > maxBytes || (over !== null && over.version === family.version && maxBytes <= over.maxBytes)) {
    state.forgetRendered(family);
    return null;
  }
  const sorted = family.sortedSlots();
  const c = family.columns;
  const keys: string[] = [];
  const values: SeriesValue[] = [];
  let validFrom = 0;
  let validUntil = Infinity;
  const leftOut: [GroupState, number][] = [];
  let lastChunk = -1;
  let group: GroupState | undefined;
  for (let k = 0; k < sorted.length; k++) {
    const slot = sorted[k] ?? 0;
    const chunk = family.chunk(slot);
    if (chunk !== lastChunk) {
      group = state.chunks.get(chunk)?.group ?? state.group("");
      lastChunk = chunk;
    }
    if (group === undefined) continue;
    if (group.key === "" && rotating) {
      // Ungrouped writes rotate over the shards: the Worker merges this family's parts.
      family.shared = true;
      state.forgetRendered(family);
      return null;
    }
    const expires = c.expires === null ? 0 : (c.expires[slot] ?? 0);
    const groupExpires = group.key === "" ? 0 : groupExpiry(group);
    if ((expires > 0 && expires <= now) || (groupExpires > 0 && groupExpires <= now)) {
      // Left out as expired: the text is not for a read at an earlier time, nor after a push to the group.
      validFrom = Math.max(validFrom, expires > 0 && expires <= now ? expires : groupExpires);
      if (groupExpires > 0 && groupExpires <= now && !leftOut.some(([g]) => g === group)) leftOut.push([group, groupExpires]);
      continue;
    }
    if (expires > 0) validUntil = Math.min(validUntil, expires);
    if (groupExpires > 0) validUntil = Math.min(validUntil, groupExpires);
    keys.push(c.keys[slot] ?? "");
    values.push(family.scalar ? (c.scalar[slot] ?? NaN) : (c.packed[slot] ?? new Float64Array(2)));
  }
  const omitted: Omitted = {};
  const text = renderSeries({ name: family.name, type: family.type, help: "", unit: "", series: { keys, values, from: 0, to: keys.length } }, render, omitted);
  if (text.length > maxBytes) {
    family.oversize = { version: family.version, maxBytes };
    state.forgetRendered(family);
    return null;
  }
  const rendered: RenderedCache = { options, version: family.version, epoch: state.renderEpoch, validFrom, validUntil, leftOut, text, bytes: textBytes(text), series: keys.length, omitted };
  state.keepRendered(family, rendered, budget);
  return rendered;
}

/**
 * `text` in pieces of at most {@link TEXT_PIECE} characters, each ending at a line end unless one
 * line is longer (then never inside a surrogate pair).
 */
export function pieces(text: string): string[] {
  if (text.length <= TEXT_PIECE) return [text];
  const out: string[] = [];
  for (let at = 0; at < text.length; ) {
    let end = Math.min(text.length, at + TEXT_PIECE);
    if (end < text.length) {
      const nl = text.lastIndexOf("\n", end - 1);
      if (nl >= at) end = nl + 1;
      // Never between the two halves of a surrogate pair (the Worker encodes pieces apart).
      else if (isHighSurrogate(text.charCodeAt(end - 1))) end--;
    }
    out.push(text.slice(at, end));
    at = end;
  }
  return out;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
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

/** The first index of `sorted` (slots in key order) whose key is > `key`. */
function upperBound(family: FamilyState, sorted: Int32Array, key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (family.key(sorted[mid] ?? 0) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
