/** Delimited MetricFamily decoding, against bodies encoded by an independent encoder: protobufjs on metrics.proto. */
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { parseDelimitedProtobuf } from "../../src/wire/exposition/protobuf";
import type { Family } from "../../src/common/model";
import { thrown } from "./helpers";

/** How every protobuf framing error ends: what the body must be. */
const SHAPE = "; the body must be length-delimited io.prometheus.client.MetricFamily messages, as the Go client's push sends them";

// prometheus/client_model io/prometheus/client/metrics.proto (v0.6), comments left out.
const METRICS_PROTO = `
syntax = "proto2";
package io.prometheus.client;
import "google/protobuf/timestamp.proto";

message LabelPair { optional string name = 1; optional string value = 2; }
enum MetricType { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; GAUGE_HISTOGRAM = 5; }
message Gauge { optional double value = 1; }
message Counter {
  optional double value = 1;
  optional Exemplar exemplar = 2;
  optional google.protobuf.Timestamp created_timestamp = 3;
}
message Quantile { optional double quantile = 1; optional double value = 2; }
message Summary {
  optional uint64 sample_count = 1;
  optional double sample_sum = 2;
  repeated Quantile quantile = 3;
  optional google.protobuf.Timestamp created_timestamp = 4;
}
message Untyped { optional double value = 1; }
message Histogram {
  optional uint64 sample_count = 1;
  optional double sample_count_float = 4;
  optional double sample_sum = 2;
  repeated Bucket bucket = 3;
  optional google.protobuf.Timestamp created_timestamp = 15;
  optional sint32 schema = 5;
  optional double zero_threshold = 6;
  optional uint64 zero_count = 7;
  optional double zero_count_float = 8;
  repeated BucketSpan negative_span = 9;
  repeated sint64 negative_delta = 10;
  repeated double negative_count = 11;
  repeated BucketSpan positive_span = 12;
  repeated sint64 positive_delta = 13;
  repeated double positive_count = 14;
  repeated Exemplar exemplars = 16;
}
message Bucket {
  optional uint64 cumulative_count = 1;
  optional double cumulative_count_float = 4;
  optional double upper_bound = 2;
  optional Exemplar exemplar = 3;
}
message BucketSpan { optional sint32 offset = 1; optional uint32 length = 2; }
message Exemplar {
  repeated LabelPair label = 1;
  optional double value = 2;
  optional google.protobuf.Timestamp timestamp = 3;
}
message Metric {
  repeated LabelPair label = 1;
  optional Gauge gauge = 2;
  optional Counter counter = 3;
  optional Summary summary = 4;
  optional Untyped untyped = 5;
  optional Histogram histogram = 7;
  optional int64 timestamp_ms = 6;
}
message MetricFamily {
  optional string name = 1;
  optional string help = 2;
  optional MetricType type = 3;
  repeated Metric metric = 4;
  optional string unit = 5;
}
`;

const TIMESTAMP_PROTO = `
syntax = "proto3";
package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
`;

// Same field numbers, other shapes: fields in another order, native deltas packed, unknown fields.
const VARIANTS_PROTO = `
syntax = "proto2";
package test;
import "metrics.proto";
message ReorderedFamily {
  repeated io.prometheus.client.Metric metric = 4;
  optional string unit = 5;
  optional io.prometheus.client.MetricType type = 3;
  optional string help = 2;
  optional string name = 1;
}
message PackedHistogram {
  optional uint64 sample_count = 1;
  optional double sample_sum = 2;
  repeated io.prometheus.client.Bucket bucket = 3;
  optional sint32 schema = 5;
  repeated io.prometheus.client.BucketSpan positive_span = 12;
  repeated sint64 positive_delta = 13 [packed = true];
  repeated double positive_count = 14 [packed = true];
}
message PackedMetric { optional PackedHistogram histogram = 7; }
message PackedFamily { optional string name = 1; optional io.prometheus.client.MetricType type = 3; repeated PackedMetric metric = 4; }
message FutureFamily {
  optional string name = 1;
  optional io.prometheus.client.MetricType type = 3;
  repeated io.prometheus.client.Metric metric = 4;
  optional string note = 99;
  optional fixed32 flags = 100;
  optional int64 epoch = 101;
  optional fixed64 hash = 102;
}
`;

