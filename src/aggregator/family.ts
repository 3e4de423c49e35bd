/**
 * One family's series in a shard's memory, as columns: a map from canonical label key to a slot, and
 * typed arrays indexed by slot (value, last write, expiry, chunk, storage flags). An object per series
 * cost about twice the memory (and the garbage collector's time) at a hundred thousand series.
 */
import { labelNamesOf } from "../common/labels";
import type { MetricType } from "../common/model";
import type { SeriesValue } from "../common/model";

/** Storage flags of a series (see docs/storage.md). */
export const IN_ROW = 1;
/** The series has a row of its own in the `series` table (newer than, or absent from, its chunk's row). */
export const OVERLAY = 2;

export interface SeriesState {
  value: SeriesValue;
  updated: number;
  expires: number;
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
  /** Keys in code-unit order, for paged reads; rebuilt lazily from {@link #added} and deletions. */
  #sorted: string[] = [];
  #added: string[] = [];
  #removed = 0;
  /** Label names any series of the family has (the registry checks them for escaping collisions); computed on first use. */
  #labelNames: Set<string> | null = null;

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
    this.#added.push(key);
    return slot;
  }

  set(slot: number, value: SeriesValue, updated: number, expires: number): void {
    if (this.scalar) this.#scalar[slot] = value as number;
    else this.#packed[slot] = value as Float64Array;
    this.#updated[slot] = updated;
    if (expires !== 0 || this.#expires !== null) {
      if (this.#expires === null) this.#expires = new Float64Array(this.#updated.length);
      this.#expires[slot] = expires;
    }
  }

  setChunk(slot: number, chunk: number): void {
    this.#chunk[slot] = chunk;
  }

  remove(slot: number): void {
    const key = this.#keys[slot];
    if (key === undefined) return;
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
   * Keys in code-unit order. Keys added since the last call are sorted on their own and merged in,
   * and removed keys are dropped, so a family that gains a few series between reads is not sorted
   * again whole.
   */
  sortedKeys(): readonly string[] {
    if (this.#added.length === 0 && this.#removed === 0) return this.#sorted;
    const added = this.#added.sort(compare);
    const old = this.#sorted;
    const out: string[] = [];
    let i = 0;
    let j = 0;
    while (i < old.length || j < added.length) {
      const a = old[i];
      const b = added[j];
      let next: string;
      if (b === undefined || (a !== undefined && a < b)) {
        next = a ?? "";
        i++;
      } else {
        next = b;
        j++;
      }
      // Dropped if removed since; a key removed and added again appears in both lists: keep one.
      if (this.slots.has(next) && out[out.length - 1] !== next) out.push(next);
    }
    this.#sorted = out;
    this.#added = [];
    this.#removed = 0;
    return out;
  }

  /** Heap bytes the family's series take beyond their keys (measured in bench/, see README). */
  get columnBytes(): number {
    return this.#updated.byteLength * (this.#expires === null ? 2 : 3) + this.#chunk.byteLength + this.#flags.byteLength;
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
