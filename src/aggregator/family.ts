/**
 * One family's series in a shard's memory, as columns: a map from canonical label key to a slot, and
 * typed arrays indexed by slot (value, last write, expiry, chunk, storage flags). An object per series
 * cost about twice the memory (and the garbage collector's time) at a hundred thousand series.
 */
import { labelNamesOf } from "../common/labels";
import type { MetricType } from "../common/model";
import type { SeriesValue } from "../common/model";
import type { Omitted } from "../wire/exposition/format";

/** Storage flags of a series (see docs/storage.md). */
export const IN_ROW = 1;
/** The series has a row of its own in the `series` table (newer than, or absent from, its chunk's row). */
export const OVERLAY = 2;

export interface SeriesState {
  value: SeriesValue;
  updated: number;
  expires: number;
}

/** A family's columns, indexed by slot (see {@link FamilyState.columns}). */
export interface FamilyColumns {
  readonly keys: readonly (string | undefined)[];
  /** Counters, gauges and untyped. */
  readonly scalar: Float64Array;
  /** Histograms and summaries. */
  readonly packed: readonly (Float64Array | undefined)[];
  readonly updated: Float64Array;
  readonly expires: Float64Array | null;
}

/** A family's series rendered for one set of render options (see src/aggregator/pages.ts). */
export interface RenderedCache {
  /** The render options it was made for. */
  options: string;
  /** The family's {@link FamilyState.version} and the shard's expiry epoch it was made at. */
  version: number;
  epoch: number;
  /**
   * The reads it is right for (ms since the epoch): from when the last series it leaves out as
   * expired expired (0: none), until the first series it holds expires (Infinity: none does).
   */
  validFrom: number;
  validUntil: number;
  /**
   * Groups whose series it leaves out as expired, with the expiry they had: a later push to one of
   * them (moving its expiry later, its series live again) makes the text wrong for reads after it.
   */
  leftOut: [group: { readonly pushTime: number; readonly ttlMs: number }, expiry: number][];
  text: string;
  /** Heap bytes of `text`. */
  bytes: number;
  /** Series held when it was made (in the text or left out), and those left out by reason. */
  series: number;
  omitted: Omitted;
}

export class FamilyState {
  readonly name: string;
  readonly type: MetricType;
  help: string;
  unit: string;
  readonly slots = new Map<string, number>();
  #keys: (string | undefined)[] = [];
  #scalar: Float64Array;
  #packed: (Float64Array | undefined)[];
  #updated: Float64Array;
  /** Expiry (ms since the epoch) of ungrouped series with a TTL; 0 for none. Allocated on first use. */
  #expires: Float64Array | null = null;
  #chunk: Int32Array;
  #flags: Uint8Array;
  #free: number[] = [];
  /**
   * Slots in their keys' code-unit order, for paged reads (a slot, not its key: a read then needs no
   * map lookup per series); rebuilt lazily from {@link #added} and removals.
   */
  #sorted = new Int32Array(0);
  #added: number[] = [];
  #removed = 0;
  /**
   * Set when more series were added since the last read than are worth remembering one by one (a
   * family pushed whole): the next read sorts the family whole, and no list of them is kept meanwhile.
   */
  #resort = false;
  /** Label names any series of the family has (the registry checks them for escaping collisions); computed on first use. */
  #labelNames: Set<string> | null = null;
  /** Changes with every change of a series (added, written, removed): what a rendered text was made from. */
  #version = 0;
  /** The family's series as a scrape last rendered them (kept while the shard's budget allows). */
  rendered: RenderedCache | null = null;
  /**
   * Whether another shard holds series of this family too (a read merged them): its reads then hand
   * over columns, which the Worker merges, rather than rendered text. Kept in memory only.
   */
  shared = false;
  /**
   * The version at which the family's rendered text came out larger than a page of `maxBytes`, so
   * that scrapes in between do not render it again only to throw it away. Kept in memory only.
   */
  oversize: { version: number; maxBytes: number } | null = null;

  constructor(name: string, type: MetricType, help: string, unit: string) {
    this.name = name;
    this.type = type;
    this.help = help;
    this.unit = unit;
    const scalar = type === "counter" || type === "gauge" || type === "untyped";
    this.#scalar = new Float64Array(scalar ? 4 : 0);
    this.#packed = [];
    this.#updated = new Float64Array(4);
    this.#chunk = new Int32Array(4);
    this.#flags = new Uint8Array(4);
  }

  get size(): number {
    return this.slots.size;
  }

  get version(): number {
    return this.#version;
  }

  get scalar(): boolean {
    return this.type === "counter" || this.type === "gauge" || this.type === "untyped";
  }

  slot(key: string): number {
    return this.slots.get(key) ?? -1;
  }

  key(slot: number): string {
    return this.#keys[slot] ?? "";
  }

