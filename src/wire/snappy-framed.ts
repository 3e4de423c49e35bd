/** Decodes `Content-Encoding: snappy` request bodies: the snappy framing format, or a bare snappy block. */

// The Pushgateway reads snappy bodies with Go's `snappy.NewReader`, i.e. the framing format
// (github.com/google/snappy framing_format.txt): a stream identifier chunk, then chunks of at most
// 64 KiB of uncompressed data, each with a masked CRC-32C. Some clients send one bare block instead.
//
// The block decoder is our own rather than snappyjs's `uncompress`: snappyjs does not check that a
// block fills exactly its declared length (a corrupt block comes back zero-padded or cut short, with
// no error), and reads declared lengths of 2^31 and above as negative numbers, which fail as a
// RangeError instead of a limit. Snappy blocks are a few dozen lines to decode strictly.

import { GatewayError } from "../common/errors";

/** The framing format's stream identifier chunk: type 0xff, length 6, "sNaPpY". */
const STREAM_IDENTIFIER = [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59];

/** The most uncompressed data one framed chunk may carry. */
const MAX_CHUNK_DATA = 65536;

/** Literals and copies shorter than this are moved byte by byte rather than with `set` / `copyWithin`. */
const SHORT = 32;

const COMPRESSED = 0x00;
const UNCOMPRESSED = 0x01;
const IDENTIFIER = 0xff;

/**
 * Decompresses a snappy request body: the framing format when it starts with the stream identifier
 * (`ff 06 00 00 73 4e 61 50 70 59`), else a single snappy block.
 *
 * The total decompressed size is checked against `maxBytes` from the declared lengths before
 * anything is allocated or decoded, so a small body that claims gigabytes costs nothing. Every
 * framed data chunk's CRC-32C is verified.
 *
 * Throws `GatewayError("LimitExceeded")` past `maxBytes`, `GatewayError("ParseError")` with the byte
 * offset for corrupt input (bad CRC, reserved chunk type, truncated chunk, invalid block).
 *
 * @example
 * decodeSnappy(new Uint8Array(await request.arrayBuffer()), 1 << 20) // the uncompressed body
 */
export function decodeSnappy(body: Uint8Array, maxBytes: number): Uint8Array {
  // An empty body is an empty stream, as Go's snappy.Reader reads it.
  if (body.length === 0) return body;
  if (isFramed(body)) return decodeFramed(body, maxBytes);
  const [size, at] = blockLength(body, 0, body.length, Infinity);
  if (size > maxBytes) throw tooLarge(maxBytes, `a snappy block that declares ${size} bytes`);
  const out = new Uint8Array(size);
  decodeBlock(body, at, body.length, out, 0, size);
  return out;
}

/**
 * Whether the body starts with the stream identifier. No valid block does: read as a block, those
 * bytes are a 1-byte literal followed by a copy from 1,884,315,982 bytes back.
 */
function isFramed(body: Uint8Array): boolean {
  if (body.length < STREAM_IDENTIFIER.length) return false;
  for (let i = 0; i < STREAM_IDENTIFIER.length; i++) if (body[i] !== STREAM_IDENTIFIER[i]) return false;
  return true;
}

/**
 * Two passes: the first walks the chunk headers, checking structure and summing declared sizes
 * against the limit; the second decodes each chunk into its place in one exact-size buffer.
 */
function decodeFramed(body: Uint8Array, maxBytes: number): Uint8Array {
  let total = 0;
  forEachChunk(body, (type, start, end) => {
    if (type === COMPRESSED) total += blockLength(body, start + 4, end, MAX_CHUNK_DATA)[0];
    else total += end - start - 4;
    if (total > maxBytes) throw tooLarge(maxBytes, `the snappy chunks up to byte ${end} already hold ${total}`);
  });
  const out = new Uint8Array(total);
  let at = 0;
  forEachChunk(body, (type, start, end) => {
    let size: number;
    if (type === COMPRESSED) {
      const [n, from] = blockLength(body, start + 4, end, MAX_CHUNK_DATA);
      decodeBlock(body, from, end, out, at, n);
      size = n;
    } else {
      size = end - start - 4;
      out.set(body.subarray(start + 4, end), at);
    }
    const expected = (body[start] ?? 0) | ((body[start + 1] ?? 0) << 8) | ((body[start + 2] ?? 0) << 16) | ((body[start + 3] ?? 0) << 24);
    if (maskedCrc32c(out, at, at + size) !== expected >>> 0) throw corrupt("CRC-32C mismatch in the data chunk", start - 4);
    at += size;
  });
  return out;
}

