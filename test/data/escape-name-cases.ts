/**
 * The test table of prometheus/common's `TestEscapeName`, as data.
 *
 * Source: https://github.com/prometheus/common, model/metric_test.go (func TestEscapeName),
 * commit d2417e2cbb82c4c81e4d28d55f354058169a9f08 (2026-08-21).
 * Copyright 2013 The Prometheus Authors. Licensed under the Apache License, Version 2.0
 * (http://www.apache.org/licenses/LICENSE-2.0). Field names kept as in the Go struct; the Go
 * string literals are written as the same strings in TypeScript (`\u0100` is U+0100 in both).
 */

export interface EscapeNameCase {
  /** The scenario's name in the Go table. */
  readonly name: string;
  readonly input: string;
  /** `EscapeName(input, UnderscoreEscaping)`. */
  readonly expectedUnderscores: string;
  /** `EscapeName(input, DotsEscaping)`. */
  readonly expectedDots: string;
  /** `UnescapeName(expectedDots, DotsEscaping)` (the gateway does not unescape; kept as data). */
  readonly expectedUnescapedDots: string;
  /** `EscapeName(input, ValueEncodingEscaping)`. */
  readonly expectedValue: string;
}

export const ESCAPE_NAME_CASES: readonly EscapeNameCase[] = [
  {
    name: "empty string",
    input: "",
    expectedUnderscores: "",
    expectedDots: "",
    expectedUnescapedDots: "",
    expectedValue: "",
  },
  {
    name: "legacy valid name",
    input: "no:escaping_required",
    expectedUnderscores: "no:escaping_required",
    // Dots escaping will escape underscores even though it's not strictly
    // necessary for compatibility.
    expectedDots: "no:escaping__required",
    expectedUnescapedDots: "no:escaping_required",
    expectedValue: "no:escaping_required",
  },
  {
    name: "name with dots",
    input: "mysystem.prod.west.cpu.load",
    expectedUnderscores: "mysystem_prod_west_cpu_load",
    expectedDots: "mysystem_dot_prod_dot_west_dot_cpu_dot_load",
    expectedUnescapedDots: "mysystem.prod.west.cpu.load",
    expectedValue: "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load",
  },
  {
    name: "name with dots and underscore",
    input: "mysystem.prod.west.cpu.load_total",
    expectedUnderscores: "mysystem_prod_west_cpu_load_total",
    expectedDots: "mysystem_dot_prod_dot_west_dot_cpu_dot_load__total",
    expectedUnescapedDots: "mysystem.prod.west.cpu.load_total",
    expectedValue: "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load__total",
  },
  {
    name: "name with dots and colon",
    input: "http.status:sum",
    expectedUnderscores: "http_status:sum",
    expectedDots: "http_dot_status:sum",
    expectedUnescapedDots: "http.status:sum",
    expectedValue: "U__http_2e_status:sum",
  },
  {
    name: "name with spaces and emoji",
    input: "label with 😱",
    expectedUnderscores: "label_with__",
    expectedDots: "label__with____",
    expectedUnescapedDots: "label_with__",
    expectedValue: "U__label_20_with_20__1f631_",
  },
  {
    name: "name with unicode characters > 0x100",
    input: "花火",
    expectedUnderscores: "__",
    expectedDots: "____",
    // Dots-replacement does not know the difference between two replaced
    // characters and a single underscore.
    expectedUnescapedDots: "__",
    expectedValue: "U___82b1__706b_",
  },
  {
    name: "name with spaces and edge-case value",
    input: "label with \u0100",
    expectedUnderscores: "label_with__",
    expectedDots: "label__with____",
    expectedUnescapedDots: "label_with__",
    expectedValue: "U__label_20_with_20__100_",
  },
];

/**
 * The family names of prometheus/common's `TestEscapeMetricFamily` (same file and commit) that
 * escaping changes: `EscapeMetricFamily` escapes a family name and its non-legacy label names,
 * leaving legacy names alone (even with `dots`).
 */
export interface EscapeFamilyCase {
  readonly name: string;
  readonly scheme: "underscores" | "dots" | "values";
  readonly metricName: string;
  readonly expectedMetricName: string;
  /** `[input label name, expected label name]` */
  readonly labels: readonly (readonly [string, string])[];
}

export const ESCAPE_FAMILY_CASES: readonly EscapeFamilyCase[] = [
  { name: "simple, no escaping needed", scheme: "values", metricName: "my_metric", expectedMetricName: "my_metric", labels: [["some_label", "some_label"]] },
  { name: "label name escaping needed", scheme: "values", metricName: "my_metric", expectedMetricName: "my_metric", labels: [["some.label", "U__some_2e_label"]] },
  { name: "counter, escaping needed", scheme: "values", metricName: "my.metric", expectedMetricName: "U__my_2e_metric", labels: [["some?label", "U__some_3f_label"]] },
  {
    name: "gauge, escaping needed",
    scheme: "dots",
    metricName: "unicode.and.dots.花火",
    expectedMetricName: "unicode_dot_and_dot_dots_dot_____",
    labels: [["some_label", "some_label"]],
  },
];