  value(slot: number): SeriesValue {
    return this.scalar ? (this.#scalar[slot] ?? NaN) : (this.#packed[slot] ?? new Float64Array(2));
  }

  updated(slot: number): number {
    return this.#updated[slot] ?? 0;
  }

  expires(slot: number): number {
    return this.#expires === null ? 0 : (this.#expires[slot] ?? 0);
  }

  chunk(slot: number): number {
    return this.#chunk[slot] ?? -1;
  }

  flags(slot: number): number {
    return this.#flags[slot] ?? 0;
  }

  setFlags(slot: number, flags: number): void {
    this.#flags[slot] = flags;
  }

  /** Adds a series (its key must be new) and returns its slot. */
  add(key: string, value: SeriesValue, updated: number, expires: number, chunk: number, flags: number): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#keys.length;
      this.#keys.push(key);
      this.#grow(slot + 1);
    } else {
      this.#keys[slot] = key;
    }
    this.slots.set(key, slot);
    this.set(slot, value, updated, expires);
    this.#chunk[slot] = chunk;
    this.#flags[slot] = flags;
    if (!this.#resort) {
      this.#added.push(slot);
      if (this.#added.length > Math.max(64, this.#sorted.length >> 2)) {
        this.#added = [];
        this.#resort = true;
      }
    }
    return slot;
  }

  set(slot: number, value: SeriesValue, updated: number, expires: number): void {
    this.#version++;
    if (this.scalar) this.#scalar[slot] = value as number;
    else this.#packed[slot] = value as Float64Array;
    this.#updated[slot] = updated;
    if (expires !== 0 || this.#expires !== null) {
      if (this.#expires === null) this.#expires = new Float64Array(this.#updated.length);
      this.#expires[slot] = expires;
    }
  }

  remove(slot: number): void {
    const key = this.#keys[slot];
    if (key === undefined) return;
    this.#version++;
    this.slots.delete(key);
    this.#keys[slot] = undefined;
    if (!this.scalar) this.#packed[slot] = undefined;
    this.#free.push(slot);
    this.#removed++;
  }

  /** Label names any series of the family has (kept current with {@link addLabelNames} once computed). */
  get labelNames(): ReadonlySet<string> {
    if (this.#labelNames === null) {
      const names = new Set<string>();
      for (const key of this.slots.keys()) for (const name of labelNamesOf(key)) names.add(name);
      this.#labelNames = names;
    }
    return this.#labelNames;
  }

  /** Records label names new series brought (the registry accepted them). */
  addLabelNames(names: Iterable<string>): void {
    if (this.#labelNames === null) return;
    for (const name of names) this.#labelNames.add(name);
  }

  /** Every live slot, in no particular order. */
  *liveSlots(): IterableIterator<number> {
    yield* this.slots.values();
  }

  /**
   * Slots in their keys' code-unit order. Slots added since the last call are sorted on their own and
   * merged in, and removed ones are dropped, so a family that gains a few series between reads is not
   * sorted again whole (one that gained more than a quarter of its size is: see {@link #resort}).
   */
  sortedSlots(): Int32Array {
    if (this.#resort) {
      const keys = this.#keys;
      this.#sorted = Int32Array.from(this.slots.values()).sort((a, b) => compare(keys[a] ?? "", keys[b] ?? ""));
      this.#resort = false;
      this.#removed = 0;
      return this.#sorted;
    }
    if (this.#added.length === 0 && this.#removed === 0) return this.#sorted;
    const keys = this.#keys;
    const added = this.#added.filter((slot) => keys[slot] !== undefined).sort((a, b) => compare(keys[a] ?? "", keys[b] ?? ""));
    // A slot removed and taken again since the last call is in both lists: its old place is stale.
    const fresh = new Uint8Array(keys.length);
    for (const slot of added) fresh[slot] = 1;
    const old = this.#sorted;
    const out = new Int32Array(old.length + added.length);
    let n = 0;
    let i = 0;
    let j = 0;
    for (;;) {
      while (i < old.length && (keys[old[i] ?? 0] === undefined || fresh[old[i] ?? 0] === 1)) i++;
      if (i >= old.length && j >= added.length) break;
      let slot: number;
      if (j >= added.length || (i < old.length && (keys[old[i] ?? 0] ?? "") < (keys[added[j] ?? 0] ?? ""))) slot = old[i++] ?? 0;
      else slot = added[j++] ?? 0;
      // A slot added twice (added, removed, added again) sorts next to itself: keep one.
      if (n === 0 || out[n - 1] !== slot) out[n++] = slot;
    }
    this.#sorted = n === out.length ? out : out.slice(0, n);
    this.#added = [];
    this.#removed = 0;
    return this.#sorted;
  }

  /** The columns as they are, indexed by slot, for a page read to copy from (never to change). */
  get columns(): FamilyColumns {
    return { keys: this.#keys, scalar: this.#scalar, packed: this.#packed, updated: this.#updated, expires: this.#expires };
  }

  /** Heap bytes the family's series take beyond their keys (measured in bench/, see README). */
  get columnBytes(): number {
    return this.#updated.byteLength * (this.#expires === null ? 2 : 3) + this.#chunk.byteLength + this.#flags.byteLength;
  }

  /**
   * Makes room for `more` new series at once: a batch that more than doubles the family gets exactly
   * the room it needs (a family pushed whole, once, keeps no slack), others the usual doubling.
   */
  reserve(more: number): void {
    const needed = this.#keys.length + Math.max(0, more - this.#free.length);
    if (needed > this.#updated.length * 2) this.#grow(needed);
  }

  #grow(needed: number): void {
    const capacity = this.#updated.length;
    if (needed <= capacity) return;
    const next = Math.max(needed, capacity * 2);
    if (this.scalar) this.#scalar = grown(this.#scalar, next);
    this.#updated = grown(this.#updated, next);
    if (this.#expires !== null) this.#expires = grown(this.#expires, next);
    const chunk = new Int32Array(next);
    chunk.set(this.#chunk);
    this.#chunk = chunk;
    const flags = new Uint8Array(next);
    flags.set(this.#flags);
    this.#flags = flags;
  }
}

function grown(a: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n);
  out.set(a);
  return out;
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
