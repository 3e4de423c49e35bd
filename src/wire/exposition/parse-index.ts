/** A sample's labels as positions in the body (LabelScan), their order-independent hash, and the open-addressing index of a family's series. */

import { BSLASH, EQ, QUOTE } from "./parse-chars";

// Series are found by the hash of their key: the sum of its pairs' hashes, so that it is the same
// for any label order and a pair can be taken out (`le`), each pair's hash being FNV-1a over its
// name, NAME_END (not a code unit) and its value as the key writes them, then mixed. Each parse
// starts FNV from a random offset, so a body cannot be built to make every series collide.
export const FNV_PRIME = 0x01000193;
export const NAME_END = 0x10000;

/** The hash of a canonical key's text (see above): what the label scan computes for plain labels. */
export function hashKey(key: string, seed: number): number {
  let sum = 0;
  const n = key.length;
  let i = 0;
  while (i < n) {
    let h = seed;
    let c = key.charCodeAt(i);
    if (c === QUOTE) {
      // A quoted name, hashed with its quotes and escapes as written.
      h = Math.imul(h ^ c, FNV_PRIME);
      for (c = key.charCodeAt(++i); c !== QUOTE; c = key.charCodeAt(++i)) {
        h = Math.imul(h ^ c, FNV_PRIME);
        if (c === BSLASH) h = Math.imul(h ^ key.charCodeAt(++i), FNV_PRIME);
      }
      h = Math.imul(h ^ c, FNV_PRIME);
      i++;
    } else {
      for (; c !== EQ; c = key.charCodeAt(++i)) h = Math.imul(h ^ c, FNV_PRIME);
    }
    h = Math.imul(h ^ NAME_END, FNV_PRIME);
    // i is at '=', the value's quote follows.
    for (i += 2, c = key.charCodeAt(i); c !== QUOTE; c = key.charCodeAt(++i)) {
      h = Math.imul(h ^ c, FNV_PRIME);
      if (c === BSLASH) h = Math.imul(h ^ key.charCodeAt(++i), FNV_PRIME);
    }
    sum = (sum + mix(h)) | 0;
    i += 2; // the quote and the comma
  }
  return sum;
}

/** murmur3's finalizer: FNV's low bits, the table index, depend only on the code units' low bits. */
export function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The labels of one sample as positions in the body, so that a sample of an existing series
 * (a histogram bucket, say) allocates no strings. Quoted names and escaped values, which differ
 * from their source text, are kept decoded in `nq` / `vq`.
 */
export class LabelScan {
  n = 0;
  readonly ns: number[] = [];
  readonly ne: number[] = [];
  /** Where each value starts, and where its closing quote is. */
  readonly vs: number[] = [];
  readonly ve: number[] = [];
  readonly nq: (string | undefined)[] = [];
  readonly vq: (string | undefined)[] = [];
  /** Index of the le / quantile / state label, or -1. */
  special = -1;
  /**
   * Every pair is written exactly as the canonical key renders it: a legacy name, `="`, the value
   * with no escapes but `\\ \" \n`, `"`, with no blanks between pairs but one ','; no value empty.
   */
  plain = true;
  /** Names strictly ascending (UTF-16 order), so none repeats. */
  sorted = true;
  /** `Parser.scanGeneration` when every name was the cached one at its index, else -1. */
  generation = -1;
  /** Each pair's hash (see `hashKey`), and their sum: the key's hash when plain (less a skipped pair's). */
  readonly ph: number[] = [];
  hash = 0;

  /** No labels: the empty key, whose hash is 0. */
  reset(): void {
    this.n = 0;
    this.special = -1;
    this.plain = true;
    this.sorted = true;
    this.generation = -1;
    this.hash = 0;
  }
}

/**
 * The series of the open family by key, in an open-addressing table of `[hash, number + 1]` pairs,
 * where `number` counts the body's series: the open family's are those from `first` on, and its
 * `n`th series is number `first + n`. A Map would allocate per entry and hash every key again, where
 * the label scan has hashed most keys already; equal hashes are told apart by comparing the keys.
 * Only the open family is looked up, so one table serves them all: another family's entry counts
 * as empty, and nothing needs clearing. It is sized from the body length up front, up to 64k pairs
 * (512 kB) unless a family needs more: a lookup is mostly a cache miss, and a smaller table misses
 * less. A text-format family whose lines come back after another family's (see `Parser.reopen`)
 * moves to a table of its own (`extract`), once, so that switching families costs nothing more.
 */
