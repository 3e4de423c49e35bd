/**
 * The text-format parser cases of prometheus/common's expfmt, as data: each case's input and what
 * the Go parser makes of it (families, and their samples as name, labels, value) or the error it
 * reports. test/expfmt-conformance.test.ts runs them against parseExposition.
 *
 * Source: https://github.com/prometheus/common/blob/d2417e2cbb82c4c81e4d28d55f354058169a9f08/expfmt/text_parse_test.go
 * (commit d2417e2cbb82c4c81e4d28d55f354058169a9f08, 2026-08-21): the scenarios of `testTextParse`
 * (ids `valid-N`) and `testTextParseError` (ids `error-N`), N being the case's number there.
 * Copyright 2014 The Prometheus Authors. Licensed under the Apache License, Version 2.0
 * (http://www.apache.org/licenses/LICENSE-2.0); this file is a derived work of that test file:
 * the inputs are copied byte for byte, the expected `dto.MetricFamily` values are rewritten as
 * samples, and the error messages are kept as the text after "text format parsing error in line N: ".
 *
 * How the Go expectations were rewritten:
 * - A counter, gauge or untyped metric is one sample named after its family.
 * - A histogram is one `_bucket` sample per bucket the parser stored (with `le` written as Go's
 *   strconv.FormatFloat(v, 'g', -1, 64) writes it), plus `_sum` / `_count` when it set them; a
 *   summary is one sample per quantile (label `quantile`), plus `_sum` / `_count` when set.
 *   Integer and float counts (`SampleCount` / `SampleCountFloat`) are both just the number.
 * - Timestamps are not samples' values and are left out (the gateway rejects them anyway).
 * - A family's `help` is "" when the Go parser left `Help` unset. Families without metrics are
 *   dropped by the Go parser and are not listed.
 * - error-41 and error-42 are in `testTextParseError` but expect no error with UTF-8 validation
 *   (only legacy validation rejects them): they are valid cases here, with the obvious samples.
 * - error-20's input is not UTF-8 (byte 0xbd), so it is given as bytes.
 */

/** One sample: its name, its labels (any order), and its value. */
export interface ExpfmtSample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** A family as the Go parser returns it (metric types lowercased, as the text format writes them). */
export interface ExpfmtFamily {
  name: string;
  type: "counter" | "gauge" | "untyped" | "histogram" | "summary" | "gaugehistogram";
  help: string;
}

/** A body the Go parser accepts, and what it returns. */
export interface ExpfmtValidCase {
  id: string;
  /** The case's comment in the Go file, or what it tests. */
  title: string;
  input: string;
  families: readonly ExpfmtFamily[];
  samples: readonly ExpfmtSample[];
}

/** A body the Go parser rejects. */
export interface ExpfmtInvalidCase {
  id: string;
  title: string;
  /** The body; `{ bytes }` when it is not valid UTF-8. */
  input: string | { bytes: readonly number[] };
  /** The line of the Go parser's error. */
  line: number;
  /** The Go parser's message (the start of it, as the Go test checks it). */
  error: string;
}

const RDM = "request_duration_microseconds";

/** The buckets of the histogram in valid-4 and its variants, as samples. */
function buckets(name: string, pairs: readonly (readonly [string, number])[]): ExpfmtSample[] {
  return pairs.map(([le, value]) => ({ name: `${name}_bucket`, labels: { le }, value }));
}

