/**
 * The binary form of packed rows: a chunk of a group's series, a batch of stale markers, or a
 * source's last pushed values, each one SQLite BLOB. Storing many series per row is what makes rows
 * written grow with what changed and not with the size of a push (docs/storage.md).
 *
 * Layout (little-endian): `u8 version` `u32 families` then per family `u8 type` `u32 bytes` `name`,
 * `u32 series` then per series `u32 family index` `u32 bytes` `key` `f64 updated` `f64 expires`
 * `u32 n` and the value: one f64 when `n` is 0 (counters, gauges, untyped), else `n` f64s (the packed
 * histogram or summary). NaN payloads are kept bit for bit.
 */
import type { MetricType } from "../common/model";
import type { SeriesValue } from "../common/model";

const VERSION = 1;
const TYPES: readonly MetricType[] = ["counter", "gauge", "untyped", "histogram", "summary"];

/** One series of a packed row. */
export interface PackedSeries {
  family: string;
  type: MetricType;
  key: string;
  value: SeriesValue;
  updated: number;
  expires: number;
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * Writes `s` as UTF-8 at `buf[at]` and returns the bytes written. Keys are almost always ASCII:
 * those are copied char by char (a 100k-series push spent most of its encoding time creating a
 * `subarray` view per key for `encodeInto`); the rest of a string from its first other character
 * goes through `encodeInto`. `buf` has room for 3 bytes per UTF-16 unit.
 */
function writeUtf8(buf: Uint8Array, at: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return i + utf8.encodeInto(s.slice(i), buf.subarray(at + i)).written;
    buf[at + i] = c;
  }
  return n;
}

/** Encodes series into one row's bytes. */
export function encodePacked(series: readonly PackedSeries[]): Uint8Array {
  const familyIndex = new Map<string, number>();
  const families: PackedSeries[] = [];
  let size = 1 + 4 + 4;
  for (const s of series) {
    if (!familyIndex.has(s.family)) {
      familyIndex.set(s.family, families.length);
      families.push(s);
      size += 1 + 4 + s.family.length * 3;
    }
    size += 4 + 4 + s.key.length * 3 + 8 + 8 + 4 + (typeof s.value === "number" ? 8 : s.value.length * 8);
  }
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  let p = 0;
  buf[p++] = VERSION;
  view.setUint32(p, families.length, true);
  p += 4;
  for (const f of families) {
    buf[p++] = TYPES.indexOf(f.type);
    const n = writeUtf8(buf, p + 4, f.family);
    view.setUint32(p, n, true);
    p += 4 + n;
  }
  view.setUint32(p, series.length, true);
  p += 4;
  for (const s of series) {
    view.setUint32(p, familyIndex.get(s.family) ?? 0, true);
    const n = writeUtf8(buf, p + 8, s.key);
    view.setUint32(p + 4, n, true);
    p += 8 + n;
    view.setFloat64(p, s.updated, true);
    view.setFloat64(p + 8, s.expires, true);
    p += 16;
    const v = s.value;
    if (typeof v === "number") {
      view.setUint32(p, 0, true);
      p += 4;
      view.setFloat64(p, v, true);
      p += 8;
    } else {
      view.setUint32(p, v.length, true);
      p += 4;
      // Copied as bytes, not through JS numbers, so NaN payloads survive.
      buf.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), p);
      p += v.byteLength;
    }
  }
  return buf.slice(0, p);
}

/** Decodes a row's bytes; throws on a malformed or truncated row. */
export function decodePacked(bytes: ArrayBuffer | Uint8Array): PackedSeries[] {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  const need = (n: number) => {
    if (p + n > buf.length) throw new Error(`packed row truncated at byte ${p} of ${buf.length}`);
  };
  need(5);
  if (buf[p++] !== VERSION) throw new Error(`packed row has version ${buf[0]}, expected ${VERSION}`);
  const familyCount = view.getUint32(p, true);
  p += 4;
  const families: { name: string; type: MetricType }[] = [];
  for (let i = 0; i < familyCount; i++) {
    need(5);
    const type = TYPES[buf[p++] ?? 255];
    const n = view.getUint32(p, true);
    p += 4;
    need(n);
    if (type === undefined) throw new Error(`packed row has an unknown metric type at byte ${p - 5}`);
    families.push({ name: text.decode(buf.subarray(p, p + n)), type });
    p += n;
  }
  need(4);
  const count = view.getUint32(p, true);
  p += 4;
  const out: PackedSeries[] = [];
  for (let i = 0; i < count; i++) {
    need(8);
    const family = families[view.getUint32(p, true)];
    const n = view.getUint32(p + 4, true);
    p += 8;
    need(n + 20);
    if (family === undefined) throw new Error(`packed row names a family it does not list at byte ${p - 8}`);
    const key = text.decode(buf.subarray(p, p + n));
    p += n;
    const updated = view.getFloat64(p, true);
    const expires = view.getFloat64(p + 8, true);
    const len = view.getUint32(p + 16, true);
    p += 20;
    let value: SeriesValue;
    if (len === 0) {
      need(8);
      value = view.getFloat64(p, true);
      p += 8;
    } else {
      need(len * 8);
      const packed = new Float64Array(len);
      new Uint8Array(packed.buffer).set(buf.subarray(p, p + len * 8));
      value = packed;
      p += len * 8;
    }
    out.push({ family: family.name, type: family.type, key, value, updated, expires });
  }
  return out;
}