export class SeriesIndex {
  table: Int32Array;
  mask: number;
  /** The open family's first series number, and how many series the body has had. */
  first = 0;
  count = 0;
  /** The hash the last `find` looked for. */
  hash = 0;
  /** Where each series' first labels are in the body (see `Parser.labelsAt`), by number. */
  labelsAt: Int32Array;
  /** Each series' hash, by number (for `extract`). */
  hashes: Int32Array;

  /** A table of `slots` pairs (a power of two) for about `capacity` series before it grows. */
  constructor(slots: number, capacity: number) {
    this.table = new Int32Array(slots * 2);
    this.mask = slots - 1;
    this.labelsAt = new Int32Array(capacity);
    this.hashes = new Int32Array(capacity);
  }

  /** The table for a whole body. */
  static forBody(bodyLength: number): SeriesIndex {
    // One pair per 64 bytes of body: a line is rarely shorter, and the table grows if it is. Small
    // bodies get small arrays (a 300-byte push allocating 16 KB of them spent 4% of its time there).
    let slots = 16;
    while (slots < 65536 && slots * 64 < bodyLength) slots *= 2;
    return new SeriesIndex(slots, Math.min(1024, slots));
  }

  /** A table of its own for the `n` series numbered from `first` (a family, see above), numbered from 0. */
  extract(first: number, n: number): SeriesIndex {
    let slots = 8;
    while (slots * 3 < n * 4 + 4) slots *= 2;
    const own = new SeriesIndex(slots, Math.max(8, n));
    for (let k = 0; k < n; k++) {
      const hash = this.hashes[first + k] ?? 0;
      let b = hash & own.mask;
      while ((own.table[2 * b + 1] ?? 0) !== 0) b = (b + 1) & own.mask;
      own.hash = hash;
      own.add(~b, this.labelsAt[first + k] ?? -1);
    }
    return own;
  }

  /** Starts indexing a new family. */
  open(): void {
    this.first = this.count;
  }

  /**
   * The slot of `key` (>= 0), or `~slot` for the empty slot it would take (for `add`). `keys` are
   * the family's, by index; with `own`, only series whose `own` key is "" count (see `scalar`).
   */
  find(hash: number, key: string, keys: readonly string[], own: readonly string[] | undefined): number {
    const table = this.table;
    const mask = this.mask;
    const first = this.first;
    this.hash = hash;
    for (let b = hash & mask; ; b = (b + 1) & mask) {
      const number = (table[2 * b + 1] ?? 0) - 1;
      if (number < first) return ~b;
      if (table[2 * b] === hash && keys[number - first] === key && (own === undefined || own[number - first] === "")) return b;
    }
  }

  /** The index in its family of the series in slot `b`. */
  index(b: number): number {
    return (this.table[2 * b + 1] ?? 0) - 1 - this.first;
  }

  /** Fills the empty slot `~miss` that the last `find` returned with the family's next series. */
  add(miss: number, labelsAt: number): void {
    const b = ~miss;
    this.table[2 * b] = this.hash;
    if (this.count === this.labelsAt.length) {
      const grown = new Int32Array(this.count * 2);
      grown.set(this.labelsAt);
      this.labelsAt = grown;
      const hashes = new Int32Array(this.count * 2);
      hashes.set(this.hashes);
      this.hashes = hashes;
    }
    this.labelsAt[this.count] = labelsAt;
    this.hashes[this.count] = this.hash;
    this.table[2 * b + 1] = ++this.count;
    // Up to 3/4 full: probing a few more neighbours, mostly in the same cache line, costs less than
    // the cache misses of a larger table.
    if ((this.count - this.first) * 4 > (this.mask + 1) * 3) this.grow();
  }

  /** Twice as large, keeping the open family's entries. */
  grow(): void {
    const old = this.table;
    const table = new Int32Array(old.length * 2);
    const mask = this.mask * 2 + 1;
    for (let e = 0; e < old.length; e += 2) {
      const number = (old[e + 1] ?? 0) - 1;
      if (number < this.first) continue;
      const hash = old[e] ?? 0;
      let b = hash & mask;
      while ((table[2 * b + 1] ?? 0) !== 0) b = (b + 1) & mask;
      table[2 * b] = hash;
      table[2 * b + 1] = number + 1;
    }
    this.table = table;
    this.mask = mask;
  }
}
