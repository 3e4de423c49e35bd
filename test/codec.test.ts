// The packed-row codec (src/aggregator/codec.ts): what a chunk, a stale batch or a source's values
// are stored as. Every series must come back exactly: keys and family names in any script, values
// bit for bit (NaN payloads included), times as given.
import { describe, expect, it } from "vitest";
import { decodePacked, encodePacked, type PackedSeries } from "../src/aggregator/codec";

function nanWithPayload(bits: bigint): number {
  const b = new BigUint64Array([bits]);
  return new Float64Array(b.buffer)[0] ?? 0;
}

function bitsOf(v: number): bigint {
  return new BigUint64Array(new Float64Array([v]).buffer)[0] ?? 0n;
}

describe("packed rows", () => {
  it("round-trips ASCII and non-ASCII keys and family names, wherever the non-ASCII text starts", () => {
    const keys = [
      "",
      'code="200",path="/api/v1/items/42"',
      'city="Zürich"',
      'é="1"',
      'emoji="🙂 ok",x="y"',
      'path="/a",note="日本語のラベル",z="tail ascii after"',
      '"quoted.name"="a\\"b\\\\c\\nd"',
    ];
    const series: PackedSeries[] = keys.map((key, i) => ({
      family: i % 2 === 0 ? "requests_total" : "température_°C",
      type: i % 2 === 0 ? "counter" : "gauge",
      key,
      value: i * 1.5,
      updated: 1_700_000_000_000 + i,
      expires: i === 3 ? 1_800_000_000_000 : 0,
    }));
    expect(decodePacked(encodePacked(series))).toEqual(series);
  });

  it("keeps packed histogram values and NaN payloads bit for bit", () => {
    // A scalar is a JS number on its way in, and a signalling NaN does not survive that (the CPU
    // quiets it), so the scalar case uses a quiet NaN with a payload.
    const payloadNaN = nanWithPayload(0x7ff8000000000002n);
    const packed = new Float64Array([3, 10, 0.5, 1, Infinity, 2, 3, 10]);
    // Set through the bits: a NaN passed around as a JS number may lose its payload.
    new BigUint64Array(packed.buffer)[1] = 0x7ff8000000000123n;
    const series: PackedSeries[] = [
      { family: "h", type: "histogram", key: 'le_free="x"', value: packed, updated: 1, expires: 2 },
      { family: "g", type: "gauge", key: "", value: payloadNaN, updated: 3, expires: 0 },
    ];
    const [h, g] = decodePacked(encodePacked(series));
    expect(h?.value).toBeInstanceOf(Float64Array);
    const decoded = h?.value as Float64Array;
    expect([...new BigUint64Array(decoded.buffer)]).toEqual([...new BigUint64Array(packed.buffer)]);
    expect(new BigUint64Array(decoded.buffer)[1]).toBe(0x7ff8000000000123n);
    expect(bitsOf(g?.value as number)).toBe(0x7ff8000000000002n);
  });

  it("rejects a truncated row instead of inventing series", () => {
    const bytes = encodePacked([{ family: "a", type: "gauge", key: 'x="1"', value: 1, updated: 0, expires: 0 }]);
    for (const cut of [1, 5, bytes.length - 1]) expect(() => decodePacked(bytes.subarray(0, cut))).toThrow(/truncated/);
  });
});
