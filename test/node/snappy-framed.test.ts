/** Snappy request bodies: framed streams and bare blocks, checked against libsnappy vectors and snappyjs blocks. */
import { compress, uncompress } from "snappyjs";
import { describe, expect, it } from "vitest";
import { decodeSnappy } from "../../src/wire/snappy-framed";
import { thrown } from "./helpers";

/** CRC-32C computed bit by bit (not the module's table), masked as the framing format says. */
function maskedCrc(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  crc = (crc ^ 0xffffffff) >>> 0;
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

const IDENTIFIER = [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59];

/** One chunk: type, 3-byte little-endian length, payload. */
function chunk(type: number, payload: ArrayLike<number>): number[] {
  const n = payload.length;
  return [type, n & 0xff, (n >>> 8) & 0xff, n >>> 16, ...Array.from(payload)];
}

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

const compressedChunk = (data: Uint8Array, crc = maskedCrc(data)) => chunk(0x00, [...le32(crc), ...compress(data)]);
const uncompressedChunk = (data: Uint8Array, crc = maskedCrc(data)) => chunk(0x01, [...le32(crc), ...data]);
const stream = (...chunks: number[][]) => Uint8Array.from([...IDENTIFIER, ...chunks.flat()]);

const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const text = (s: string) => new TextEncoder().encode(s);
const MB = 1 << 20;
/** How every malformed-snappy error ends: what the gateway reads. */
const SEND = "; send a snappy framed stream (as Go's snappy.NewWriter writes) or a single snappy block";


/** Where two byte arrays first differ, -1 when equal (deep equality on 100 kB arrays is slow). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Deterministic exposition-like bytes: compressible, but not trivially. */
function sample(bytes: number): Uint8Array {
  let s = "";
  for (let i = 0; s.length < bytes; i++) s += `http_requests_total{code="${200 + (i % 7)}",path="/p/${(i * 7919) % 1013}"} ${i * 31}\n`;
  return text(s.slice(0, bytes));
}

// Written by libsnappy 1.1.9 through python-snappy's StreamCompressor (framing) and compress (block).
const LIBSNAPPY_DATA = `# HELP jobs_total Jobs processed.
# TYPE jobs_total counter
${Array.from({ length: 8 }, (_, i) => `jobs_total{queue="q${i}",zone="eu-west-1"} ${i * 7}\n`).join("")}`;
const LIBSNAPPY_BLOCK =
  "9203a0232048454c50206a6f62735f746f74616c204a6f62732070726f6365737365642e0a232054595045201d221c636f756e7465720a1913787b71756575653d227130222c7a6f6e653d2265752d776573742d31227d20304e2a0000314e2a0000374e2a0000324e2a000431344e2b0000334e2b000432314e2b000034522b0000384e2b0000354e2b000433354e2b0000364e2b000434324e2b000037522b0004390a";
const LIBSNAPPY_FRAMED = `ff060000734e6150705900a80000a7dd964e${LIBSNAPPY_BLOCK}`;
// Incompressible input: an uncompressed (0x01) chunk.
const LIBSNAPPY_RAW_FRAMED = "ff060000734e6150705901290000fccfcb4300070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc";

describe("decodeSnappy", () => {
  it("decodes libsnappy's framed streams and blocks", () => {
    expect(new TextDecoder().decode(decodeSnappy(hex(LIBSNAPPY_FRAMED), MB))).toBe(LIBSNAPPY_DATA);
    expect(new TextDecoder().decode(decodeSnappy(hex(LIBSNAPPY_BLOCK), MB))).toBe(LIBSNAPPY_DATA);
    const raw = Uint8Array.from({ length: 37 }, (_, i) => i * 7);
    expect(decodeSnappy(hex(LIBSNAPPY_RAW_FRAMED), MB)).toEqual(raw);
    // Concatenated streams repeat the identifier.
    const both = hex(LIBSNAPPY_FRAMED + LIBSNAPPY_RAW_FRAMED);
    expect(decodeSnappy(both, MB)).toEqual(Uint8Array.from([...text(LIBSNAPPY_DATA), ...raw]));
  });

  it("decodes a multi-chunk stream of compressed, uncompressed, padding and skippable chunks", () => {
    const data = sample(200_000);
    const parts = [data.subarray(0, 65536), data.subarray(65536, 131072), data.subarray(131072, 140000), data.subarray(140000)];
    const [a, b, c, d] = parts.map((p) => p.slice());
    if (a === undefined || b === undefined || c === undefined || d === undefined) throw new Error("unreachable");
    const body = stream(
      compressedChunk(a),
      chunk(0xfe, new Uint8Array(100)),
      uncompressedChunk(b),
      chunk(0x80, [1, 2, 3]),
      chunk(0xfd, []),
      IDENTIFIER,
      compressedChunk(c),
      compressedChunk(d),
    );
    expect(firstDifference(decodeSnappy(body, data.length), data)).toBe(-1);
  });

  it("decodes snappyjs blocks, and an empty stream or body as nothing", () => {
    for (const size of [0, 1, 59, 60, 61, 300, 70_000, 300_000]) {
      const data = sample(size);
      const block = compress(data);
      const decoded = decodeSnappy(block, MB);
      expect(firstDifference(decoded, data)).toBe(-1);
      expect(firstDifference(decoded, uncompress(block))).toBe(-1);
    }
    expect(decodeSnappy(Uint8Array.from(IDENTIFIER), MB)).toEqual(new Uint8Array(0));
    expect(decodeSnappy(new Uint8Array(0), MB)).toEqual(new Uint8Array(0));
  });

  it("decodes every element kind: long literals, 1-, 2- and 4-byte offsets, overlapping copies", () => {
    // Hand-written block: varint length 23, literal "abcd", copy1 len 4 off 4 ("abcd"),
    // copy2 len 5 off 1 (overlap: "ddddd"), copy4 len 2 off 13 ("ab"), literal of 61 tag (len byte 7 -> 8 bytes).
    const block = [23, 0x0c, 0x61, 0x62, 0x63, 0x64, 0x01, 0x04, 0x12, 0x01, 0x00, 0x07, 0x0d, 0x00, 0x00, 0x00, 0xf0, 0x07, ...text("12345678")];
    expect(new TextDecoder().decode(decodeSnappy(Uint8Array.from(block), MB))).toBe("abcdabcdddddd" + "ab" + "12345678");
  });

  it("verifies every data chunk's CRC-32C", () => {
    const data = sample(1000);
    const goodFirst = compressedChunk(data);
    const badCrc = (maskedCrc(data) ^ 1) >>> 0;
    let e = thrown(() => decodeSnappy(stream(goodFirst, compressedChunk(data, badCrc)), MB));
    expect(e.name).toBe("ParseError");
    expect(e.message).toBe(`snappy body: CRC-32C mismatch in the data chunk at byte ${10 + goodFirst.length}${SEND}`);
    e = thrown(() => decodeSnappy(stream(uncompressedChunk(data, badCrc)), MB));
    expect(e.message).toBe(`snappy body: CRC-32C mismatch in the data chunk at byte 10${SEND}`);
    // One flipped payload byte in an uncompressed chunk.
    const flipped = stream(uncompressedChunk(data));
    const last = flipped.length - 1;
    flipped[last] = (flipped[last] ?? 0) ^ 0x20;
    expect(thrown(() => decodeSnappy(flipped, MB)).message).toBe(`snappy body: CRC-32C mismatch in the data chunk at byte 10${SEND}`);
  });

  it("rejects reserved chunk types and malformed chunks, saying where", () => {
    const data = text("hello");
    const cases: [Uint8Array, string][] = [
      [stream(compressedChunk(data), chunk(0x02, [0, 0, 0, 0])), "reserved unskippable chunk type 0x02 at byte 25"],
      [stream(chunk(0x7f, [])), "reserved unskippable chunk type 0x7f at byte 10"],
      [stream(chunk(0xff, text("sNaPpX"))), "invalid stream identifier chunk at byte 10"],
      [stream(chunk(0x00, [1, 2, 3])), "data chunk of 3 bytes is too short for its checksum at byte 10"],
      [stream([0x00, 0x10, 0x00, 0x00, 1, 2]), "chunk of 16 bytes runs past the end of the body (2 left) at byte 10"],
      [stream([0x00, 0x10]), "truncated chunk header at byte 10"],
      [stream(uncompressedChunk(new Uint8Array(65537))), "uncompressed chunk holds 65537 bytes, more than 65536 at byte 10"],
      // A compressed chunk declaring 65537 bytes (varint 81 80 04).
      [stream(chunk(0x00, [0, 0, 0, 0, 0x81, 0x80, 0x04, 0])), "compressed chunk declares 65537 bytes, more than 65536 at byte 18"],
    ];
    for (const [body, message] of cases) {
      const e = thrown(() => decodeSnappy(body, MB));
      expect(e.name).toBe("ParseError");
      expect(e.message).toBe(`snappy body: ${message}${SEND}`);
    }
  });

  it("rejects corrupt blocks that snappyjs would accept or mangle", () => {
    const cases: [number[], string][] = [
      // Declares 10 bytes, holds 3: snappyjs returns them zero-padded.
      [[10, 0x08, 0x61, 0x62, 0x63], "block decodes to 3 bytes but declares 10 at byte 5"],
      // Holds more than it declares: snappyjs drops the excess.
      [[2, 0x08, 0x61, 0x62, 0x63], "literal runs past the declared uncompressed length at byte 1"],
      [[8, 0x04, 0x61, 0x62, 0x01, 0x05], "copy offset 5 points outside the 2 bytes decoded so far at byte 4"],
      [[8, 0x04, 0x61, 0x62, 0x05, 0x00], "copy offset 0 points outside the 2 bytes decoded so far at byte 4"],
      [[4, 0x0c, 0x61], "literal of 4 bytes runs past the end of the block at byte 1"],
      [[4, 0xf0], "truncated literal length at byte 1"],
      [[4, 0x04, 0x61, 0x62, 0x02, 0x01], "truncated copy at byte 4"],
      [[0x80, 0x80], "truncated block length at byte 0"],
      [[0xff, 0xff, 0xff, 0xff, 0x1f, 0], "block length exceeds 32 bits at byte 0"],
      [[0xff, 0xff, 0xff, 0xff, 0xff, 0x01], "block length is longer than 5 bytes at byte 0"],
    ];
    for (const [bytes, message] of cases) {
      const e = thrown(() => decodeSnappy(Uint8Array.from(bytes), MB));
      expect(e.name).toBe("ParseError");
      expect(e.message).toBe(`snappy body: ${message}${SEND}`);
    }
  });

  it("enforces maxBytes from declared sizes, before allocating or decoding", () => {
    // A block that declares 4 GiB - 1 in 7 bytes.
    let e = thrown(() => decodeSnappy(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x61]), 1000));
    expect(e.name).toBe("LimitExceeded");
    expect(e.message).toBe("the body decompresses to more than 1000 bytes (MAX_BODY_BYTES): a snappy block that declares 4294967295 bytes; split the push into smaller ones");
    // A real bomb: 10 MB of zeros in about 470 kB, as a block and as 160 framed chunks.
    const zeros = new Uint8Array(10 * MB);
    e = thrown(() => decodeSnappy(compress(zeros), MB));
    expect(e.name).toBe("LimitExceeded");
    const zeroChunk = compressedChunk(new Uint8Array(65536));
    const bomb = stream(...Array.from({ length: 160 }, () => zeroChunk));
    e = thrown(() => decodeSnappy(bomb, MB));
    expect(e.name).toBe("LimitExceeded");
    // 17 chunks of 65536 bytes (1114112) pass the limit: the error is at the end of the 17th chunk.
    expect(e.message).toBe(
      `the body decompresses to more than 1048576 bytes (MAX_BODY_BYTES): the snappy chunks up to byte ${10 + 17 * zeroChunk.length} already hold 1114112; split the push into smaller ones`,
    );
    // Chunks whose blocks are garbage past their declared length: the limit is hit before any is decoded.
    const garbage = chunk(0x00, [0, 0, 0, 0, 0x80, 0x80, 0x04, 0xff, 0xff]);
    e = thrown(() => decodeSnappy(stream(...Array.from({ length: 17 }, () => garbage)), MB));
    expect(e.name).toBe("LimitExceeded");
    // Exactly at the limit is fine, framed and as a block.
    const data = sample(1000);
    expect(decodeSnappy(stream(compressedChunk(data.subarray(0, 400)), uncompressedChunk(data.subarray(400))), 1000)).toEqual(data);
    expect(decodeSnappy(compress(data), 1000)).toEqual(data);
    expect(thrown(() => decodeSnappy(compress(data), 999)).name).toBe("LimitExceeded");
  });
});
