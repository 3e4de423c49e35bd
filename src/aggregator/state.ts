/**
 * A shard's state in memory: families (columns of series), Pushgateway groups, and the chunks that
 * say which series are stored together. It is only ever changed by applying a write that storage
 * has already taken (src/aggregator/commit.ts), and {@link loadState} rebuilds exactly the same
 * state from storage, so memory always equals what a restart rebuilds.
 */
import type { MetricType } from "../common/model";
import type { SeriesValue } from "../common/model";
import { CHUNK_BYTES, CHUNK_SERIES, heapBytes, seriesBytes } from "./sizes";
import { ExpiryHeap } from "./expiry";
import { Packs } from "./packs";
import { compare, FamilyState, IN_ROW, OVERLAY, type RenderedCache } from "./family";
import { sourceKey, type SourceState } from "./sources";
import type { FamilyRow, StaleRow, Store } from "./store";

/** A Pushgateway group (grouping key), or the ungrouped group (key ""). */
export interface GroupState {
  key: string;
  /** Last successful and failed push, ms since the epoch (0: never). */
  pushTime: number;
  failureTime: number;
  /** The group expires this long after its last push; 0: never. */
  ttlMs: number;
  chunks: Set<Chunk>;
  /** The chunk new series of the group go into, while it has room. */
  open: Chunk | null;
  /** Live series, in all and per family name. */
  series: number;
  families: Map<string, number>;
}

/** Series of one group stored together: one `chunks` row (once written) plus `series` rows newer than it. */
export interface Chunk {
  id: number;
  group: GroupState;
  members: Map<FamilyState, Set<number>>;
  count: number;
  /** Estimated encoded size. */
  bytes: number;
  /** Whether a `chunks` row exists for it. */
  stored: boolean;
  /** Members with a `series` row of their own. */
  overlays: number;
}

export { CHUNK_BYTES, CHUNK_SERIES, heapBytes, seriesBytes } from "./sizes";

/**
 * Bytes of rendered text a shard keeps, over all its families (16 MiB: about 200,000 series of
 * ordinary label sets at ~80 bytes a line), and never more than MAX_SHARD_BYTES leaves beside the
 * series. Beyond it, families are rendered on each read and not kept.
 */
export const RENDER_CACHE_BYTES = 16 * 1024 * 1024;

/** When a group expires, ms since the epoch, measured from its last push (0: never). */
export function groupExpiry(group: Pick<GroupState, "pushTime" | "ttlMs">): number {
  return group.ttlMs > 0 && group.pushTime > 0 ? group.pushTime + group.ttlMs : 0;
}

/** Heap bytes of a string: one a character when all are Latin-1, two otherwise (V8's two string forms). */
export function textBytes(text: string): number {
  return /[^\u0000-\u00ff]/.test(text) ? text.length * 2 : text.length;
}

export class ShardState {
  readonly families = new Map<string, FamilyState>();
  readonly groups = new Map<string, GroupState>();
  readonly chunks = new Map<number, Chunk>();
  nextChunk = 1;
  series = 0;
  bytes = 0;
  /** Stale-marker rows not yet delivered by an export. */
  stale: StaleRow[] = [];
  /** Cumulative sources' last pushed values, by `sourceKey`. */
  readonly sources = new Map<string, SourceState>();
  /** When ungrouped series with a TTL expire. */
  readonly expiry = new ExpiryHeap();
  /**
   * Changes whenever a group's expiry moves earlier (a shorter TTL): rendered texts made before may
   * hold series that now expire sooner than they were made to (see {@link RenderedCache.validUntil}).
   */
  renderEpoch = 0;
  /** Bytes of rendered text the families keep (at most {@link RENDER_CACHE_BYTES}). */
  renderedBytes = 0;
  /** Which `family_meta` row each family's metadata is in. */
  readonly metaPacks = new Packs();
  #sortedNames: string[] | null = null;

  constructor() {
    this.group("");
  }

  /** The group for a grouping key, created when new. */
  group(key: string): GroupState {
    let group = this.groups.get(key);
    if (group === undefined) {
      group = { key, pushTime: 0, failureTime: 0, ttlMs: 0, chunks: new Set(), open: null, series: 0, families: new Map() };
      this.groups.set(key, group);
    }
    return group;
  }