export const VALID_CASES: readonly ExpfmtValidCase[] = [
  {
    id: "valid-0",
    title: "Empty lines as input.",
    input: "\n\n",
    families: [],
    samples: [],
  },
  {
    id: "valid-1",
    title: "Minimal case.",
    input: "\nminimal_metric 1.234\nanother_metric -3e3 103948\n# Even that:\nno_labels{} 3\n# HELP line for non-existing metric will be ignored.\n",
    families: [
      { name: "minimal_metric", type: "untyped", help: "" },
      { name: "another_metric", type: "untyped", help: "" },
      { name: "no_labels", type: "untyped", help: "" },
    ],
    samples: [
      { name: "minimal_metric", labels: {}, value: 1.234 },
      { name: "another_metric", labels: {}, value: -3e3 },
      { name: "no_labels", labels: {}, value: 3 },
    ],
  },
  {
    id: "valid-2",
    title: "Counters & gauges, docstrings, various whitespace, escape sequences.",
    input:
      '\n# A normal comment.\n#\n# TYPE name counter\nname{labelname="val1",basename="basevalue"} NaN\nname {labelname="val2",basename="base\\"v\\\\al\\nue"} 0.23 1234567890\n# HELP name two-line\\n doc  str\\\\ing\n\n # HELP  name2  \tdoc str"ing 2\n  #    TYPE    name2 gauge\nname2{labelname="val2"\t,basename   =   "basevalue2"\t\t} +Inf 54321\nname2{ labelname = "val1" , }-Inf\n',
    families: [
      { name: "name", type: "counter", help: "two-line\n doc  str\\ing" },
      { name: "name2", type: "gauge", help: 'doc str"ing 2' },
    ],
    samples: [
      { name: "name", labels: { labelname: "val1", basename: "basevalue" }, value: NaN },
      { name: "name", labels: { labelname: "val2", basename: 'base"v\\al\nue' }, value: 0.23 },
      { name: "name2", labels: { labelname: "val2", basename: "basevalue2" }, value: Infinity },
      { name: "name2", labels: { labelname: "val1" }, value: -Infinity },
    ],
  },
  {
    id: "valid-3",
    title: "The evil summary, mixed with other types and funny comments.",
    input:
      '\n# TYPE my_summary summary\nmy_summary{n1="val1",quantile="0.5"} 110\ndecoy -1 -2\nmy_summary{n1="val1",quantile="0.9"} 140 1\nmy_summary_count{n1="val1"} 42\n# Latest timestamp wins in case of a summary.\nmy_summary_sum{n1="val1"} 4711 2\nfake_sum{n1="val1"} 2001\n# TYPE another_summary summary\nanother_summary_count{n2="val2",n1="val1"} 20\nmy_summary_count{n2="val2",n1="val1"} 5 5\nanother_summary{n1="val1",n2="val2",quantile=".3"} -1.2\nmy_summary_sum{n1="val2"} 08 15\nmy_summary{n1="val3", quantile="0.2"} 4711\n  my_summary{n1="val1",n2="val2",quantile="-12.34",} NaN\n# some\n# funny comments\n# HELP\n# HELP\n# HELP my_summary\n# HELP my_summary\n',
    families: [
      { name: "fake_sum", type: "untyped", help: "" },
      { name: "decoy", type: "untyped", help: "" },
      { name: "my_summary", type: "summary", help: "" },
      { name: "another_summary", type: "summary", help: "" },
    ],
    samples: [
      { name: "fake_sum", labels: { n1: "val1" }, value: 2001 },
      { name: "decoy", labels: {}, value: -1 },
      { name: "my_summary", labels: { n1: "val1", quantile: "0.5" }, value: 110 },
      { name: "my_summary", labels: { n1: "val1", quantile: "0.9" }, value: 140 },
      { name: "my_summary_sum", labels: { n1: "val1" }, value: 4711 },
      { name: "my_summary_count", labels: { n1: "val1" }, value: 42 },
      { name: "my_summary", labels: { n2: "val2", n1: "val1", quantile: "-12.34" }, value: NaN },
      { name: "my_summary_count", labels: { n2: "val2", n1: "val1" }, value: 5 },
      { name: "my_summary_sum", labels: { n1: "val2" }, value: 8 },
      { name: "my_summary", labels: { n1: "val3", quantile: "0.2" }, value: 4711 },
      { name: "another_summary", labels: { n2: "val2", n1: "val1", quantile: "0.3" }, value: -1.2 },
      { name: "another_summary_count", labels: { n2: "val2", n1: "val1" }, value: 20 },
    ],
  },
  {
    id: "valid-4",
    title: "The histogram.",
    input: `\n# HELP ${RDM} The response latency.\n# TYPE ${RDM} histogram\n${RDM}_bucket{le="100"} 123\n${RDM}_bucket{le="120"} 412\n${RDM}_bucket{le="144"} 592\n${RDM}_bucket{le="172.8"} 1524\n${RDM}_bucket{le="+Inf"} 2693\n${RDM}_sum 1.7560473e+06\n${RDM}_count 2693\n`,
    families: [{ name: RDM, type: "histogram", help: "The response latency." }],
    samples: [
      ...buckets(RDM, [
        ["100", 123],
        ["120", 412],
        ["144", 592],
        ["172.8", 1524],
        ["+Inf", 2693],
      ]),
      { name: `${RDM}_sum`, labels: {}, value: 1756047.3 },
      { name: `${RDM}_count`, labels: {}, value: 2693 },
    ],
  },
  {
    id: "valid-5",
    title: "Quoted metric name and quoted label name with dots.",
    input: '\n# HELP "my.noncompliant.metric" help text\n# TYPE "my.noncompliant.metric" counter\n{"my.noncompliant.metric","label.name"="value"} 1\n',
    families: [{ name: "my.noncompliant.metric", type: "counter", help: "help text" }],
    samples: [{ name: "my.noncompliant.metric", labels: { "label.name": "value" }, value: 1 }],
  },
  {
    id: "valid-6",
    title: "Metric family with dots in name.",
    input:
      '\n# HELP "name.with.dots" boring help\n# TYPE "name.with.dots" counter\n{"name.with.dots",labelname="val1",basename="basevalue"} 42.0\n{"name.with.dots",labelname="val2",basename="basevalue"} 0.23 1234567890\n',
    families: [{ name: "name.with.dots", type: "counter", help: "boring help" }],
    samples: [
      { name: "name.with.dots", labels: { labelname: "val1", basename: "basevalue" }, value: 42 },
      { name: "name.with.dots", labels: { labelname: "val2", basename: "basevalue" }, value: 0.23 },
    ],
  },
  {
    id: "valid-7",
    title: "Metric family with dots in name, no labels.",
    input: '\n\t\t\t\t# HELP "name.with.dots" boring help\n\t\t\t\t# TYPE "name.with.dots" counter\n\t\t\t\t{"name.with.dots"} 42.0\n\t\t\t\t{"name.with.dots"} 0.23 1234567890\n\t\t\t\t',
    families: [{ name: "name.with.dots", type: "counter", help: "boring help" }],
    samples: [
      { name: "name.with.dots", labels: {}, value: 42 },
      { name: "name.with.dots", labels: {}, value: 0.23 },
    ],
  },
  {
    id: "valid-8",
    title: "Quoted metric name and quoted label names with dots and asterisks, special characters in label values.",
    input:
      '# HELP "gauge.name" gauge\\ndoc\\nstr\\"ing\n# TYPE "gauge.name" gauge\n{"gauge.name","name.1"="val with\\nnew line","name*2"="val with \\\\backslash and \\"quotes\\""} +Inf\n{"gauge.name","name.1"="Björn","name*2"="佖佥"} 3.14e+42\n',
    families: [{ name: "gauge.name", type: "gauge", help: 'gauge\ndoc\nstr"ing' }],
    samples: [
      { name: "gauge.name", labels: { "name.1": "val with\nnew line", "name*2": 'val with \\backslash and "quotes"' }, value: Infinity },
      { name: "gauge.name", labels: { "name.1": "Björn", "name*2": "佖佥" }, value: 3.14e42 },
    ],
  },
  {
    id: "valid-9",
    title: "Various escaped special characters in metric and label names.",
    input: '\n# HELP "my\\"noncompliant\\nmetric\\\\" help text\n# TYPE "my\\"noncompliant\\nmetric\\\\" counter\n{"my\\"noncompliant\\nmetric\\\\","label\\"name\\n"="value"} 1\n',
    families: [{ name: 'my"noncompliant\nmetric\\', type: "counter", help: "help text" }],
    samples: [{ name: 'my"noncompliant\nmetric\\', labels: { 'label"name\n': "value" }, value: 1 }],
  },
  {
    id: "valid-10",
    title: "Quoted metric name, not the first element in the label set.",
    input: '\n# HELP "my.noncompliant.metric" help text\n# TYPE "my.noncompliant.metric" counter\n{labelname="value", "my.noncompliant.metric"} 1\n',
    families: [{ name: "my.noncompliant.metric", type: "counter", help: "help text" }],
    samples: [{ name: "my.noncompliant.metric", labels: { labelname: "value" }, value: 1 }],
  },
  {
    id: "valid-11",
    title: "Multiple minimal metrics with quoted metric names.",
    input: '\n{"name.1"} 1\n{"name.2"} 1\n{"name.3"} 1\n',
    families: [
      { name: "name.1", type: "untyped", help: "" },
      { name: "name.2", type: "untyped", help: "" },
      { name: "name.3", type: "untyped", help: "" },
    ],
    samples: [
      { name: "name.1", labels: {}, value: 1 },
      { name: "name.2", labels: {}, value: 1 },
      { name: "name.3", labels: {}, value: 1 },
    ],
  },
  {
    id: "valid-12",
    title: "A full float histogram.",
    input: `\n# HELP ${RDM} The response latency.\n# TYPE ${RDM} histogram\n${RDM}_bucket{le="100"} 123.5\n${RDM}_bucket{le="120"} 412.6\n${RDM}_bucket{le="144"} 592.7\n${RDM}_bucket{le="172.8"} 1524.8\n${RDM}_bucket{le="+Inf"} 2693.9\n${RDM}_sum 1.7560473e+06\n${RDM}_count 2693.9\n`,
    families: [{ name: RDM, type: "histogram", help: "The response latency." }],
    samples: [
      ...buckets(RDM, [
        ["100", 123.5],
        ["120", 412.6],
        ["144", 592.7],
        ["172.8", 1524.8],
        ["+Inf", 2693.9],
      ]),
      { name: `${RDM}_sum`, labels: {}, value: 1756047.3 },
      { name: `${RDM}_count`, labels: {}, value: 2693.9 },
    ],
  },
  {
    id: "valid-13",
    title: "A float histogram where only the count is really a float.",
    input: `\n# HELP ${RDM} The response latency.\n# TYPE ${RDM} histogram\n${RDM}_bucket{le="100"} 123\n${RDM}_bucket{le="120"} 412\n${RDM}_bucket{le="144"} 592\n${RDM}_bucket{le="172.8"} 1524\n${RDM}_sum 1.7560473e+06\n${RDM}_count 2693.9\n`,
    families: [{ name: RDM, type: "histogram", help: "The response latency." }],
    // As the Go parser returns it: no +Inf bucket (there is none in the input).
    samples: [
      ...buckets(RDM, [
        ["100", 123],
        ["120", 412],
        ["144", 592],
        ["172.8", 1524],
      ]),
      { name: `${RDM}_sum`, labels: {}, value: 1756047.3 },
      { name: `${RDM}_count`, labels: {}, value: 2693.9 },
    ],
  },
  {
    id: "valid-14",
    title: "A float histogram where only one of the buckets is really a float.",
    input: `\n# HELP ${RDM} The response latency.\n# TYPE ${RDM} histogram\n${RDM}_bucket{le="100"} 123\n${RDM}_bucket{le="120"} 412\n${RDM}_bucket{le="144"} 592\n${RDM}_bucket{le="172.8"} 1524.8\n${RDM}_bucket{le="+Inf"} 2693\n${RDM}_sum 1.7560473e+06\n${RDM}_count 2693\n`,
    families: [{ name: RDM, type: "histogram", help: "The response latency." }],
    samples: [
      ...buckets(RDM, [
        ["100", 123],
        ["120", 412],
        ["144", 592],
        ["172.8", 1524.8],
        ["+Inf", 2693],
      ]),
      { name: `${RDM}_sum`, labels: {}, value: 1756047.3 },
      { name: `${RDM}_count`, labels: {}, value: 2693 },
    ],
  },
  {
    id: "valid-15",
    title: "A gauge histogram.",
    input: `\n# HELP ${RDM} The response latency.\n# TYPE ${RDM} gaugehistogram\n${RDM}_bucket{le="100"} 123\n${RDM}_bucket{le="120"} 412\n${RDM}_bucket{le="144"} 592\n${RDM}_bucket{le="172.8"} 1524\n${RDM}_bucket{le="+Inf"} 2693\n${RDM}_sum 1.7560473e+06\n${RDM}_count 2693\n`,
    families: [{ name: RDM, type: "gaugehistogram", help: "The response latency." }],
    samples: [
      ...buckets(RDM, [
        ["100", 123],
        ["120", 412],
        ["144", 592],
        ["172.8", 1524],
        ["+Inf", 2693],
      ]),
      { name: `${RDM}_sum`, labels: {}, value: 1756047.3 },
      { name: `${RDM}_count`, labels: {}, value: 2693 },
    ],
  },
  {
    id: "valid-16",
    title: "A gauge histogram with alternative spelling.",
    input: `\n# HELP ${RDM} The response latency.\n# TYPE ${RDM} gauge_histogram\n${RDM}_bucket{le="100"} 123\n${RDM}_bucket{le="120"} 412\n${RDM}_bucket{le="144"} 592\n${RDM}_bucket{le="172.8"} 1524\n${RDM}_bucket{le="+Inf"} 2693\n${RDM}_sum 1.7560473e+06\n${RDM}_count 2693\n`,
    families: [{ name: RDM, type: "gaugehistogram", help: "The response latency." }],
    samples: [
      ...buckets(RDM, [
        ["100", 123],
        ["120", 412],
        ["144", 592],
        ["172.8", 1524],
        ["+Inf", 2693],
      ]),
      { name: `${RDM}_sum`, labels: {}, value: 1756047.3 },
      { name: `${RDM}_count`, labels: {}, value: 2693 },
    ],
  },
  {
    id: "valid-17",
    title: "A float gauge histogram where only one of the buckets is really a float and with alternative spelling.",
    input: `\n# HELP ${RDM} The response latency.\n# TYPE ${RDM} gauge_histogram\n${RDM}_bucket{le="100"} 123\n${RDM}_bucket{le="120"} 412\n${RDM}_bucket{le="144"} 592\n${RDM}_bucket{le="172.8"} 1524.8\n${RDM}_bucket{le="+Inf"} 2693\n${RDM}_sum 1.7560473e+06\n${RDM}_count 2693\n`,
    families: [{ name: RDM, type: "gaugehistogram", help: "The response latency." }],
    samples: [
      ...buckets(RDM, [
        ["100", 123],
        ["120", 412],
        ["144", 592],
        ["172.8", 1524.8],
        ["+Inf", 2693],
      ]),
      { name: `${RDM}_sum`, labels: {}, value: 1756047.3 },
      { name: `${RDM}_count`, labels: {}, value: 2693 },
    ],
  },
  {
    id: "error-41",
    title: "Dotted metric name fails legacy validation (no error with UTF-8 validation).",
    input: '{"metric.name",foo="bla"} 3.14\n',
    families: [{ name: "metric.name", type: "untyped", help: "" }],
    samples: [{ name: "metric.name", labels: { foo: "bla" }, value: 3.14 }],
  },
  {
    id: "error-42",
    title: "Dotted label name fails legacy validation (no error with UTF-8 validation).",
    input: 'metric_name{"foo"="bar", "dotted.label"="bla"} 3.14\n',
    families: [{ name: "metric_name", type: "untyped", help: "" }],
    samples: [{ name: "metric_name", labels: { foo: "bar", "dotted.label": "bla" }, value: 3.14 }],
  },
];

