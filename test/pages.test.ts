// Paged reads of a shard: the pages, concatenated, are every live series exactly once, in
// (family, key) order, whatever the page size and the families' sizes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readPage, type Cursor } from "../src/aggregator/pages";
import { ShardState } from "../src/aggregator/state";

/** A shard state with `sizes[f]` series in family `f` (some with an empty label set). */
function stateWith(sizes: readonly number[], helpChars = 0): { state: ShardState; expected: string[] } {
  const state = new ShardState();
  const group = state.group("");
  const chunk = state.newChunk(group);
  const expected: string[] = [];
  sizes.forEach((n, f) => {
    const name = `fam_${String(f).padStart(4, "0")}`;
    const family = state.family(name, "gauge", "h".repeat(helpChars), "");
    const keys = Array.from({ length: n }, (_, i) => (i === 0 ? "" : `i="${String(i).padStart(5, "0")}"`));
    for (const key of keys) state.addSeries(family, key, 1, 0, 0, chunk, 0);
    for (const key of [...keys].sort()) expected.push(`${name}{${key}}`);
  });
  return { state, expected };
}

function readAll(state: ShardState, maxBytes: number): { series: string[]; pages: number } {
  const series: string[] = [];
  let after: Cursor | null = null;
  let pages = 0;
  for (;;) {
    const page = readPage(state, { after, maxBytes, now: 1 });
    pages++;
    for (const f of page.families) for (const key of f.keys) series.push(`${f.name}{${key}}`);
    if (page.next === null) return { series, pages };
    after = page.next;
    if (pages > 1_000_000) throw new Error("paging does not end");
  }
}

describe("paged reads", () => {
  it("hands over 1,100 families of 100 series in pages, every series once (the bench's preload)", () => {
    const { state, expected } = stateWith(Array.from({ length: 1100 }, () => 100));
    const { series, pages } = readAll(state, 512 * 1024);
    expect(series).toEqual(expected);
    // 1,100 x (99 x 66 + 48 + 100) bytes as pages count them, 512 KiB a page: 7,350,200 / 524,288 -> 15 pages.
    expect(pages).toBe(15);
  });

  it("ends a page when family headers alone fill it, and resumes where it stopped", () => {
    const { state, expected } = stateWith(Array.from({ length: 50 }, () => 3), 4000);
    expect(readAll(state, 10_000).series).toEqual(expected);
  });

  it("gives every series once in order for any family sizes and page size", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 30 }), fc.integer({ min: 1, max: 5000 }), (sizes, maxBytes) => {
        const { state, expected } = stateWith(sizes);
        expect(readAll(state, maxBytes).series).toEqual(expected);
      }),
      { numRuns: 300, seed: 20261201 },
    );
  });
});