const root = new protobuf.Root();
protobuf.parse(TIMESTAMP_PROTO, root);
protobuf.parse(METRICS_PROTO, root);
protobuf.parse(VARIANTS_PROTO, root);
root.resolveAll();
const MetricFamily = root.lookupType("io.prometheus.client.MetricFamily");

/** Encodes messages with `type.encodeDelimited` and concatenates them, as the Go client's push does. */
function body(messages: object[], type: protobuf.Type = MetricFamily): Uint8Array {
  return concat(messages.map((m) => type.encodeDelimited(type.fromObject(checkFields(type, m))).finish()));
}

/** `fromObject` drops unknown keys silently: make a typo in a test message fail loudly instead. */
function checkFields(type: protobuf.Type, message: object): object {
  for (const [key, value] of Object.entries(message)) {
    const field = type.fields[key];
    if (field === undefined) throw new Error(`${type.name} has no field "${key}"`);
    const sub = field.resolve().resolvedType;
    if (sub instanceof protobuf.Type) for (const v of Array.isArray(value) ? value : [value]) checkFields(sub, v as object);
  }
  return message;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A varint length prefix plus `bytes`: one delimited message built by hand. */
function delimit(bytes: number[]): Uint8Array {
  const out: number[] = [];
  let n = bytes.length;
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n, ...bytes);
  return Uint8Array.from(out);
}

const labels = (pairs: Record<string, string>) => Object.entries(pairs).map(([name, value]) => ({ name, value }));


