/**
 * When ungrouped series expire: a binary min-heap of (expiry, family, key). A rewrite pushes a new
 * entry instead of moving the old one, so entries are checked against the series when they come
 * out (stale ones are dropped), and the heap is rebuilt when stale entries outnumber live ones.
 */
import type { FamilyState } from "./family";

interface Entry {
  at: number;
  family: FamilyState;
  key: string;
}

export class ExpiryHeap {
  #heap: Entry[] = [];

  get size(): number {
    return this.#heap.length;
  }

  push(at: number, family: FamilyState, key: string): void {
    const heap = this.#heap;
    heap.push({ at, family, key });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent];
      const c = heap[i];
      if (p === undefined || c === undefined || p.at <= c.at) break;
      heap[parent] = c;
      heap[i] = p;
      i = parent;
    }
  }

  /** The earliest entry still current (`isCurrent` decides), dropping stale ones on the way; undefined when none. */
  peek(isCurrent: (entry: Entry) => boolean): Entry | undefined {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined) return undefined;
      if (isCurrent(top)) return top;
      this.#pop();
    }
  }

  /** Removes and returns the earliest entry. */
  pop(): Entry | undefined {
    return this.#pop();
  }

  /** Replaces the heap's entries (a rebuild from the live series). */
  reset(entries: Entry[]): void {
    this.#heap = [];
    for (const e of entries) this.push(e.at, e.family, e.key);
  }

  #pop(): Entry | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if ((heap[l]?.at ?? Infinity) < (heap[m]?.at ?? Infinity)) m = l;
      if ((heap[r]?.at ?? Infinity) < (heap[m]?.at ?? Infinity)) m = r;
      if (m === i) break;
      const a = heap[i];
      const b = heap[m];
      if (a === undefined || b === undefined) break;
      heap[i] = b;
      heap[m] = a;
      i = m;
    }
    return top;
  }
}
