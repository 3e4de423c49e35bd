// The registry's directory (open addressing on typed arrays) against a Map: the same owners,
// holders and size through any mix of adds, releases, deletes and reservations.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Directory, keyHash } from "../src/aggregator/directory";

describe("series directory", () => {
  it("answers as a Map would through adds, releases, deletes and reservations", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("add" as const), key: fc.integer({ min: 0, max: 300 }), shard: fc.integer({ min: 0, max: 31 }), owner: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant("release" as const), key: fc.integer({ min: 0, max: 300 }), shard: fc.integer({ min: 0, max: 31 }) }),
      fc.record({ kind: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 300 }) }),
      fc.record({ kind: fc.constant("reserve" as const), more: fc.integer({ min: 0, max: 500 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 20, maxLength: 400, size: "max" }), (ops) => {
        const dir = new Directory();
        const model = new Map<number, { holders: number; owner: number }>();
        for (const o of ops) {
          if (o.kind === "reserve") {
            dir.reserve(o.more);
            continue;
          }
          const hash = keyHash(`k="${o.key}"`);
          if (o.kind === "add") {
            const known = model.get(hash);
            expect(dir.add(hash, o.shard, o.owner)).toBe(known === undefined);
            model.set(hash, { holders: ((known?.holders ?? 0) | (1 << o.shard)) >>> 0, owner: o.owner });
          } else if (o.kind === "release") {
            dir.release(hash, o.shard);
            const known = model.get(hash);
            if (known !== undefined) {
              const left = (known.holders & ~(1 << o.shard)) >>> 0;
              if (left === 0) model.delete(hash);
              else known.holders = left;
            }
          } else {
            dir.delete(hash);
            model.delete(hash);
          }
        }
        expect(dir.size).toBe(model.size);
        for (let key = 0; key <= 300; key++) {
          const hash = keyHash(`k="${key}"`);
          const known = model.get(hash);
          expect([dir.owner(hash), dir.holders(hash)]).toEqual(known === undefined ? [-1, 0] : [known.owner, known.holders]);
        }
      }),
      { numRuns: 200, seed: 20261202 },
    );
  });

  it("hashes as the previous release did (two FNV-1a passes a unit at a time), for any key", () => {
    // The reference: the one-unit-a-step loop every release before this one ran. Shards and the
    // registry may run different releases during a deployment, so the values must never change.
    const reference = (key: string): number => {
      let a = 0x811c9dc5;
      let b = 0x050c5d1f;
      for (let i = 0; i < key.length; i++) {
        const c = key.charCodeAt(i);
        a = Math.imul(a ^ c, 0x01000193);
        b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
      }
      return ((b >>> 0) & 0xfffff) * 0x100000000 + (a >>> 0) || 1;
    };
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (key) => {
        expect(keyHash(key)).toBe(reference(key));
      }),
      { numRuns: 2_000, seed: 20261202 },
    );
    // Values of the previous release, pinned.
    expect([keyHash(""), keyHash('a="1"'), keyHash('code="200",path="/x"')]).toEqual([3480089612033477, 3530963353421900, 4120689639085500]);
  });

  it("hashes label keys to distinct 52-bit integers, whatever unit of the key differs", () => {
    const seen = new Map<number, string>();
    const add = (key: string) => {
      const h = keyHash(key);
      expect(Number.isSafeInteger(h) && h > 0 && h < 2 ** 52, key).toBe(true);
      expect(keyHash(key)).toBe(h);
      const other = seen.get(h);
      if (other !== undefined && other !== key) expect.fail(`"${key}" and "${other}" hash alike`);
      seen.set(h, key);
    };
    // Similar keys: one counter apart, in every position of a two-unit step.
    for (let i = 0; i < 100_000; i++) add(`code="${i % 3}",path="/api/v1/items/${i}",x="${i % 7}"`);
    for (let i = 0; i < 20_000; i++) add(`a="${i}"`);
    // One unit differing at each position, in the low and high half of a step, and a trailing unit.
    const base = 'host="h",job="j",le="0.5"';
    for (let at = 0; at < base.length; at++) for (const c of ["x", "\u00e9", "\u4e2d", "\ud83d"]) add(`${base.slice(0, at)}${c}${base.slice(at + 1)}`);
    add(base);
    add(`${base}x`);
    add("");
    // Two units swapped.
    add("ab");
    add("ba");
  });
});

