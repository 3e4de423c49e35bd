// The OpenMetrics parser test vectors: every case must parse or fail exactly as the suite says, and
// every case that parses must give the families its input spells out (written here by hand from
// each vector's `metrics` file, not computed by the parser under test).
import { describe, expect, inject, it } from "vitest";
import { GatewayError } from "../src/common/errors";
import type { Family, Histogram, MetricType, Summary } from "../src/common/model";
import { parseExposition } from "../src/wire/exposition/parse";

// What test/setup/vectors.ts provides is typed in test/provided.d.ts.
const vectors = inject("openmetricsVectors");
const dir = inject("openmetricsVectorsDir");

/** How many cases the suite has; a different count means the vectors changed or were not all read. */
const EXPECTED_CASES = 211;

type Scalar = Extract<MetricType, "counter" | "gauge" | "untyped">;

/**
 * A counter, gauge or untyped family. Keys are canonical label keys (sorted, escaped, empty values
 * left out). `unique`: the parser proved the keys distinct (no grouping labels here to replace any).
 */
function scalar(name: string, type: Scalar, help: string, series: [string, number][], unit = ""): Family {
  return { name, type, help, unit, keys: series.map(([k]) => k), values: series.map(([, v]) => v), unique: true };
}

function histogram(name: string, help: string, series: [string, Histogram][]): Family {
  return { name, type: "histogram", help, unit: "", keys: series.map(([k]) => k), values: series.map(([, v]) => v), unique: true };
}

function summary(name: string, help: string, series: [string, Summary][]): Family {
  return { name, type: "summary", help, unit: "", keys: series.map(([k]) => k), values: series.map(([, v]) => v), unique: true };
}

/** Bucket upper bounds and cumulative counts; `sum` / `count` undefined when the input has no `_sum` / `_count`. */
function buckets(bounds: number[], counts: number[], sum?: number, count?: number): Histogram {
  return { bounds, counts, sum, count };
}

const INF = Number.POSITIVE_INFINITY;
/** A label key with one label `foo` whose value is `v` as the key renders it (already escaped). */
const foo = (v: string) => `foo="${v}"`;
/** The ten families of help_escaping / label_escaping: a0 .. a9, counters with one series each. */
const tenCounters = (help: (i: number) => string, key: (i: number) => string) =>
  Array.from({ length: 10 }, (_, i) => scalar(`a${i}_total`, "counter", help(i), [[key(i), 1]]));

/**
 * What each vector with `shouldParse: true` parses to. Conventions the gateway documents (README):
 * an OpenMetrics counter `a` is stored as `a_total`; `_created` samples, exemplars and timestamps
 * are dropped; `unknown` (and no TYPE) is untyped; info and stateset are gauges, an info family `a`
 * under its sample name `a_info`.
 */
