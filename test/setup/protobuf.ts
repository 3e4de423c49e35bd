/**
 * Builds a delimited protobuf push body in Node, with protobufjs from the io.prometheus.client
 * `metrics.proto`, for the workerd tests (protobufjs needs eval, which workerd forbids).
 */
import protobuf from "protobufjs";
import type { TestProject } from "vitest/node";

/** The message definitions of prometheus/client_model's metrics.proto that a push uses. */
export const METRICS_PROTO = `
syntax = "proto2";
package io.prometheus.client;
message LabelPair { optional string name = 1; optional string value = 2; }
enum MetricType { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; GAUGE_HISTOGRAM = 5; }
message Gauge { optional double value = 1; }
message Counter { optional double value = 1; }
message Quantile { optional double quantile = 1; optional double value = 2; }
message Summary { optional uint64 sample_count = 1; optional double sample_sum = 2; repeated Quantile quantile = 3; }
message Untyped { optional double value = 1; }
message Bucket { optional uint64 cumulative_count = 1; optional double cumulative_count_float = 4; optional double upper_bound = 2; }
message Histogram { optional uint64 sample_count = 1; optional double sample_count_float = 4; optional double sample_sum = 2; repeated Bucket bucket = 3; }
message Metric {
  repeated LabelPair label = 1; optional Gauge gauge = 2; optional Counter counter = 3; optional Summary summary = 4;
  optional Untyped untyped = 5; optional Histogram histogram = 7; optional int64 timestamp_ms = 6;
}
message MetricFamily { optional string name = 1; optional string help = 2; optional MetricType type = 3; repeated Metric metric = 4; optional string unit = 5; }
`;

export default function setup(project: TestProject): void {
  const root = protobuf.parse(METRICS_PROTO, { keepCase: true }).root;
  const MetricFamily = root.lookupType("io.prometheus.client.MetricFamily");
  const families = [
    { name: "go_jobs_total", help: "Jobs run.", type: 0, metric: [{ label: [{ name: "kind", value: "a" }], counter: { value: 3 } }] },
    { name: "go_temp", help: "Temperature.", type: 1, metric: [{ gauge: { value: -1.5 } }] },
    {
      name: "go_latency_seconds",
      help: "Latency.",
      type: 4,
      metric: [{ histogram: { sample_count: 4, sample_sum: 2.5, bucket: [{ cumulative_count: 1, upper_bound: 0.1 }, { cumulative_count: 3, upper_bound: 1 }] } }],
    },
    {
      name: "go_rpc_seconds",
      help: "RPC latency.",
      type: 2,
      metric: [{ summary: { sample_count: 10, sample_sum: 3, quantile: [{ quantile: 0.5, value: 0.2 }, { quantile: 0.9, value: 0.7 }] } }],
    },
  ];
  const parts = families.map((f) => MetricFamily.encodeDelimited(MetricFamily.fromObject(f)).finish());
  project.provide("protobufPush", parts.flatMap((p) => [...p]));
}