/**
 * Calls `data(type, start, end)` for each data chunk (compressed or uncompressed; `start` is the
 * CRC's offset, `end` the chunk's end), after checking every chunk header; skips padding and
 * skippable chunks.
 */
function forEachChunk(body: Uint8Array, data: (type: number, start: number, end: number) => void): void {
  let pos = 0;
  while (pos < body.length) {
    if (body.length - pos < 4) throw corrupt("truncated chunk header", pos);
    const type = body[pos] ?? 0;
    const length = (body[pos + 1] ?? 0) | ((body[pos + 2] ?? 0) << 8) | ((body[pos + 3] ?? 0) << 16);
    const start = pos + 4;
    const end = start + length;
    if (end > body.length) throw corrupt(`chunk of ${length} bytes runs past the end of the body (${body.length - start} left)`, pos);
    if (type === COMPRESSED || type === UNCOMPRESSED) {
      if (length < 4) throw corrupt(`data chunk of ${length} bytes is too short for its checksum`, pos);
      if (type === UNCOMPRESSED && length - 4 > MAX_CHUNK_DATA) throw corrupt(`uncompressed chunk holds ${length - 4} bytes, more than ${MAX_CHUNK_DATA}`, pos);
      data(type, start, end);
    } else if (type === IDENTIFIER) {
      // Concatenated streams repeat the identifier: it must be intact.
      for (let i = 0; i < STREAM_IDENTIFIER.length; i++) {
        if (body[pos + i] !== STREAM_IDENTIFIER[i]) throw corrupt("invalid stream identifier chunk", pos);
      }
    } else if (type < 0x80) {
      throw corrupt(`reserved unskippable chunk type 0x${type.toString(16).padStart(2, "0")}`, pos);
    }
    // 0x80-0xfd (reserved skippable) and 0xfe (padding) are skipped.
    pos = end;
  }
}

/** A block's declared uncompressed length (at most `max`) and the offset after it. */
function blockLength(src: Uint8Array, pos: number, end: number, max: number): [number, number] {
  const at = pos;
  let n = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= end) throw corrupt("truncated block length", at);
    const b = src[pos++] ?? 0;
    n += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      // Snappy lengths are 32-bit: a fifth byte above 0x0f (Go's ErrCorrupt) overflows them.
      if (n > 0xffffffff) throw corrupt("block length exceeds 32 bits", at);
      if (n > max) throw corrupt(`compressed chunk declares ${n} bytes, more than ${max}`, at);
      return [n, pos];
    }
  }
  throw corrupt("block length is longer than 5 bytes", at);
}

/**
 * Decodes the snappy block elements in `src[pos, end)` into exactly `dst[at, at + size)`.
 * Element tags: low 2 bits 0 = literal, 1/2/3 = copy with a 1/2/4-byte offset.
 */