export const INVALID_CASES: readonly ExpfmtInvalidCase[] = [
  { id: "error-0", title: "No new-line at end of input.", input: "\nbla 3.14\nblubber 42", line: 3, error: "unexpected end of input stream" },
  { id: "error-1", title: "Invalid escape sequence in label value.", input: 'metric{label="\\t"} 3.14', line: 1, error: "invalid escape sequence" },
  { id: "error-2", title: "Newline in label value.", input: '\nmetric{label="new\nline"} 3.14\n', line: 2, error: 'label value "new" contains unescaped new-line' },
  { id: "error-3", title: "Invalid label name.", input: 'metric{@="bla"} 3.14', line: 1, error: "invalid label name for metric" },
  { id: "error-4", title: "Reserved label name.", input: 'metric{__name__="bla"} 3.14', line: 1, error: 'label name "__name__" is reserved' },
  { id: "error-5", title: "Invalid character after a label name.", input: 'metric{label+="bla"} 3.14', line: 1, error: "expected '=' after label name" },
  { id: "error-6", title: "Unquoted label value.", input: "metric{label=bla} 3.14", line: 1, error: "expected '\"' at start of label value" },
  { id: "error-7", title: "Quantile that is not a number.", input: '\n# TYPE metric summary\nmetric{quantile="bla"} 3.14\n', line: 3, error: "expected float as value for 'quantile' label" },
  { id: "error-8", title: "Invalid character after a label value.", input: 'metric{label="bla"+} 3.14', line: 1, error: "unexpected end of label value" },
  { id: "error-9", title: "Float timestamp.", input: 'metric{label="bla"} 3.14 2.72\n', line: 1, error: "expected integer as timestamp" },
  { id: "error-10", title: "Text after the timestamp.", input: 'metric{label="bla"} 3.14 2 3\n', line: 1, error: "spurious string after timestamp" },
  { id: "error-11", title: "Value that is not a number.", input: 'metric{label="bla"} blubb\n', line: 1, error: "expected float as value" },
  { id: "error-12", title: "Second HELP line.", input: "\n# HELP metric one\n# HELP metric two\n", line: 3, error: "second HELP line for metric name" },
  { id: "error-13", title: "Second TYPE line.", input: "\n# TYPE metric counter\n# TYPE metric untyped\n", line: 3, error: 'second TYPE line for metric name "metric", or TYPE reported after samples' },
  { id: "error-14", title: "TYPE after samples.", input: "\nmetric 4.12\n# TYPE metric counter\n", line: 3, error: 'second TYPE line for metric name "metric", or TYPE reported after samples' },
  { id: "error-15", title: "Unknown metric type.", input: "\n# TYPE metric bla\n", line: 2, error: "unknown metric type" },
  { id: "error-16", title: "Invalid metric name in a TYPE line.", input: "\n# TYPE met-ric\n", line: 2, error: "invalid metric name in comment" },
  { id: "error-17", title: "Invalid metric name.", input: '@invalidmetric{label="bla"} 3.14 2', line: 1, error: "invalid metric name" },
  { id: "error-18", title: "No metric name.", input: '{label="bla"} 3.14 2', line: 1, error: "invalid metric name" },
  { id: "error-19", title: "le that is not a number.", input: '\n# TYPE metric histogram\nmetric_bucket{le="bla"} 3.14\n', line: 3, error: "expected float as value for 'le' label" },
  {
    id: "error-20",
    title: "Invalid UTF-8 in label value.",
    // metric{l="\xbd"} 3.14\n
    input: { bytes: [109, 101, 116, 114, 105, 99, 123, 108, 61, 34, 0xbd, 34, 125, 32, 51, 46, 49, 52, 10] },
    line: 1,
    error: 'invalid label value "\\xbd"',
  },
  { id: "error-21", title: "Go 1.13 sometimes allows underscores in numbers.", input: "foo 1_2\n", line: 1, error: "expected float as value" },
  { id: "error-22", title: "Go 1.13 supports hex floating point.", input: "foo 0x1p-3\n", line: 1, error: "expected float as value" },
  { id: "error-23", title: "Check for various other literals variants, just in case.", input: "foo 0x1P-3\n", line: 1, error: "expected float as value" },
  { id: "error-24", title: "Binary literal.", input: "foo 0B1\n", line: 1, error: "expected float as value" },
  { id: "error-25", title: "Octal literal.", input: "foo 0O1\n", line: 1, error: "expected float as value" },
  { id: "error-26", title: "Hex literal.", input: "foo 0X1\n", line: 1, error: "expected float as value" },
  { id: "error-27", title: "Hex literal.", input: "foo 0x1\n", line: 1, error: "expected float as value" },
  { id: "error-28", title: "Binary literal.", input: "foo 0b1\n", line: 1, error: "expected float as value" },
  { id: "error-29", title: "Octal literal.", input: "foo 0o1\n", line: 1, error: "expected float as value" },
  { id: "error-30", title: "Hex literal.", input: "foo 0x1\n", line: 1, error: "expected float as value" },
  { id: "error-31", title: "Hex literal.", input: "foo 0x1\n", line: 1, error: "expected float as value" },
  { id: "error-32", title: "Check histogram label.", input: '\n# TYPE metric histogram\nmetric_bucket{le="0x1p-3"} 3.14\n', line: 3, error: "expected float as value for 'le' label" },
  { id: "error-33", title: "Check quantile label.", input: '\n# TYPE metric summary\nmetric{quantile="0x1p-3"} 3.14\n', line: 3, error: "expected float as value for 'quantile' label" },
  { id: "error-34", title: "Check duplicate label.", input: 'metric{label="bla",label="bla"} 3.14', line: 1, error: "duplicate label names for metric" },
  { id: "error-35", title: "Multiple quoted metric names.", input: '{"one.name","another.name"} 3.14', line: 1, error: "multiple metric names" },
  { id: "error-36", title: "Invalid escape sequence in quoted metric name.", input: '{"a\\xc5z",label="bla"} 3.14', line: 1, error: "invalid escape sequence" },
  { id: "error-37", title: "Unexpected end of quoted metric name.", input: '{"metric.name".label="bla"} 3.14', line: 1, error: "unexpected end of metric name" },
  { id: "error-38", title: "Invalid escape sequence in quoted metric name.", input: '\n# TYPE "metric.name\\t" counter\n{"metric.name\\t",label="bla"} 3.14\n', line: 2, error: "invalid escape sequence" },
  { id: "error-39", title: "Newline in quoted metric name.", input: '\n# TYPE "metric\nname" counter\n{"metric\nname",label="bla"} 3.14\n', line: 2, error: 'metric name "metric" contains unescaped new-line' },
  { id: "error-40", title: "Newline in quoted label name.", input: '\n{"metric.name","new\nline"="bla"} 3.14\n', line: 2, error: 'label name "new" contains unescaped new-line' },
  {
    id: "error-43",
    title: "Histogram with negative count.",
    input: `\n# HELP ${RDM} The response latency.\n# TYPE ${RDM} histogram\n${RDM}_bucket{le="100"} 123\n${RDM}_bucket{le="120"} 412\n${RDM}_bucket{le="144"} 592\n${RDM}_bucket{le="172.8"} 1524\n${RDM}_bucket{le="+Inf"} 2693\n${RDM}_sum 1.7560473e+06\n${RDM}_count -2693\n`,
    line: 10,
    error: `negative count for histogram "${RDM}"`,
  },
  {
    id: "error-44",
    title: "Histogram with negative bucket.",
    input: `\n# HELP ${RDM} The response latency.\n# TYPE ${RDM} histogram\n${RDM}_bucket{le="100"} 123\n${RDM}_bucket{le="120"} -412\n${RDM}_bucket{le="144"} 592\n${RDM}_bucket{le="172.8"} 1524\n${RDM}_bucket{le="+Inf"} 2693\n${RDM}_sum 1.7560473e+06\n${RDM}_count 2693\n`,
    line: 5,
    error: `negative bucket population for histogram "${RDM}"`,
  },
  {
    id: "error-45",
    title: "Histogram with negative float count.",
    input: `\n# HELP ${RDM} The response latency.\n# TYPE ${RDM} histogram\n${RDM}_bucket{le="100"} 123\n${RDM}_bucket{le="120"} 412\n${RDM}_bucket{le="144"} 592\n${RDM}_bucket{le="172.8"} 1524\n${RDM}_bucket{le="+Inf"} 2693\n${RDM}_sum 1.7560473e+06\n${RDM}_count -2693.123\n`,
    line: 10,
    error: `negative count for histogram "${RDM}"`,
  },
  {
    id: "error-46",
    title: "Histogram with negative float bucket.",
    input: `\n# HELP ${RDM} The response latency.\n# TYPE ${RDM} histogram\n${RDM}_bucket{le="100"} 123\n${RDM}_bucket{le="120"} -412.456\n${RDM}_bucket{le="144"} 592\n${RDM}_bucket{le="172.8"} 1524\n${RDM}_bucket{le="+Inf"} 2693\n${RDM}_sum 1.7560473e+06\n${RDM}_count 2693\n`,
    line: 5,
    error: `negative bucket population for histogram "${RDM}"`,
  },
  { id: "error-47", title: "Empty braces with no metric name.", input: "{} 3.14", line: 1, error: "invalid metric name" },
];