  /** A new (empty, unstored) chunk of `group`. */
  newChunk(group: GroupState, id = this.nextChunk++): Chunk {
    if (id >= this.nextChunk) this.nextChunk = id + 1;
    const chunk: Chunk = { id, group, members: new Map(), count: 0, bytes: 0, stored: false, overlays: 0 };
    this.chunks.set(id, chunk);
    group.chunks.add(chunk);
    return chunk;
  }

  /** The group that owns a series. */
  groupOf(family: FamilyState, slot: number): GroupState {
    return this.chunks.get(family.chunk(slot))?.group ?? this.group("");
  }

  family(name: string, type: MetricType, help: string, unit: string): FamilyState {
    let family = this.families.get(name);
    if (family === undefined || family.type !== type) {
      if (family !== undefined) this.forgetRendered(family);
      family = new FamilyState(name, type, help, unit);
      this.families.set(name, family);
      this.#sortedNames = null;
    }
    return family;
  }

  dropFamily(name: string): void {
    const family = this.families.get(name);
    if (family === undefined) return;
    this.forgetRendered(family);
    this.families.delete(name);
    this.#sortedNames = null;
  }

  /** Drops a family's rendered text. */
  forgetRendered(family: FamilyState): void {
    if (family.rendered !== null) this.renderedBytes -= family.rendered.bytes;
    family.rendered = null;
  }

  /** Drops every family's rendered text. */
  forgetAllRendered(): void {
    for (const family of this.families.values()) this.forgetRendered(family);
  }

  /** Keeps `rendered` as the family's text if the budget (bytes of text in all) allows; else keeps none. */
  keepRendered(family: FamilyState, rendered: RenderedCache, budget = RENDER_CACHE_BYTES): void {
    this.forgetRendered(family);
    if (this.renderedBytes + rendered.bytes > budget) return;
    family.rendered = rendered;
    this.renderedBytes += rendered.bytes;
  }