function decodeBlock(src: Uint8Array, pos: number, end: number, dst: Uint8Array, at: number, size: number): void {
  const dstEnd = at + size;
  let d = at;
  while (pos < end) {
    const tagAt = pos;
    const tag = src[pos++] ?? 0;
    let length: number;
    let offset: number;
    const kind = tag & 3;
    if (kind === 0) {
      length = tag >>> 2;
      if (length >= 60) {
        // 60-63: the length - 1 follows in 1-4 little-endian bytes.
        const bytes = length - 59;
        if (end - pos < bytes) throw corrupt("truncated literal length", tagAt);
        length = 0;
        for (let i = bytes - 1; i >= 0; i--) length = length * 256 + (src[pos + i] ?? 0);
        pos += bytes;
      }
      length += 1;
      if (length > end - pos) throw corrupt(`literal of ${length} bytes runs past the end of the block`, tagAt);
      if (length > dstEnd - d) throw corrupt("literal runs past the declared uncompressed length", tagAt);
      // Short runs are copied by hand: a subarray view plus `set` per element costs more than the bytes.
      if (length < SHORT) {
        for (const stop = pos + length; pos < stop; ) dst[d++] = src[pos++] ?? 0;
      } else {
        dst.set(src.subarray(pos, pos + length), d);
        pos += length;
        d += length;
      }
      continue;
    }
    if (kind === 1) {
      if (pos >= end) throw corrupt("truncated copy", tagAt);
      length = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | (src[pos++] ?? 0);
    } else if (kind === 2) {
      if (end - pos < 2) throw corrupt("truncated copy", tagAt);
      length = 1 + (tag >>> 2);
      offset = (src[pos] ?? 0) | ((src[pos + 1] ?? 0) << 8);
      pos += 2;
    } else {
      if (end - pos < 4) throw corrupt("truncated copy", tagAt);
      length = 1 + (tag >>> 2);
      offset = ((src[pos] ?? 0) | ((src[pos + 1] ?? 0) << 8) | ((src[pos + 2] ?? 0) << 16) | ((src[pos + 3] ?? 0) << 24)) >>> 0;
      pos += 4;
    }
    if (offset === 0 || offset > d - at) throw corrupt(`copy offset ${offset} points outside the ${d - at} bytes decoded so far`, tagAt);
    if (length > dstEnd - d) throw corrupt("copy runs past the declared uncompressed length", tagAt);
    if (offset >= length && length >= SHORT) {
      dst.copyWithin(d, d - offset, d - offset + length);
      d += length;
    } else {
      // Short, or overlapping (repeating the last `offset` bytes, which must go byte by byte).
      for (const stop = d + length; d < stop; d++) dst[d] = dst[d - offset] ?? 0;
    }
  }
  if (d !== dstEnd) throw corrupt(`block decodes to ${d - at} bytes but declares ${size}`, end);
}

/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78) lookup tables for slicing-by-8: table 0 is
 * the classic byte-at-a-time table, table k advances a byte through k more zero bytes, so eight
 * bytes are folded per step (measured 2x the byte-at-a-time speed in V8).
 */
const CRC_TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + n] ?? 0;
      t[k * 256 + n] = (t[prev & 0xff] ?? 0) ^ (prev >>> 8);
    }
  }
  return t;
})();

/**
 * The framing format's checksum of `data[start, end)`: CRC-32C, rotated right by 15 bits and offset
 * by 0xa282ead8 (so that the CRC of data that itself contains CRCs stays well distributed).
 */
function maskedCrc32c(data: Uint8Array, start: number, end: number): number {
  const t = CRC_TABLES;
  let crc = 0xffffffff;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = crc ^ ((data[i] ?? 0) | ((data[i + 1] ?? 0) << 8) | ((data[i + 2] ?? 0) << 16) | ((data[i + 3] ?? 0) << 24));
    crc =
      (t[0x700 + (a & 0xff)] ?? 0) ^
      (t[0x600 + ((a >>> 8) & 0xff)] ?? 0) ^
      (t[0x500 + ((a >>> 16) & 0xff)] ?? 0) ^
      (t[0x400 + (a >>> 24)] ?? 0) ^
      (t[0x300 + (data[i + 4] ?? 0)] ?? 0) ^
      (t[0x200 + (data[i + 5] ?? 0)] ?? 0) ^
      (t[0x100 + (data[i + 6] ?? 0)] ?? 0) ^
      (t[data[i + 7] ?? 0] ?? 0);
  }
  for (; i < end; i++) crc = (t[(crc ^ (data[i] ?? 0)) & 0xff] ?? 0) ^ (crc >>> 8);
  crc = (crc ^ 0xffffffff) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

function corrupt(what: string, at: number): GatewayError {
  return new GatewayError("ParseError", `snappy body: ${what} at byte ${at}; send a snappy framed stream (as Go's snappy.NewWriter writes) or a single snappy block`);
}

function tooLarge(max: number, what: string): GatewayError {
  return new GatewayError(
    "LimitExceeded",
    `the body decompresses to more than ${max} bytes (MAX_BODY_BYTES): ${what}; split the push into smaller ones`,
  );
}