const EXPECTED: Record<string, Family[]> = {
  counter_exemplars: [scalar("a_total", "counter", "help", [["", 0]])],
  counter_exemplars_empty_brackets: [scalar("a_total", "counter", "help", [["", 0]])],
  counter_unit: [scalar("cc_seconds_total", "counter", "A counter", [["", 1]], "seconds")],
  // The same series at several times: the last sample (the latest, or last written at equal times) is its value.
  duplicate_timestamps_0: [scalar("a", "gauge", "help", [['a="1",foo="bar"', 3], ['a="2",foo="bar"', 5]])],
  duplicate_timestamps_1: [scalar("a", "gauge", "help", [['a="1",foo="bar"', 3], ['a="2",foo="bar"', 5]])],
  empty_brackets: [scalar("a_total", "counter", "help", [["", 1]])],
  empty_help: [scalar("a_total", "counter", "", [["", 1]])],
  // foo="" is no label at all.
  empty_label: [scalar("a_total", "counter", "help", [[foo("bar"), 1], ["", 2]])],
  // Metadata without samples: a family with no series; no TYPE means unknown.
  empty_metadata: [scalar("a", "untyped", "", [])],
  // \n and \\ are escapes; \t and \z are not, and stay as written (a backslash and the letter).
  escaping: [
    scalar("a_total", "counter", "he\n\\l\\tp", [
      [foo('b\\"a\\nr'), 1],
      [foo("b\\\\a\\\\z"), 2],
      [foo('b\\"a\\nr # '), 3],
      [foo("b\\\\a\\\\z # "), 4],
    ]),
  ],
  exemplars_wide_chars: [histogram("a", "", [["", buckets([INF], [1])]])],
  exemplars_with_hash_in_label_values: [histogram("a", "help", [[foo("bar # "), buckets([1, 2, INF], [0, 2, 3])]])],
  float_gauge: [scalar("a", "gauge", "help", [["", 1.2]])],
  // The gateway stores no gaugehistogram (a push rejects it, checked below); read leniently, its
  // buckets are a histogram's and _gsum / _gcount its sum and count.
  gaugehistogram_exemplars: [histogram("a", "help", [["", buckets([1, 2, INF], [0, 2, 3])]])],
  hash_in_label_value: [scalar("a_total", "counter", "help", [[foo("foo # bar"), 1], [foo("} foo # bar # "), 1]])],
  help_escaping: tenCounters((i) => ["foo", "\\foo", "\\foo", "foo\\", "\\", "\n", "\\n", "\\\n", '"', '\\"'][i] ?? "", () => foo("bar")),
  histogram_exemplars: [histogram("a", "help", [["", buckets([1, 2, INF], [0, 2, 3])]])],
  histogram_noncanonical: [
    histogram("a", "help", [["", buckets([0, 1e-11, 1e-10, 1e-4, 1.1e-4, 1.1e-3, 1.1e-2, 1, 1e5, 1e10, 1e11, INF], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3], 2, 3)]]),
  ],
  info_timestamps: [scalar("a_info", "gauge", "help", [['a="1",foo="bar"', 1], ['a="2",foo="bar"', 1]])],
  // Values as the key renders them: \f is no escape (kept: backslash, f), so a1 and a2 are the same value.
  label_escaping: tenCounters(
    () => "help",
    (i) => `bar="baz",${foo(["foo", "\\\\foo", "\\\\foo", "foo\\\\", "\\\\", "\\n", "\\\\n", "\\\\\\n", '\\"', '\\\\\\"'][i] ?? "")}`,
  ),
  labels_and_infinite: [scalar("a", "gauge", "help", [[foo("bar"), INF], [foo("baz"), -INF]])],
  labels_with_curly_braces: [scalar("a_total", "counter", "help", [['bar="b{a}z",foo="bar"', 1]])],
  leading_zeros_float_gauge: [scalar("a", "gauge", "help", [["", 0.12]])],
  leading_zeros_simple_gauge: [scalar("a", "gauge", "help", [["", 1]])],
  nan: [scalar("a", "untyped", "", [["", Number.NaN]])],
  nan_gauge: [scalar("a", "gauge", "help", [["", Number.NaN]])],
  negative_bucket_gaugehistogram: [histogram("a", "help", [["", buckets([-1, 1, INF], [1, 2, 3], -5, 3)]])],
  negative_bucket_histogram: [histogram("a", "help", [["", buckets([-1, 1, INF], [0, 1, 3])]])],
  no_metadata: [scalar("a", "untyped", "", [["", 1]])],
  no_newline_after_eof: [scalar("a", "gauge", "help", [["", 1]])],
  null_byte: [scalar("a_total", "counter", "he\u0000lp", [])],
  roundtrip: [
    summary("go_gc_duration_seconds", "A summary of the GC invocation durations.", [
      ["", { quantiles: [0, 0.25, 0.5, 0.75, 1], values: [0.013300656000000001, 0.013638736, 0.013759906, 0.013962066, 0.021383540000000003], sum: 56.12904785, count: 7476 }],
    ]),
    scalar("go_goroutines", "gauge", "Number of goroutines that currently exist.", [["", 166]]),
    summary("prometheus_local_storage_indexing_batch_duration_milliseconds", "Quantiles for batch indexing duration in milliseconds.", [
      ["", { quantiles: [0.5, 0.9, 0.99], values: [Number.NaN, Number.NaN, Number.NaN], sum: 871.5665949999999, count: 229 }],
    ]),
    scalar("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", [["", 29323.4]]),
    scalar("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", [["", 2478268416]]),
    scalar("prometheus_build_info", "gauge", "A metric with a constant '1' value labeled by version, revision, and branch from which Prometheus was built.", [
      ['branch="HEAD",revision="ef176e5",version="0.16.0rc1"', 1],
    ]),
    scalar("prometheus_local_storage_chunk_ops_total", "counter", "The total number of chunk operations by their type.", [
      ['type="clone"', 28],
      ['type="create"', 997844],
      ['type="drop"', 1345758],
      ['type="load"', 1641],
      ['type="persist"', 981408],
      ['type="pin"', 32662],
      ['type="transcode"', 980180],
      ['type="unpin"', 32662],
    ]),
    // HELP is everything after the name: "histogram Testing ..." (the vector's own wording).
    histogram("foo", "histogram Testing histogram buckets", [
      ["", buckets([0, 1e-5, 1e-4, 0.1, 1, 10, 1e5, 1e6, 1555555.55555552, 1e23, INF], [0, 0, 0, 8, 10, 17, 17, 17, 17, 17, 17], 324789.3, 17)],
    ]),
    histogram("bar", "histogram Testing with labels", [
      ['a="b"', buckets([INF], [0])],
      ['a="c"', buckets([INF], [0])],
    ]),
  ],
  simple_counter: [scalar("a_total", "counter", "help", [["", 1]])],
  simple_gauge: [scalar("a", "gauge", "help", [["", 1]])],
  simple_gaugehistogram: [histogram("a", "help", [["", buckets([1, INF], [0, 3], 2, 3)]])],
  simple_histogram: [histogram("a", "help", [["", buckets([1, INF], [0, 3], 2, 3)]])],
  simple_stateset: [scalar("a", "gauge", "help", [['a="bar"', 0], ['a="foo"', 1]])],
  simple_summary: [summary("a", "help", [["", { quantiles: [], values: [], sum: 2, count: 1 }]])],
  summary_quantiles: [summary("a", "help", [["", { quantiles: [0.5, 1], values: [0.7, 0.8], sum: 2, count: 1 }]])],
  timestamps: [
    scalar("a_total", "counter", "help", [1, 2, 3, 4, 5].map((i): [string, number] => [foo(String(i)), 1])),
    scalar("b_total", "counter", "help", [["", 2]]),
  ],
  type_help_switched: [scalar("a_total", "counter", "help", [["", 1]])],
  // 2^63 does not fit an int64; as a float it is exact.
  uint64_counter: [scalar("a_total", "counter", "help", [["", 2 ** 63]])],
  unit_gauge: [scalar("a_seconds", "gauge", "help", [["", 1]], "seconds")],
  untyped: [
    scalar("redis_connected_clients", "untyped", "Redis connected clients", [
      ['instance="rough-snowflake-web",port="6380"', 10],
      ['instance="rough-snowflake-web",port="6381"', 12],
    ]),
  ],
};

