/** Remote-write 1.0 encoding, decoded by an independent decoder: protobufjs on the official message definitions. */
import protobuf from "protobufjs";
import { compress, uncompress } from "snappyjs";
import { describe, expect, it } from "vitest";
import {
  STALE_NAN_BITS,
  encodeWriteRequests,
  formatOpenMetricsFloat,
  type EncodeResult,
  type ExportFamily,
  type StaleSeries,
} from "../../src/wire/remote-write/write-request";
import { ProtoWriter } from "../../src/wire/remote-write/protobuf";
import { thrown } from "./helpers";

// The messages of prometheus/prompb types.proto and remote.proto that remote write 1.0 uses
// (gogoproto options, exemplars and native histograms left out).
const PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
  repeated MetricMetadata metadata = 3;
}
message MetricMetadata {
  enum MetricType {
    UNKNOWN = 0; COUNTER = 1; GAUGE = 2; HISTOGRAM = 3; GAUGEHISTOGRAM = 4; SUMMARY = 5; INFO = 6; STATESET = 7;
  }
  MetricType type = 1;
  string metric_family_name = 2;
  string help = 4;
  string unit = 5;
}
message Sample { double value = 1; int64 timestamp = 2; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
`;

const WriteRequest = protobuf.parse(PROTO).root.lookupType("prometheus.WriteRequest");

interface DecodedSeries {
  labels: Record<string, string>;
  /** Label names in wire order. */
  names: string[];
  value: number;
  timestamp: number;
  /** The sample's exact 64 bits, read from the raw bytes. */
  bits: bigint;
}

interface DecodedRequest {
  series: DecodedSeries[];
  metadata: { type: string; metricFamilyName: string; help: string; unit: string }[];
}

interface PlainRequest {
  timeseries?: { labels?: { name: string; value: string }[]; samples?: { value: number; timestamp: number }[] }[];
  metadata?: { type: string; metricFamilyName: string; help: string; unit: string }[];
}

function decode(body: Uint8Array): DecodedRequest {
  const message = WriteRequest.decode(body);
  const plain = WriteRequest.toObject(message, { longs: Number, enums: String, defaults: true }) as PlainRequest;
  const bits = rawSampleBits(body);
  const series = (plain.timeseries ?? []).map((ts, i): DecodedSeries => {
    const labels = ts.labels ?? [];
    const samples = ts.samples ?? [];
    expect(samples).toHaveLength(1);
    const sample = samples[0] ?? { value: NaN, timestamp: -1 };
    return {
      labels: Object.fromEntries(labels.map((l) => [l.name, l.value])),
      names: labels.map((l) => l.name),
      value: sample.value,
      timestamp: sample.timestamp,
      bits: bits[i] ?? -1n,
    };
  });
  return { series, metadata: plain.metadata ?? [] };
}

/** Every TimeSeries' sample bits, walking the wire format by hand: a JS number would canonicalise NaN. */
function rawSampleBits(body: Uint8Array): bigint[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: bigint[] = [];
  const varint = (at: { pos: number }): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = body[at.pos++] ?? 0;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
  };
  const walk = (start: number, end: number, onField: (field: number, wire: number, at: { pos: number }, len: number) => void): void => {
    const at = { pos: start };
    while (at.pos < end) {
      const key = varint(at);
      const field = key >>> 3;
      const wire = key & 7;
      if (wire === 2) {
        const len = varint(at);
        onField(field, wire, at, len);
        at.pos += len;
      } else if (wire === 1) {
        onField(field, wire, at, 8);
        at.pos += 8;
      } else if (wire === 0) {
        varint(at);
      } else {
        throw new Error(`unexpected wire type ${wire}`);
      }
    }
  };
  walk(0, body.length, (field, _wire, at, len) => {
    if (field !== 1) return;
    let found = 0;
    walk(at.pos, at.pos + len, (tsField, _w, tsAt, tsLen) => {
      if (tsField !== 2) return;
      walk(tsAt.pos, tsAt.pos + tsLen, (sField, sWire, sAt) => {
        if (sField === 1 && sWire === 1) {
          out.push(view.getBigUint64(sAt.pos, true));
          found++;
        }
      });
    });
    expect(found).toBe(1);
  });
  return out;
}

/** Where two byte arrays first differ, -1 when equal (deep equality on 100 kB arrays is slow). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function decodeAll(result: EncodeResult): DecodedRequest[] {
  return result.batches.map((b) => decode(b.body));
}

function only(result: EncodeResult): DecodedRequest {
  expect(result.batches).toHaveLength(1);
  const [first] = decodeAll(result);
  if (first === undefined) throw new Error("no request");
  return first;
}

function family(name: string, type: ExportFamily["type"], series: [string, number | Float64Array][], help = "", unit = ""): ExportFamily {
  return { name, type, help, unit, series };
}

/** Packs a histogram or summary as the store does: `[sum, count, at..., values...]`. */
function packed(sum: number, count: number, at: number[], values: number[]): Float64Array {
  return Float64Array.from([sum, count, ...at, ...values]);
}

const T = 1_700_000_000_123;
const NORMAL_NAN_BITS = 0x7ff8000000000001n;

describe("formatOpenMetricsFloat", () => {
  // Expected values are Go's: labels.FormatOpenMetricsFloat(f) = strconv.FormatFloat(f, 'g', -1, 64) + ".0" if needed.
  it.each([
    [1, "1.0"],
    [0, "0.0"],
    [-0, "0.0"],
    [-1, "-1.0"],
    [0.005, "0.005"],
    [2.5, "2.5"],
    [0.25, "0.25"],
    [10, "10.0"],
    [60, "60.0"],
    [100000, "100000.0"],
    [999999, "999999.0"],
    [999999.5, "999999.5"],
    [123456.7, "123456.7"],
    [1e6, "1e+06"],
    [1234567.8, "1.2345678e+06"],
    [1e21, "1e+21"],
    [1e100, "1e+100"],
    [0.0001, "0.0001"],
    [0.00012, "0.00012"],
    [1e-5, "1e-05"],
    [-2.5e-7, "-2.5e-07"],
    [5e-324, "5e-324"],
    [0.1 + 0.2, "0.30000000000000004"],
    [Infinity, "+Inf"],
    [-Infinity, "-Inf"],
    [NaN, "NaN"],
  ])("%s -> %s", (v, expected) => {
    expect(formatOpenMetricsFloat(v)).toBe(expected);
  });
});

describe("encodeWriteRequests", () => {
  it("sends __name__ plus the labels sorted by name, without empty values", () => {
    const req = only(
      encodeWriteRequests([family("jobs_total", "counter", [['Zone="eu",_a="1",a="x",b="",instance="i"', 3]])], [], { timestampMs: T }),
    );
    expect(req.series).toHaveLength(1);
    const [s] = req.series;
    // 'Z' < '_' < 'a': uppercase names sort before __name__, `_a` after it.
    expect(s?.names).toEqual(["Zone", "__name__", "_a", "a", "instance"]);
    expect(s?.labels).toEqual({ Zone: "eu", __name__: "jobs_total", _a: "1", a: "x", instance: "i" });
    expect(s?.value).toBe(3);
    expect(s?.timestamp).toBe(T);
  });

  it("sends a series without labels as just __name__", () => {
    const req = only(encodeWriteRequests([family("up", "gauge", [["", 1]])], [], { timestampMs: T }));
    expect(req.series.map((s) => s.names)).toEqual([["__name__"]]);
  });

  it("unescapes label values and writes them as UTF-8", () => {
    const key = 'emoji="é😀 \u2603",lone="\ud800",mixed="ü\\"ü\\\\",path="/a \\"q\\" \\\\ b\\nc"';
    const req = only(encodeWriteRequests([family("x", "gauge", [[key, 1]])], [], { timestampMs: T }));
    expect(req.series[0]?.labels).toEqual({
      __name__: "x",
      emoji: "é😀 \u2603",
      lone: "\ufffd", // a lone surrogate cannot be UTF-8; TextEncoder's replacement keeps the request valid
      mixed: 'ü"ü\\',
      path: '/a "q" \\ b\nc',
    });
  });

  it("writes long values whose lengths need multi-byte varints", () => {
    const long = "v".repeat(200);
    const huge = "w".repeat(20_000);
    const many = Array.from({ length: 30 }, (_, i) => `l${String(i).padStart(2, "0")}="${i}"`).join(",");
    const req = only(
      encodeWriteRequests(
        [family("x", "gauge", [[`a="${long}",b="${huge}"`, 1], [many, 2]])],
        [],
        { timestampMs: T },
      ),
    );
    expect(req.series[0]?.labels).toEqual({ __name__: "x", a: long, b: huge });
    expect(req.series[1]?.names).toHaveLength(31);
    expect(req.series[1]?.labels["l29"]).toBe("29");
  });

  it("carries special values exactly and keeps an ordinary NaN distinct from the stale marker", () => {
    const values = [NaN, Infinity, -Infinity, -0, 0, 2 ** 53 - 1, 1e308, 5e-324, -123.456];
    const req = only(
      encodeWriteRequests(
        [family("v", "gauge", values.map((v, i): [string, number] => [`i="${String(i).padStart(2, "0")}"`, v]))],
        [],
        { timestampMs: T },
      ),
    );
    expect(req.series.map((s) => s.value)).toEqual(values);
    expect(Object.is(req.series[3]?.value, -0)).toBe(true);
    expect(req.series[0]?.bits).toBe(NORMAL_NAN_BITS);
    for (const s of req.series) expect(s.timestamp).toBe(T);
  });

  it("never turns a stored NaN that carries the stale payload into a stale marker", () => {
    const stored = new Float64Array(new BigUint64Array([STALE_NAN_BITS]).buffer);
    const req = only(encodeWriteRequests([family("v", "gauge", [["", stored[0] ?? 0]])], [], { timestampMs: T }));
    expect(req.series[0]?.bits).toBe(NORMAL_NAN_BITS);
  });

  it("expands a histogram into _bucket (canonical le), _sum and _count, labels sorted", () => {
    const value = packed(10.5, 5, [0.005, 0.5, 1, 10, 1e6, Infinity], [1, 2, 3, 4, 4, 5]);
    const req = only(encodeWriteRequests([family("rpc_seconds", "histogram", [['A="up",method="GET",z="2"', value]])], [], { timestampMs: T }));
    expect(req.series.map((s) => [s.labels["__name__"], s.labels["le"], s.value])).toEqual([
      ["rpc_seconds_bucket", "0.005", 1],
      ["rpc_seconds_bucket", "0.5", 2],
      ["rpc_seconds_bucket", "1.0", 3],
      ["rpc_seconds_bucket", "10.0", 4],
      ["rpc_seconds_bucket", "1e+06", 4],
      ["rpc_seconds_bucket", "+Inf", 5],
      ["rpc_seconds_sum", undefined, 10.5],
      ["rpc_seconds_count", undefined, 5],
    ]);
    expect(req.series[0]?.names).toEqual(["A", "__name__", "le", "method", "z"]);
    expect(req.series[6]?.names).toEqual(["A", "__name__", "method", "z"]);
  });

  it("expands a summary into quantile series, _sum and _count", () => {
    const value = packed(100, 40, [0.5, 0.9, 0.99, 1], [1.5, 2, 7, 9]);
    const req = only(encodeWriteRequests([family("lat", "summary", [['job="a",zone="z"', value]])], [], { timestampMs: T }));
    expect(req.series.map((s) => [s.names, s.labels["__name__"], s.labels["quantile"], s.value])).toEqual([
      [["__name__", "job", "quantile", "zone"], "lat", "0.5", 1.5],
      [["__name__", "job", "quantile", "zone"], "lat", "0.9", 2],
      [["__name__", "job", "quantile", "zone"], "lat", "0.99", 7],
      [["__name__", "job", "quantile", "zone"], "lat", "1.0", 9],
      [["__name__", "job", "zone"], "lat_sum", undefined, 100],
      [["__name__", "job", "zone"], "lat_count", undefined, 40],
    ]);
  });

  it("drops and counts series a receiver would reject the whole request for", () => {
    const hist = packed(1, 1, [Infinity], [1]);
    const result = encodeWriteRequests(
      [
        family("my.metric", "gauge", [["", 1], ['a="1"', 2]]), // UTF-8 metric name
        family("ok", "gauge", [
          ['"my.label"="v"', 1], // quoted UTF-8 label name
          ['a="1",b="2"', 2], // kept
          ['__name__="x"', 3], // would duplicate __name__
          ['a="1",a="2"', 4], // duplicate
          ['b="1",a="2"', 5], // not sorted: not a canonical key
          ['a="1"', Float64Array.of(1, 2)], // not a scalar
        ]),
        family("h", "histogram", [
          ['le="1"', hist], // would duplicate le
          ['a="1"', 3], // not packed
          ["", Float64Array.of(1, 2, 3)], // odd length
          ['x="1"', hist], // kept
        ]),
        family("s", "summary", [['quantile="0.5"', packed(1, 1, [0.5], [1])]]),
        family("1bad", "counter", [["", 1]]),
      ],
      [],
      { timestampMs: T },
    );
    expect(result.dropped).toEqual({ invalid_name: 4, duplicate_label: 4, malformed_key: 1, invalid_value: 3 });
    const req = only(result);
    expect(req.series.map((s) => s.labels["__name__"])).toEqual(["ok", "h_bucket", "h_sum", "h_count"]);
    expect(result.series).toBe(4);
    // Metadata only for families that sent something.
    expect(req.metadata.map((m) => m.metricFamilyName)).toEqual(["ok", "h"]);
  });

  it("drops an empty label value even when its name would clash", () => {
    const req = only(encodeWriteRequests([family("x", "gauge", [['__name__="",a="1"', 1]])], [], { timestampMs: T }));
    expect(req.series[0]?.labels).toEqual({ __name__: "x", a: "1" });
  });

  it("writes stale markers with the exact bits 0x7ff0000000000002, expanding histograms", () => {
    const stale: StaleSeries[] = [
      { family: "jobs_total", type: "counter", key: 'job="a"', value: 7 },
      { family: "rpc_seconds", type: "histogram", key: 'job="a"', value: packed(1, 2, [0.1, Infinity], [1, 2]) },
      { family: "lat", type: "summary", key: "", value: packed(1, 2, [0.5], [1]) },
    ];
    const result = encodeWriteRequests([family("live", "gauge", [["", 1]])], stale, { timestampMs: T });
    expect(result.stale).toBe(1 + 4 + 3);
    const req = only(result);
    expect(req.series.map((s) => [s.labels["__name__"], s.labels["le"] ?? s.labels["quantile"]])).toEqual([
      ["live", undefined],
      ["jobs_total", undefined],
      ["rpc_seconds_bucket", "0.1"],
      ["rpc_seconds_bucket", "+Inf"],
      ["rpc_seconds_sum", undefined],
      ["rpc_seconds_count", undefined],
      ["lat", "0.5"],
      ["lat_sum", undefined],
      ["lat_count", undefined],
    ]);
    expect(req.series[0]?.bits).toBe(0x3ff0000000000000n); // 1.0
    for (const s of req.series.slice(1)) {
      expect(s.bits).toBe(STALE_NAN_BITS);
      expect(s.timestamp).toBe(T);
      expect(s.labels["job"] ?? "a").toBe("a");
    }
    // Stale-only families get no metadata (their HELP is gone with them).
    expect(req.metadata.map((m) => m.metricFamilyName)).toEqual(["live"]);
  });

  it("sends one MetricMetadata per family with type, help and unit", () => {
    const h = packed(1, 1, [Infinity], [1]);
    const req = only(
      encodeWriteRequests(
        [
          family("c_total", "counter", [["", 1]], "Jobs run.", ""),
          family("g", "gauge", [["", 1], ['a="1"', 2]], "A \"gauge\"\nwith é", "bytes"),
          family("h_seconds", "histogram", [["", h]], "", "seconds"),
          family("s", "summary", [["", packed(1, 1, [0.5], [1])]]),
          family("u", "untyped", [["", 1]]),
        ],
        [],
        { timestampMs: T },
      ),
    );
    expect(req.metadata).toEqual([
      { type: "COUNTER", metricFamilyName: "c_total", help: "Jobs run.", unit: "" },
      { type: "GAUGE", metricFamilyName: "g", help: 'A "gauge"\nwith é', unit: "bytes" },
      { type: "HISTOGRAM", metricFamilyName: "h_seconds", help: "", unit: "seconds" },
      { type: "SUMMARY", metricFamilyName: "s", help: "", unit: "" },
      { type: "UNKNOWN", metricFamilyName: "u", help: "", unit: "" },
    ]);
  });

  it("splits 5001 series into requests of at most 2000", () => {
    const series = Array.from({ length: 5001 }, (_, i): [string, number] => [`i="${String(i).padStart(4, "0")}"`, i]);
    const result = encodeWriteRequests([family("n", "gauge", series)], [], { timestampMs: T });
    expect(result.batches.map((b) => b.series)).toEqual([2000, 2000, 1001]);
    expect(result.batches.map((b) => b.samples)).toEqual([2000, 2000, 1001]);
    const decoded = decodeAll(result);
    expect(decoded.map((r) => r.series.length)).toEqual([2000, 2000, 1001]);
    expect(decoded.flatMap((r) => r.series.map((s) => s.value))).toEqual(series.map(([, v]) => v));
    // The family's metadata travels with its first series only.
    expect(decoded.map((r) => r.metadata.length)).toEqual([1, 0, 0]);
  });

  it("keeps a histogram's expansion in one request, and splits it only when it alone exceeds the limit", () => {
    const h3 = packed(1, 3, [1, 2, Infinity], [1, 2, 3]); // 5 TimeSeries
    const scalars = Array.from({ length: 7 }, (_, i): [string, number] => [`i="${i}"`, i]);
    const result = encodeWriteRequests(
      [family("a", "gauge", scalars), family("h", "histogram", [['x="1"', h3], ['x="2"', h3]]), family("z", "gauge", [["", 1]])],
      [],
      { timestampMs: T, maxSeriesPerRequest: 9 },
    );
    // 7 scalars + 5 would exceed 9: the histogram starts a new request; the next one does not fit either.
    expect(result.batches.map((b) => b.series)).toEqual([7, 5, 6]);
    const decoded = decodeAll(result);
    expect(decoded[1]?.series.map((s) => s.labels["x"])).toEqual(["1", "1", "1", "1", "1"]);
    expect(decoded.map((r) => r.metadata.map((m) => m.metricFamilyName))).toEqual([["a"], ["h"], ["z"]]);

    const big = packed(1, 12, [...Array.from({ length: 11 }, (_, i) => i + 1), Infinity], Array.from({ length: 12 }, (_, i) => i + 1));
    const split = encodeWriteRequests([family("g", "gauge", [["", 1]]), family("big", "histogram", [["", big]])], [], {
      timestampMs: T,
      maxSeriesPerRequest: 5,
    });
    expect(split.batches.map((b) => b.series)).toEqual([1, 5, 5, 4]);
    expect(split.series).toBe(15);
    const names = decodeAll(split).flatMap((r) => r.series.map((s) => `${s.labels["__name__"]}${s.labels["le"] ?? ""}`));
    expect(names).toEqual(["g", ...[...Array.from({ length: 11 }, (_, i) => `${i + 1}.0`), "+Inf"].map((le) => `big_bucket${le}`), "big_sum", "big_count"]);
  });

  it("returns no requests when there is nothing to send", () => {
    const result = encodeWriteRequests([family("x", "gauge", [])], [], { timestampMs: T });
    expect(result).toEqual({ batches: [], dropped: { invalid_name: 0, duplicate_label: 0, malformed_key: 0, invalid_value: 0 }, series: 0, stale: 0 });
  });

  it("rejects options it cannot honour", () => {
    const rangeError = (options: Parameters<typeof encodeWriteRequests>[2]) => {
      const e = thrown(() => encodeWriteRequests([], [], options));
      expect(e).toBeInstanceOf(RangeError);
      return e.message;
    };
    expect(rangeError({ timestampMs: 1.5 })).toBe("timestampMs must be a non-negative integer of milliseconds since the epoch, got 1.5");
    expect(rangeError({ timestampMs: -1 })).toBe("timestampMs must be a non-negative integer of milliseconds since the epoch, got -1");
    expect(rangeError({ timestampMs: T, maxSeriesPerRequest: 0 })).toBe("maxSeriesPerRequest must be a positive integer, got 0");
  });

  it("round-trips through snappy block format", () => {
    const series = Array.from({ length: 3000 }, (_, i): [string, number] => [`instance="host-${i % 50}",job="api",path="/v1/${i}"`, i * 1.5]);
    const result = encodeWriteRequests([family("http_requests_total", "counter", series, "Requests.")], [], { timestampMs: T, maxSeriesPerRequest: 1000 });
    expect(result.batches).toHaveLength(3);
    for (const batch of result.batches) {
      const compressed = compress(batch.body);
      expect(compressed[0]).not.toBe(0xff); // block format, not the framed stream ("ff 06 00 00 sNaPpY")
      expect(compressed.length).toBeLessThan(batch.body.length / 2);
      const restored = uncompress(compressed);
      expect(firstDifference(restored, batch.body)).toBe(-1);
      expect(decode(restored).series).toHaveLength(1000);
    }
  });
});

describe("ProtoWriter", () => {
  it("encodes strings as TextEncoder does, lone surrogates included", () => {
    const samples = ["", "ascii", "é", "€", "😀", "a\ud800b", "\udc00", "x\ud83d"];
    for (const s of samples) {
      const w = new ProtoWriter(16);
      w.utf8(s);
      expect(w.finish()).toEqual(new TextEncoder().encode(s));
    }
  });

  it("writes varints beyond 32 bits and back-patches long lengths", () => {
    const w = new ProtoWriter(16);
    w.varint(T);
    w.varint(2 ** 53 - 1);
    const mark = w.beginLength();
    w.utf8("z".repeat(300));
    w.endLength(mark);
    const reader = protobuf.Reader.create(w.finish());
    expect(Number(reader.uint64())).toBe(T);
    expect(Number(reader.uint64())).toBe(2 ** 53 - 1);
    expect(reader.string()).toBe("z".repeat(300));
  });
});
