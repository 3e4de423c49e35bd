/**
 * The registry's directory of one family's series across all shards: for each series (a 52-bit hash
 * of its label key), which shards hold it and which group owns it. It makes two things exact across
 * shards: a series belongs to one group only, and a family's series count (ungrouped writes rotate
 * over shards, so one series may have parts on several). Open addressing on typed arrays: about
 * 24 bytes per series, where a `Map` took about three times that.
 */

/**
 * A 52-bit hash of a label key (two FNV-1a passes over its UTF-16 units): an exact JavaScript
 * number, never 0. Every shard hashes each series new to it (100k for a 100k-series push), so the
 * loop takes four units a step (the same values, about twice as fast). The function itself must not
 * change: during a deployment the registry and the shards may run different versions for minutes
 * (Durable Objects take new code when they next hibernate), and a directory mixing two hash
 * functions would count one series twice and miss a conflict between groups.
 */
export function keyHash(key: string): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  const n = key.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const c0 = key.charCodeAt(i);
    const c1 = key.charCodeAt(i + 1);
    const c2 = key.charCodeAt(i + 2);
    const c3 = key.charCodeAt(i + 3);
    a = Math.imul(a ^ c0, 0x01000193);
    b = Math.imul(b ^ c0, 0x01000193) ^ (b >>> 15);
    a = Math.imul(a ^ c1, 0x01000193);
    b = Math.imul(b ^ c1, 0x01000193) ^ (b >>> 15);
    a = Math.imul(a ^ c2, 0x01000193);
    b = Math.imul(b ^ c2, 0x01000193) ^ (b >>> 15);
    a = Math.imul(a ^ c3, 0x01000193);
    b = Math.imul(b ^ c3, 0x01000193) ^ (b >>> 15);
  }
  for (; i < n; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  const hi = (b >>> 0) & 0xfffff;
  const lo = a >>> 0;
  return hi * 0x100000000 + lo || 1;
}

const EMPTY = 0;
const DELETED = -1;

export class Directory {
  #keys: Float64Array;
  #holders: Uint32Array;
  #owners: Int32Array;
  #size = 0;
  #used = 0;

  constructor(capacity = 16) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.#keys = new Float64Array(n);
    this.#holders = new Uint32Array(n);
    this.#owners = new Int32Array(n);
  }

  /** Series in the directory. */
  get size(): number {
    return this.#size;
  }

  /** The owner group id of a series, or -1 when absent. */
  owner(hash: number): number {
    const i = this.#find(hash);
    return i < 0 ? -1 : (this.#owners[i] ?? -1);
  }

  /** The shards (bit mask) holding a series; 0 when absent. */
  holders(hash: number): number {
    const i = this.#find(hash);
    return i < 0 ? 0 : (this.#holders[i] ?? 0);
  }

  /** Makes room for `more` series at once (one rehash for a big push rather than one at each doubling). */
  reserve(more: number): void {
    let n = this.#keys.length;
    while ((this.#used + more) * 4 > n * 3) n *= 2;
    if (n !== this.#keys.length) this.#rehash(n);
  }

  /** Records that `shard` holds the series, owned by `owner`. Returns whether the series is new to the directory. */
  add(hash: number, shard: number, owner: number): boolean {
    if ((this.#used + 1) * 4 > this.#keys.length * 3) this.#rehash(this.#size + 1 > this.#keys.length / 2 ? this.#keys.length * 2 : this.#keys.length);
    const mask = this.#keys.length - 1;
    let i = slot(hash, mask);
    let tomb = -1;
    for (;;) {
      const k = this.#keys[i] ?? EMPTY;
      if (k === EMPTY) break;
      if (k === hash) {
        this.#holders[i] = (this.#holders[i] ?? 0) | bit(shard);
        this.#owners[i] = owner;
        return false;
      }
      if (k === DELETED && tomb < 0) tomb = i;
      i = (i + 1) & mask;
    }
    if (tomb >= 0) i = tomb;
    else this.#used++;
    this.#keys[i] = hash;
    this.#holders[i] = bit(shard);
    this.#owners[i] = owner;
    this.#size++;
    return true;
  }

  /** Records that `shard` no longer holds the series; it leaves the directory when no shard does. */
  release(hash: number, shard: number): void {
    const i = this.#find(hash);
    if (i < 0) return;
    const left = (this.#holders[i] ?? 0) & ~bit(shard);
    if (left !== 0) {
      this.#holders[i] = left;
      return;
    }
    this.#keys[i] = DELETED;
    this.#holders[i] = 0;
    this.#size--;
  }

  /** Removes a series whatever holds it. */
  delete(hash: number): void {
    const i = this.#find(hash);
    if (i < 0) return;
    this.#keys[i] = DELETED;
    this.#holders[i] = 0;
    this.#size--;
  }

  /** Series per owner id. */
  countByOwner(): Map<number, number> {
    const out = new Map<number, number>();
    for (let i = 0; i < this.#keys.length; i++) {
      const k = this.#keys[i] ?? EMPTY;
      if (k === EMPTY || k === DELETED) continue;
      const o = this.#owners[i] ?? -1;
      out.set(o, (out.get(o) ?? 0) + 1);
    }
    return out;
  }

  /** Heap bytes of the table. */
  get bytes(): number {
    return this.#keys.byteLength + this.#holders.byteLength + this.#owners.byteLength;
  }

  #find(hash: number): number {
    const mask = this.#keys.length - 1;
    let i = slot(hash, mask);
    for (;;) {
      const k = this.#keys[i] ?? EMPTY;
      if (k === EMPTY) return -1;
      if (k === hash) return i;
      i = (i + 1) & mask;
    }
  }

  #rehash(capacity: number): void {
    const keys = this.#keys;
    const holders = this.#holders;
    const owners = this.#owners;
    this.#keys = new Float64Array(capacity);
    this.#holders = new Uint32Array(capacity);
    this.#owners = new Int32Array(capacity);
    this.#size = 0;
    this.#used = 0;
    const mask = capacity - 1;
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j] ?? EMPTY;
      if (k === EMPTY || k === DELETED) continue;
      let i = slot(k, mask);
      while ((this.#keys[i] ?? EMPTY) !== EMPTY) i = (i + 1) & mask;
      this.#keys[i] = k;
      this.#holders[i] = holders[j] ?? 0;
      this.#owners[i] = owners[j] ?? 0;
      this.#size++;
      this.#used++;
    }
  }
}

function slot(hash: number, mask: number): number {
  // murmur3's finalizer: FNV-1a's low bits depend only on the low bits of the characters.
  let h = ((hash % 0x100000000) ^ Math.floor(hash / 0x100000000)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & mask;
}

/** The bit of a shard in a holder mask (SHARDS is at most 32). */
function bit(shard: number): number {
  return (1 << shard) >>> 0;
}