describe("parseDelimitedProtobuf: what the Go client pushes", () => {
  it("decodes counters, gauges and untyped, with labels, help and unit", () => {
    const bytes = body([
      {
        name: "http_requests_total",
        help: "Requests served.",
        type: "COUNTER",
        metric: [
          { label: labels({ code: "200", method: "GET" }), counter: { value: 1027, createdTimestamp: { seconds: 1700000000 } } },
          { label: labels({ code: "500", method: "POST" }), counter: { value: 3, exemplar: { label: labels({ trace_id: "abc" }), value: 1 } } },
        ],
      },
      { name: "queue_depth", help: "Jobs waiting.\nSecond line with \\ and \"quotes\".", type: "GAUGE", metric: [{ gauge: { value: -2.5 } }] },
      { name: "build_seconds", type: "UNTYPED", unit: "seconds", metric: [{ label: labels({ "k8s.pod": "a-1", empty: "" }), untyped: { value: Infinity } }] },
      { name: "temperature", type: "GAUGE", metric: [{ label: labels({ room: "kitchen 🍳" }), gauge: { value: NaN } }, { label: labels({ room: "hall" }), gauge: {} }] },
    ]);
    const expected: Family[] = [
      {
        name: "http_requests_total",
        type: "counter",
        help: "Requests served.",
        unit: "",
        keys: ['code="200",method="GET"', 'code="500",method="POST"'],
        values: [1027, 3],
      },
      { name: "queue_depth", type: "gauge", help: 'Jobs waiting.\nSecond line with \\ and "quotes".', unit: "", keys: [""], values: [-2.5] },
      // Keys are canonical: a label with an empty value is left out, a non-legacy name quoted.
      { name: "build_seconds", type: "untyped", help: "", unit: "seconds", keys: ['"k8s.pod"="a-1"'], values: [Infinity] },
      {
        name: "temperature",
        type: "gauge",
        help: "",
        unit: "",
        keys: ['room="kitchen 🍳"', 'room="hall"'],
        // An empty Gauge message is a gauge of 0, as Go's GetValue() reads it.
        values: [NaN, 0],
      },
    ];
    expect(parseDelimitedProtobuf(bytes)).toEqual(expected);
  });

  it("keys series canonically: labels sorted by name, empty values left out, as the text parser does", () => {
    const bytes = body([
      {
        name: "g",
        type: "GAUGE",
        metric: [
          { label: labels({ zone: "eu", app: "web", empty: "" }), gauge: { value: 1 } },
          { label: labels({ "k8s.pod": 'p"1', B: "x\ny" }), gauge: { value: 2 } },
        ],
      },
    ]);
    expect(parseDelimitedProtobuf(bytes)[0]?.keys).toEqual(['app="web",zone="eu"', 'B="x\\ny","k8s.pod"="p\\"1"']);
  });

  it("decodes summaries: quantiles as given, sum and count", () => {
    const bytes = body([
      {
        name: "rpc_duration_seconds",
        help: "RPC latency.",
        type: "SUMMARY",
        metric: [
          {
            label: labels({ service: "a" }),
            summary: {
              sampleCount: 9000,
              sampleSum: 1234.5,
              quantile: [
                { quantile: 0.5, value: 0.12 },
                { quantile: 0.9, value: 0.5 },
                { quantile: 0.99, value: NaN },
              ],
            },
          },
          { label: labels({ service: "b" }), summary: { sampleCount: 0, sampleSum: 0 } },
        ],
      },
    ]);
    expect(parseDelimitedProtobuf(bytes)).toEqual([
      {
        name: "rpc_duration_seconds",
        type: "summary",
        help: "RPC latency.",
        unit: "",
        keys: ['service="a"', 'service="b"'],
        values: [
          { quantiles: [0.5, 0.9, 0.99], values: [0.12, 0.5, NaN], sum: 1234.5, count: 9000 },
          { quantiles: [], values: [], sum: 0, count: 0 },
        ],
      },
    ] satisfies Family[]);
  });

  it("decodes classic histograms, adding the implicit +Inf bucket", () => {
    const bytes = body([
      {
        name: "request_size_bytes",
        type: "HISTOGRAM",
        metric: [
          {
            // As client_golang writes it: no +Inf bucket, sample_count is its count.
            label: labels({ path: "/" }),
            histogram: {
              sampleCount: 10,
              sampleSum: 5120,
              bucket: [
                { cumulativeCount: 2, upperBound: 100 },
                { cumulativeCount: 7, upperBound: 1000, exemplar: { label: labels({ id: "x" }), value: 900 } },
              ],
              createdTimestamp: { seconds: 1700000000 },
            },
          },
          {
            // An explicit +Inf bucket (other clients) is kept, not doubled.
            label: labels({ path: "/a" }),
            histogram: { sampleCount: 3, sampleSum: 1.5, bucket: [{ cumulativeCount: 1, upperBound: 0.5 }, { cumulativeCount: 3, upperBound: Infinity }] },
          },
          // No buckets at all: just +Inf.
          { label: labels({ path: "/b" }), histogram: { sampleCount: 4, sampleSum: 8 } },
        ],
      },
      {
        name: "float_histogram",
        type: "HISTOGRAM",
        metric: [
          {
            histogram: {
              sampleCountFloat: 2.5,
              sampleSum: 3,
              bucket: [
                { cumulativeCountFloat: 0.5, upperBound: -1 },
                { cumulativeCountFloat: 1.5, upperBound: 1 },
              ],
            },
          },
        ],
      },
    ]);
    expect(parseDelimitedProtobuf(bytes)).toEqual([
      {
        name: "request_size_bytes",
        type: "histogram",
        help: "",
        unit: "",
        keys: ['path="/"', 'path="/a"', 'path="/b"'],
        values: [
          { bounds: [100, 1000, Infinity], counts: [2, 7, 10], sum: 5120, count: 10 },
          { bounds: [0.5, Infinity], counts: [1, 3], sum: 1.5, count: 3 },
          { bounds: [Infinity], counts: [4], sum: 8, count: 4 },
        ],
      },
      {
        name: "float_histogram",
        type: "histogram",
        help: "",
        unit: "",
        keys: [""],
        values: [{ bounds: [-1, 1, Infinity], counts: [0.5, 1.5, 2.5], sum: 3, count: 2.5 }],
      },
    ] satisfies Family[]);
  });

  it("uses the classic buckets of a histogram that also carries native buckets (packed or not)", () => {
    const native = { schema: 3, zeroThreshold: 1e-128, zeroCount: 1, positiveSpan: [{ offset: 0, length: 2 }], positiveDelta: [1, 2], negativeCount: [1.5] };
    const classic = { sampleCount: 5, sampleSum: 10, bucket: [{ cumulativeCount: 5, upperBound: 2 }] };
    const expected = { bounds: [2, Infinity], counts: [5, 5], sum: 10, count: 5 };
    const unpacked = body([{ name: "h", type: "HISTOGRAM", metric: [{ histogram: { ...classic, ...native } }] }]);
    expect(parseDelimitedProtobuf(unpacked)[0]?.values).toEqual([expected]);
    const packed = body(
      [{ name: "h", type: "HISTOGRAM", metric: [{ histogram: { ...classic, schema: 3, positiveSpan: [{ offset: 0, length: 2 }], positiveDelta: [1, -2], positiveCount: [1, 2] } }] }],
      root.lookupType("test.PackedFamily"),
    );
    expect(parseDelimitedProtobuf(packed)[0]?.values).toEqual([expected]);
  });

  it("reads fields in any order and skips unknown ones, proto2 groups included", () => {
    const reordered = body(
      [{ name: "late_type", help: "h", unit: "u", type: "GAUGE", metric: [{ label: labels({ a: "1" }), gauge: { value: 7 } }] }],
      root.lookupType("test.ReorderedFamily"),
    );
    expect(parseDelimitedProtobuf(reordered)).toEqual([
      { name: "late_type", type: "gauge", help: "h", unit: "u", keys: ['a="1"'], values: [7] },
    ] satisfies Family[]);

    const future = body(
      [{ name: "future", type: "GAUGE", metric: [{ gauge: { value: 1 } }], note: "x", flags: 7, epoch: -1, hash: 42 }],
      root.lookupType("test.FutureFamily"),
    );
    // Field 50 as a group holding a varint field 1 = 1 and a nested group 51, appended to the message.
    const plain = MetricFamily.encode(MetricFamily.fromObject({ name: "grouped", type: "UNTYPED", metric: [{ untyped: { value: 2 } }] })).finish();
    const grouped = delimit([...plain, 0x93, 0x03, 0x08, 0x01, 0x9b, 0x03, 0x9c, 0x03, 0x94, 0x03]);
    expect(parseDelimitedProtobuf(concat([future, grouped]))).toEqual([
      { name: "future", type: "gauge", help: "", unit: "", keys: [""], values: [1] },
      { name: "grouped", type: "untyped", help: "", unit: "", keys: [""], values: [2] },
    ] satisfies Family[]);
  });

  it("defaults an absent type to COUNTER, skips families without metrics, reads an empty body as none", () => {
    const bytes = body([
      { name: "no_type_total", metric: [{ counter: { value: 1 } }] },
      { name: "empty_family", type: "GAUGE", help: "nothing yet" },
    ]);
    expect(parseDelimitedProtobuf(bytes)).toEqual([
      { name: "no_type_total", type: "counter", help: "", unit: "", keys: [""], values: [1] },
    ] satisfies Family[]);
    expect(parseDelimitedProtobuf(new Uint8Array(0))).toEqual([]);
  });

  it("decodes a body that is a view into a larger buffer", () => {
    const bytes = body([{ name: "g", type: "GAUGE", metric: [{ gauge: { value: 1.25 } }] }]);
    const big = new Uint8Array(bytes.length + 13);
    big.set(bytes, 7);
    const [family] = parseDelimitedProtobuf(big.subarray(7, 7 + bytes.length));
    expect([family?.keys, family?.values]).toEqual([[""], [1.25]]);
  });
});