/** Vectors of a type the gateway does not store: a push (rejectUnsupported) answers InvalidValue. */
const UNSUPPORTED = ["gaugehistogram_exemplars", "negative_bucket_gaugehistogram", "simple_gaugehistogram"];

describe("OpenMetrics parser vectors", () => {
  if (!dir.found) {
    // A failure, not a skip: a run without the vectors would otherwise pass having checked nothing.
    it("finds the vectors", () => {
      throw new Error(`no OpenMetrics parser vectors at ${dir.path}: lay shared/vectors beside the checkout (as CI does) or set OPENMETRICS_VECTORS_DIR`);
    });
    return;
  }

  it(`has all ${EXPECTED_CASES} cases, and an expectation for every one that parses`, () => {
    expect(vectors.length).toBe(EXPECTED_CASES);
    expect(vectors.filter((v) => v.shouldParse).map((v) => v.name)).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(vectors.map((v) => [v.name, v] as const))("%s", (name, vector) => {
    let error: unknown;
    let families: Family[] | undefined;
    try {
      families = parseExposition(vector.metrics, "openmetrics");
    } catch (e) {
      error = e;
    }
    if (vector.shouldParse) {
      expect(error).toBeUndefined();
      expect(families).toEqual(EXPECTED[name]);
      if (UNSUPPORTED.includes(name)) {
        let rejected: unknown;
        try {
          parseExposition(vector.metrics, "openmetrics", { rejectUnsupported: true });
        } catch (e) {
          rejected = e;
        }
        expect(rejected).toBeInstanceOf(GatewayError);
        expect((rejected as GatewayError).name).toBe("InvalidValue");
      }
      return;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).name).toBe("ParseError");
    expect((error as GatewayError).message).toMatch(/^line \d+, column \d+: \S/);
  });
});
