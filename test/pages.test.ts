// Paged reads of a shard: the pages, concatenated, are every live series exactly once, in
// (family, key) order, whatever the page size and the families' sizes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FamilyState } from "../src/aggregator/family";
import { pieces, readPage, TEXT_PIECE, type Cursor } from "../src/aggregator/pages";
import { RENDER_CACHE_BYTES, ShardState, textBytes } from "../src/aggregator/state";

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

  it.each([
    ["a few keys: slots taken again, merged in one by one", 7, 120],
    ["many keys: more added between reads than are remembered one by one (sorted whole)", 400, 900],
  ])("keeps a family's slots in key order through adds, removals and reads (%s)", (_, maxKey, maxOps) => {
    // Slots are reused after a removal, so a slot's old place in the order goes stale: the kept order
    // must follow the keys, not the slots.
    // Reads one op in ~2 for a few keys, one in ~40 for many (so that reads find long runs of adds).
    const readWeight = maxKey > 100 ? 1 : 20;
    const op = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("add" as const), key: fc.integer({ min: 0, max: maxKey }) }), weight: 30 },
      { arbitrary: fc.record({ kind: fc.constant("remove" as const), key: fc.integer({ min: 0, max: maxKey }) }), weight: 10 },
      { arbitrary: fc.record({ kind: fc.constant("read" as const) }), weight: readWeight },
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 10, maxLength: maxOps, size: "max" }), (ops) => {
        const family = new FamilyState("f", "gauge", "", "");
        const held = new Set<string>();
        const check = (): void => {
          const order = [...family.sortedSlots()].map((slot) => family.key(slot));
          expect(order).toEqual([...held].sort());
          for (const key of held) expect(family.key(family.slot(key))).toBe(key);
        };
        for (const o of ops) {
          if (o.kind === "read") check();
          else {
            const key = `k="${String(o.key).padStart(3, "0")}"`;
            const slot = family.slot(key);
            if (o.kind === "add" && slot < 0) {
              family.add(key, 1, 0, 0, 0, 0);
              held.add(key);
            } else if (o.kind === "remove" && slot >= 0) {
              family.remove(slot);
              held.delete(key);
            }
          }
        }
        check();
      }),
      { numRuns: maxKey > 100 ? 40 : 500, seed: 20261202 },
    );
  });

  it("keeps rendered text within the shard's budget and gives the room back when a family goes", () => {
    const state = new ShardState();
    const a = state.family("a", "gauge", "", "");
    const b = state.family("b", "gauge", "", "");
    const text = (n: number) => ({ options: "text/underscores", version: 0, epoch: 0, validFrom: 0, validUntil: Infinity, leftOut: [], text: "x".repeat(n), bytes: n, series: 1, omitted: {} });
    state.keepRendered(a, text(RENDER_CACHE_BYTES - 10));
    expect(state.renderedBytes).toBe(RENDER_CACHE_BYTES - 10);
    state.keepRendered(b, text(11));
    expect(b.rendered).toBeNull();
    expect(state.renderedBytes).toBe(RENDER_CACHE_BYTES - 10);
    state.keepRendered(b, text(10));
    expect(b.rendered?.text.length).toBe(10);
    expect(state.renderedBytes).toBe(RENDER_CACHE_BYTES);
    // Replacing a family's text counts only the new one; a family dropped, or retyped, gives its room back.
    state.keepRendered(b, text(4));
    expect(state.renderedBytes).toBe(RENDER_CACHE_BYTES - 6);
    state.dropFamily("a");
    expect(state.renderedBytes).toBe(4);
    state.family("b", "counter", "", "");
    expect(state.renderedBytes).toBe(0);
    const retyped = state.families.get("b") ?? b;
    state.keepRendered(retyped, text(4));
    state.forgetAllRendered();
    expect([retyped.rendered, state.renderedBytes]).toEqual([null, 0]);
    // Text beyond Latin-1 takes two bytes a character.
    expect([textBytes("ab"), textBytes("aé"), textBytes("a😱")]).toEqual([2, 2, 6]);
  });

  it("renders a family whole for a scrape and keeps it only within the budget it is given", () => {
    const { state } = stateWith([3, 2]);
    const request = { after: null, maxBytes: 1 << 20, now: 1, render: { openmetrics: false, escaping: "underscores" as const } };
    const texts = (budget: number) => readPage(state, request, budget).families.map((f) => f.rendered?.text.join(""));
    expect(texts(0)).toEqual(['fam_0000 1\nfam_0000{i="00001"} 1\nfam_0000{i="00002"} 1\n', 'fam_0001 1\nfam_0001{i="00001"} 1\n']);
    expect(state.renderedBytes).toBe(0);
    // 60 bytes: room for the first (55 bytes), not the second (33).
    texts(60);
    expect(state.renderedBytes).toBe(55);
    texts(1 << 20);
    expect(state.renderedBytes).toBe(55 + 33);
  });

  it("gives a family pushed whole exactly the room it needs, and doubles for small additions", () => {
    const family = new FamilyState("f", "gauge", "", "");
    const perSlot = 8 + 8 + 4 + 1; // value, last write, chunk, flags
    family.reserve(100);
    for (let i = 0; i < 100; i++) family.add(`i="${i}"`, i, 0, 0, 0, 0);
    expect(family.columnBytes).toBe(100 * perSlot);
    family.reserve(1);
    family.add('i="x"', 1, 0, 0, 0, 0);
    expect(family.columnBytes).toBe(200 * perSlot);
    // Room freed by removals is used first: 101 slots, 60 free, 400 more need 441.
    for (let i = 0; i < 60; i++) family.remove(family.slot(`i="${i}"`));
    family.reserve(100);
    expect(family.columnBytes).toBe(200 * perSlot);
    family.reserve(400);
    expect(family.columnBytes).toBe(441 * perSlot);
  });

  it("cuts rendered text into pieces of at most 32K characters at line ends, never inside a surrogate pair", () => {
    const line = (n: number) => `${"x".repeat(n - 1)}\n`;
    expect(pieces("a 1\n")).toEqual(["a 1\n"]);
    const lines = Array.from({ length: 3000 }, (_, i) => line(20 + (i % 17))).join("");
    const cut = pieces(lines);
    expect(cut.join("")).toBe(lines);
    for (const p of cut) {
      expect(p.length).toBeLessThanOrEqual(TEXT_PIECE);
      expect(p.endsWith("\n")).toBe(true);
    }
    // One line longer than a piece, with a pair where the cut would fall.
    const long = `${"y".repeat(TEXT_PIECE - 1)}😱${"z".repeat(100)}\n`;
    const parts = pieces(long);
    expect(parts.join("")).toBe(long);
    expect(parts[0]?.length).toBe(TEXT_PIECE - 1);
    for (const p of parts) expect(new TextDecoder().decode(new TextEncoder().encode(p))).toBe(p);
  });

  it("gives the room of a family's kept text back when the family grows past a page", () => {
    const { state } = stateWith([1]);
    const render = { openmetrics: false, escaping: "underscores" } as const;
    readPage(state, { after: null, maxBytes: 1000, now: 1, render });
    expect(state.renderedBytes).toBeGreaterThan(0);
    const family = state.families.get("fam_0000");
    const chunk = state.newChunk(state.group(""));
    for (let i = 1; i < 40 && family !== undefined; i++) state.addSeries(family, `a="${i}"`, 1, 0, 0, chunk, 0);
    expect(readPage(state, { after: null, maxBytes: 1000, now: 1, render }).families[0]?.rendered).toBeUndefined();
    expect(state.renderedBytes).toBe(0);
  });

  it("does not render again a family whose text came out over a page until the family changes", () => {
    // 20 series of ~90-character lines: over a 1,500-byte page as text, though 20 x 48 bytes is not.
    const state = new ShardState();
    const chunk = state.newChunk(state.group(""));
    const family = state.family("long_keys", "gauge", "", "");
    for (let i = 0; i < 20; i++) state.addSeries(family, `path="/api/v1/items/${"x".repeat(50)}/${String(i).padStart(3, "0")}"`, 1, 0, 0, chunk, 0);
    const render = { openmetrics: false, escaping: "underscores" } as const;
    // Rendering reads the family's sorted slots once, and so do its columns.
    let sorts = 0;
    const sortedSlots = family.sortedSlots.bind(family);
    family.sortedSlots = () => {
      sorts++;
      return sortedSlots();
    };
    const read = () => readPage(state, { after: null, maxBytes: 1_500, now: 1, render });
    const first = read();
    expect(first.families[0]?.rendered).toBeUndefined();
    expect(first.families[0]?.keys.length).toBeGreaterThan(0);
    expect(sorts).toBe(2);
    // The same family again: columns only, no rendering thrown away.
    const second = read();
    expect(second.families[0]?.keys).toEqual(first.families[0]?.keys);
    expect(sorts).toBe(3);
    // A larger page, or a change to the family, is worth one more try.
    readPage(state, { after: null, maxBytes: 100_000, now: 1, render });
    expect(sorts).toBe(4);
    expect(state.renderedBytes).toBeGreaterThan(0);
    state.addSeries(family, 'z="1"', 1, 0, 0, chunk, 0);
    read();
    expect(sorts).toBe(6);
  });
});