describe("parseDelimitedProtobuf: rejections", () => {
  it("rejects timestamps unless allowed", () => {
    const bytes = body([{ name: "jobs_total", type: "COUNTER", metric: [{ label: labels({ queue: "a" }), counter: { value: 1 }, timestampMs: 1700000000000 }] }]);
    const e = thrown(() => parseDelimitedProtobuf(bytes));
    expect(e.name).toBe("InvalidValue");
    expect(e.message).toBe('metric jobs_total{queue="a"}: sample has a timestamp; the gateway stamps its own time on export, push without timestamps');
    const [family] = parseDelimitedProtobuf(bytes, { allowTimestamps: true });
    expect([family?.keys, family?.values]).toEqual([['queue="a"'], [1]]);
    // A negative timestamp is a 10-byte varint.
    const negative = body([{ name: "g", type: "GAUGE", metric: [{ gauge: { value: 1 }, timestampMs: -1 }] }]);
    expect(parseDelimitedProtobuf(negative, { allowTimestamps: true })).toHaveLength(1);
  });

  it("rejects native-only histograms and gauge histograms", () => {
    const nativeOnly = body([
      { name: "latency_seconds", type: "HISTOGRAM", metric: [{ histogram: { sampleCount: 3, sampleSum: 1, schema: 3, zeroThreshold: 1e-128, positiveSpan: [{ offset: 0, length: 1 }], positiveDelta: [3] } }] },
    ]);
    let e = thrown(() => parseDelimitedProtobuf(nativeOnly));
    expect(e.name).toBe("InvalidValue");
    expect(e.message).toBe("metric latency_seconds{}: native histograms are not supported; push classic buckets (in Go, set Buckets in HistogramOpts and leave NativeHistogramBucketFactor unset)");
    // client_golang marks an empty native histogram with a zero-length span.
    const emptyNative = body(
      [{ name: "latency_seconds", type: "HISTOGRAM", metric: [{ histogram: { sampleCount: 0, sampleSum: 0, schema: 3, positiveSpan: [{ offset: 0, length: 0 }] } }] }],
      root.lookupType("test.PackedFamily"),
    );
    expect(thrown(() => parseDelimitedProtobuf(emptyNative)).name).toBe("InvalidValue");

    const gaugeHistogram = body([{ name: "queue_size", type: "GAUGE_HISTOGRAM", metric: [{ histogram: { sampleCount: 1, sampleSum: 1, bucket: [{ cumulativeCount: 1, upperBound: 1 }] } }] }]);
    e = thrown(() => parseDelimitedProtobuf(gaugeHistogram));
    expect(e.name).toBe("InvalidValue");
    expect(e.message).toBe(
      'metric "queue_size": gauge histograms are not supported: the gateway stores counters, gauges, histograms, summaries and untyped metrics; push it as a histogram or as gauges',
    );
  });

  /** Where a rejection in the first metric is reported: its bytes start at offset 8 (after the length prefix, name, type, metric tag and length). */
  const AT_METRIC = (family: string) => `protobuf body: message 1 (family "${family}") at byte offset 8: `;
  it.each([
    ["a gauge field in a COUNTER family", { name: "c", type: "COUNTER", metric: [{ gauge: { value: 1 } }] }, `${AT_METRIC("c")}metric c{} has value field gauge, but its family is a COUNTER; a COUNTER metric needs exactly the "counter" field`],
    ["no value field", { name: "g", type: "GAUGE", metric: [{ label: labels({ a: "b" }) }] }, `${AT_METRIC("g")}metric g{a="b"} has no value field, but its family is a GAUGE; a GAUGE metric needs exactly the "gauge" field`],
    ["two value fields", { name: "u", type: "UNTYPED", metric: [{ untyped: { value: 1 }, gauge: { value: 1 } }] }, `${AT_METRIC("u")}metric u{} has value fields gauge and untyped, but its family is a UNTYPED; a UNTYPED metric needs exactly the "untyped" field`],
    ["a histogram field in a SUMMARY family", { name: "s", type: "SUMMARY", metric: [{ histogram: { sampleCount: 1 } }] }, `${AT_METRIC("s")}metric s{} has value field histogram, but its family is a SUMMARY; a SUMMARY metric needs exactly the "summary" field`],
    ["an empty family name", { name: "", type: "GAUGE", metric: [{ gauge: { value: 1 } }] }, "protobuf body: message 1 at byte offset 1: the family has no name; every MetricFamily needs one"],
    ["no family name", { type: "GAUGE", metric: [{ gauge: { value: 1 } }] }, "protobuf body: message 1 at byte offset 1: the family has no name; every MetricFamily needs one"],
    ["a duplicate label", { name: "g", type: "GAUGE", metric: [{ label: labels({ b: "1" }).concat(labels({ a: "2", b: "3" })), gauge: { value: 1 } }] }, `${AT_METRIC("g")}label "b" appears twice in metric g{b="1",a="2",b="3"}; keep one`],
    ["unordered buckets", { name: "h", type: "HISTOGRAM", metric: [{ histogram: { sampleCount: 2, bucket: [{ cumulativeCount: 1, upperBound: 2 }, { cumulativeCount: 2, upperBound: 1 }] } }] }, `${AT_METRIC("h")}metric h{}: bucket upper bound 1 comes after 2; buckets must be in ascending order of upper_bound`],
    ["decreasing bucket counts", { name: "h", type: "HISTOGRAM", metric: [{ histogram: { sampleCount: 2, bucket: [{ cumulativeCount: 2, upperBound: 1 }, { cumulativeCount: 1, upperBound: 2 }] } }] }, `${AT_METRIC("h")}metric h{}: bucket le=2 has cumulative count 1, less than the previous bucket's 2; bucket counts are cumulative and never decrease`],
    ["sample_count below the last bucket", { name: "h", type: "HISTOGRAM", metric: [{ histogram: { sampleCount: 1, bucket: [{ cumulativeCount: 2, upperBound: 1 }] } }] }, `${AT_METRIC("h")}metric h{}: sample_count 1 is less than the last bucket's cumulative count 2`],
    ["sample_count unlike the +Inf bucket", { name: "h", type: "HISTOGRAM", metric: [{ histogram: { sampleCount: 1, bucket: [{ cumulativeCount: 2, upperBound: Infinity }] } }] }, `${AT_METRIC("h")}metric h{}: sample_count 1 differs from the +Inf bucket's count 2; they must be equal`],
    ["a quantile outside [0, 1]", { name: "s", type: "SUMMARY", metric: [{ summary: { quantile: [{ quantile: 1.5, value: 1 }] } }] }, `${AT_METRIC("s")}metric s{}: quantile 1.5 is outside [0, 1]`],
    ["a repeated quantile", { name: "s", type: "SUMMARY", metric: [{ summary: { quantile: [{ quantile: 0.5, value: 1 }, { quantile: 0.5, value: 2 }] } }] }, `${AT_METRIC("s")}metric s{}: quantile 0.5 appears twice`],
  ])("rejects %s as a ParseError", (_what, family, message) => {
    const e = thrown(() => parseDelimitedProtobuf(body([family])));
    expect(e.name).toBe("ParseError");
    expect(e.message).toBe(message);
  });

  it("rejects bad names as InvalidName", () => {
    const reserved = thrown(() => parseDelimitedProtobuf(body([{ name: "g", type: "GAUGE", metric: [{ label: labels({ __meta: "x" }), gauge: { value: 1 } }] }])));
    expect(reserved.name).toBe("InvalidName");
    expect(reserved.message).toBe('metric g{__meta="x"}: label name "__meta" starts with "__", which Prometheus reserves for internal labels; rename the label');
    const emptyLabel = thrown(() => parseDelimitedProtobuf(body([{ name: "g", type: "GAUGE", metric: [{ label: [{ value: "x" }], gauge: { value: 1 } }] }])));
    expect(emptyLabel.name).toBe("InvalidName");
    const le = thrown(() => parseDelimitedProtobuf(body([{ name: "h", type: "HISTOGRAM", metric: [{ label: labels({ le: "1" }), histogram: { sampleCount: 0 } }] }])));
    expect(le.name).toBe("InvalidName");
    expect(le.message).toBe('metric h{le="1"}: label "le" is reserved for the histogram\'s buckets; rename the label');
  });

  it("rejects a family that appears twice", () => {
    const first = body([{ name: "jobs_total", type: "COUNTER", metric: [{ counter: { value: 1 } }] }]);
    const bytes = concat([first, body([{ name: "jobs_total", type: "COUNTER", metric: [{ label: labels({ a: "b" }), counter: { value: 1 } }] }])]);
    const e = thrown(() => parseDelimitedProtobuf(bytes));
    expect(e.name).toBe("ParseError");
    expect(e.message).toBe(
      `protobuf body: message 2 (family "jobs_total") at byte offset ${first.length + 1}: family "jobs_total" appears twice in the body; send each family once, with all its metrics`,
    );
  });

  it("rejects invalid UTF-8 with the string's offset", () => {
    // Family "g", gauge metric with label name "a" and value bytes ff fe.
    const bytes = delimit([0x0a, 0x01, 0x67, 0x18, 0x01, 0x22, 0x14, 0x0a, 0x07, 0x0a, 0x01, 0x61, 0x12, 0x02, 0xff, 0xfe, 0x12, 0x09, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    const e = thrown(() => parseDelimitedProtobuf(bytes));
    expect(e.name).toBe("ParseError");
    // The value's tag is body byte 13; the error points at its length byte, 14.
    const notUtf8 = 'protobuf body: message 1 (family "g") at byte offset 14: field LabelPair.value is not valid UTF-8; strings must be UTF-8 encoded';
    expect(e.message).toBe(notUtf8);
    // The same message with a valid value decodes, so only the bytes were at fault.
    const fixed = bytes.slice();
    fixed.set([0x78, 0x79], 15);
    const [family] = parseDelimitedProtobuf(fixed);
    expect([family?.keys, family?.values]).toEqual([['a="xy"'], [1]]);
    // A long (non-fast-path) string too.
    const long = body([{ name: "g", type: "GAUGE", metric: [{ label: labels({ a: "é".repeat(40) }), gauge: { value: 1 } }] }]);
    expect(parseDelimitedProtobuf(long)[0]?.keys[0]).toBe(`a="${"é".repeat(40)}"`);
    const broken = long.slice();
    broken[broken.indexOf(0xc3)] = 0xff;
    // The label value's length byte is at offset 14 again: same family, same label name before it.
    expect(thrown(() => parseDelimitedProtobuf(broken)).message).toBe(notUtf8);
  });

  it("rejects truncated and corrupt bytes, saying where", () => {
    const first = body([{ name: "a_total", type: "COUNTER", metric: [{ counter: { value: 1 } }] }]);
    const second = body([{ name: "b_total", help: "B.", type: "COUNTER", metric: [{ label: labels({ x: "y" }), counter: { value: 2 } }] }]);
    const whole = concat([first, second]);
    expect(parseDelimitedProtobuf(whole)).toHaveLength(2);

    // Cut inside the second message: its length prefix promises more than is left.
    let e = thrown(() => parseDelimitedProtobuf(whole.subarray(0, whole.length - 3)));
    expect(e.name).toBe("ParseError");
    expect(e.message).toBe(`protobuf body: message 2 at byte offset ${first.length}: the message length ${second.length - 1} runs past the end of the body (${second.length - 4} bytes left); the body is truncated${SHAPE}`);

    // Cut inside a length prefix.
    e = thrown(() => parseDelimitedProtobuf(Uint8Array.from([0x80])));
    expect(e.message).toBe(`protobuf body: message 1 at byte offset 0: the body ends inside a varint; the body is truncated${SHAPE}`);

    // An unknown field 9 with the invalid wire type 7 where the second message's help is (after its name, so the family is known).
    const corrupt = whole.slice();
    const helpKeyAt = first.length + 1 + 2 + "b_total".length;
    expect(corrupt[helpKeyAt]).toBe(0x12);
    corrupt[helpKeyAt] = 0x4f;
    e = thrown(() => parseDelimitedProtobuf(corrupt));
    expect(e.message).toBe(`protobuf body: message 2 (family "b_total") at byte offset ${helpKeyAt + 1}: field 9 has wire type 7, which is invalid here${SHAPE}`);

    // A wrong wire type for a known field: name as a varint.
    e = thrown(() => parseDelimitedProtobuf(delimit([0x08, 0x01])));
    expect(e.message).toBe(`protobuf body: message 1 at byte offset 2: field MetricFamily.name has wire type varint, expected length-delimited${SHAPE}`);

    // An embedded message longer than its parent.
    e = thrown(() => parseDelimitedProtobuf(concat([delimit([0x0a, 0x01, 0x67, 0x22, 0x05, 0x12, 0x09, 0x09, 0x00]), delimit([0x0a, 0x01, 0x68])])));
    expect(e.message).toBe(`protobuf body: message 1 (family "g") at byte offset 5: field MetricFamily.metric of 5 bytes runs past the end of its enclosing message${SHAPE}`);

    // A double cut short inside its message, field number 0, an unknown type, a runaway varint.
    const shortDouble = delimit([0x0a, 0x01, 0x67, 0x18, 0x01, 0x22, 0x05, 0x12, 0x03, 0x09, 0x00, 0x00]);
    e = thrown(() => parseDelimitedProtobuf(concat([shortDouble, delimit([0x0a, 0x01, 0x68])])));
    expect(e.message).toBe(`protobuf body: message 1 (family "g") at byte offset 11: field gauge.value runs past the end of its message${SHAPE}`);
    e = thrown(() => parseDelimitedProtobuf(shortDouble));
    expect(e.message).toBe(`protobuf body: message 1 (family "g") at byte offset 11: field gauge.value runs past the end of the body${SHAPE}`);
    e = thrown(() => parseDelimitedProtobuf(delimit([0x00, 0x00])));
    expect(e.message).toBe(`protobuf body: message 1 at byte offset 1: invalid field number 0${SHAPE}`);
    e = thrown(() => parseDelimitedProtobuf(delimit([0x18, 0x09])));
    expect(e.message).toBe(`protobuf body: message 1 at byte offset 2: unknown metric type 9; io.prometheus.client.MetricType is 0 to 5${SHAPE}`);
    e = thrown(() => parseDelimitedProtobuf(delimit([0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])));
    expect(e.message).toBe(`protobuf body: message 1 at byte offset 2: a varint is longer than 10 bytes${SHAPE}`);
    // An unterminated group.
    e = thrown(() => parseDelimitedProtobuf(delimit([0x93, 0x03, 0x08, 0x01])));
    expect(e.message).toBe(`protobuf body: message 1 at byte offset 5: the body ends inside a varint; the body is truncated${SHAPE}`);
  });

  it("decodes 10,000 series, each with its own values although label strings are interned", () => {
    const families = [];
    for (let f = 0; f < 100; f++) {
      const metric = [];
      for (let s = 0; s < 100; s++) {
        metric.push({ label: labels({ instance: `host-${s % 10}`, method: ["GET", "POST"][s % 2] ?? "GET", path: `/api/v1/item/${s}` }), counter: { value: s * 3 } });
      }
      families.push({ name: `app_requests_${f}_total`, help: "Requests.", type: "COUNTER", metric });
    }
    const bytes = body(families);
    const decoded = parseDelimitedProtobuf(bytes);
    expect(decoded.reduce((n, family) => n + family.keys.length, 0)).toBe(10_000);
    // Strings are interned by their bytes: every series still has its own values.
    for (const [f, s] of [[0, 0], [57, 42], [99, 99]] as const) {
      const family = decoded[f];
      expect([family?.keys[s], family?.values[s]]).toEqual([`instance="host-${s % 10}",method="${s % 2 === 0 ? "GET" : "POST"}",path="/api/v1/item/${s}"`, s * 3]);
    }
  });
});