  sortedNames(): string[] {
    if (this.#sortedNames === null) this.#sortedNames = [...this.families.keys()].sort(compare);
    return this.#sortedNames;
  }

  /** Adds a series to memory: family columns, its chunk, its group's counts. */
  addSeries(family: FamilyState, key: string, value: SeriesValue, updated: number, expires: number, chunk: Chunk, flags: number): number {
    const slot = family.add(key, value, updated, expires, chunk.id, flags);
    if (expires > 0) this.expiry.push(expires, family, key);
    let members = chunk.members.get(family);
    if (members === undefined) {
      members = new Set();
      chunk.members.set(family, members);
    }
    members.add(slot);
    chunk.count++;
    chunk.bytes += seriesBytes(key, value);
    if ((flags & OVERLAY) !== 0) chunk.overlays++;
    const group = chunk.group;
    group.series++;
    group.families.set(family.name, (group.families.get(family.name) ?? 0) + 1);
    this.series++;
    this.bytes += heapBytes(key, value);
    return slot;
  }

  /** Removes a series from memory; the family goes when its last series does. */
  removeSeries(family: FamilyState, slot: number): void {
    const chunk = this.chunks.get(family.chunk(slot));
    const key = family.key(slot);
    const value = family.value(slot);
    if (chunk !== undefined) {
      const members = chunk.members.get(family);
      members?.delete(slot);
      if (members !== undefined && members.size === 0) chunk.members.delete(family);
      chunk.count--;
      chunk.bytes -= seriesBytes(key, value);
      if ((family.flags(slot) & OVERLAY) !== 0) chunk.overlays--;
      const group = chunk.group;
      group.series--;
      const n = (group.families.get(family.name) ?? 1) - 1;
      if (n === 0) group.families.delete(family.name);
      else group.families.set(family.name, n);
      if (chunk.count === 0) this.dropChunk(chunk);
    }
    this.bytes -= heapBytes(key, value);
    family.remove(slot);
    this.series--;
    if (family.size === 0) this.dropFamily(family.name);
  }

  /** Whether an expiry entry still describes its series (not rewritten, retyped or deleted since). */
  currentExpiry(entry: { at: number; family: FamilyState; key: string }): boolean {
    if (this.families.get(entry.family.name) !== entry.family) return false;
    const slot = entry.family.slot(entry.key);
    return slot >= 0 && entry.family.expires(slot) === entry.at;
  }

  /** Rebuilds the expiry heap from the live series when most of its entries are stale. */
  compactExpiry(): void {
    let live = 0;
    const entries: { at: number; family: FamilyState; key: string }[] = [];
    if (this.expiry.size < 1024) return;
    for (const family of this.families.values()) {
      for (const [key, slot] of family.slots) {
        const at = family.expires(slot);
        if (at > 0) {
          live++;
          entries.push({ at, family, key });
        }
      }
    }
    if (this.expiry.size > 2 * live + 1024) this.expiry.reset(entries);
  }

  dropChunk(chunk: Chunk): void {
    this.chunks.delete(chunk.id);
    chunk.group.chunks.delete(chunk);
    if (chunk.group.open === chunk) chunk.group.open = null;
  }

  /** Forgets a group (not the ungrouped one) once it holds nothing. */
  dropGroup(group: GroupState): void {
    if (group.key === "") return;
    for (const chunk of group.chunks) this.chunks.delete(chunk.id);
    this.groups.delete(group.key);
  }
}

/** Rebuilds a shard's state from storage: family rows, chunk rows, then the series rows newer than them. */
export function loadState(store: Store): ShardState {
  const state = new ShardState();
  for (const row of store.groups()) {
    const group = state.group(row.key);
    group.pushTime = row.push_time;
    group.failureTime = row.failure_time;
    group.ttlMs = row.ttl_ms;
  }
  const meta = new Map<string, FamilyRow>();
  for (const pack of store.familyMeta()) {
    state.metaPacks.load(
      pack.id,
      pack.families.map((f) => f.name),
    );
    for (const f of pack.families) meta.set(f.name, f);
  }
  const familyOf = (name: string): FamilyState | undefined => {
    const m = meta.get(name);
    return m === undefined ? undefined : state.family(m.name, m.type, m.help, m.unit);
  };
  for (const row of store.chunks()) {
    const chunk = state.newChunk(state.group(row.grp), row.id);
    chunk.stored = true;
    for (const s of row.series) {
      const family = familyOf(s.family);
      if (family === undefined || family.type !== s.type) continue;
      state.addSeries(family, s.key, s.value, s.updated, s.expires, chunk, IN_ROW);
    }
  }
  // Rows written before chunks existed (schema version 2) join a chunk of their group in memory;
  // they stay rows of their own until that chunk is first written.
  const legacy = new Map<string, Chunk>();
  for (const row of store.series()) {
    const family = familyOf(row.family);
    if (family === undefined) continue;
    const slot = family.slot(row.labels);
    if (slot >= 0) {
      // Newer than its copy in the chunk row.
      const chunk = state.chunks.get(family.chunk(slot));
      const before = family.value(slot);
      family.set(slot, row.value, row.updated, row.expires);
      if (row.expires > 0) state.expiry.push(row.expires, family, row.labels);
      state.bytes += heapBytes(row.labels, row.value) - heapBytes(row.labels, before);
      if (chunk !== undefined) {
        chunk.bytes += seriesBytes(row.labels, row.value) - seriesBytes(row.labels, before);
        if ((family.flags(slot) & OVERLAY) === 0) chunk.overlays++;
      }
      family.setFlags(slot, family.flags(slot) | OVERLAY);
      continue;
    }
    let chunk = row.chunk === null ? legacy.get(row.grp) : state.chunks.get(row.chunk);
    if (chunk === undefined) {
      chunk = state.newChunk(state.group(row.grp), row.chunk ?? undefined);
      if (row.chunk === null) legacy.set(row.grp, chunk);
    }
    state.addSeries(family, row.labels, row.value, row.updated, row.expires, chunk, OVERLAY);
  }
  // The chunk each group's new series go into: its last stored-format one with room (a chunk of
  // legacy rows is not, so that a restart regroups exactly the same series).
  const legacyChunks = new Set(legacy.values());
  for (const group of state.groups.values()) {
    for (const chunk of group.chunks) {
      if (legacyChunks.has(chunk) || chunk.count >= CHUNK_SERIES || chunk.bytes >= CHUNK_BYTES) continue;
      if (group.open === null || chunk.id > group.open.id) group.open = chunk;
    }
  }
  state.stale = store.staleRows();
  for (const row of store.sources()) {
    const id = sourceKey(row.source, row.grp);
    let source = state.sources.get(id);
    if (source === undefined) {
      source = { source: row.source, group: row.grp, updated: row.updated, series: new Map(), parts: 0 };
      state.sources.set(id, source);
    }
    source.parts++;
    source.updated = Math.max(source.updated, row.updated);
    for (const s of row.series) {
      let keys = source.series.get(s.family);
      if (keys === undefined) source.series.set(s.family, (keys = new Map()));
      keys.set(s.key, s.value);
    }
  }
  return state;
}
