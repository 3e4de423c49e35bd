/** Parses pushed bodies, Prometheus text format 0.0.4 and OpenMetrics 1.0, in one pass over the string. */

// The parser is split by concern: parse-chars.ts (character classes, string helpers),
// parse-number.ts (float and integer tokens), parse-kinds.ts (family kinds and sample roles),
// parse-index.ts (label scans, key hashes, the series index), parse-keys.ts (canonical keys),
// parse-state.ts (per-family state), parse-lexer.ts (positions, errors, quoted strings) and
// parse-machine.ts (the one-pass parser itself). Other modules import from this file only.

import { GatewayError } from "../../common/errors";
import type { Family, LabelPairs } from "../../common/model";
import { Parser } from "./parse-machine";

export { parseNumber } from "./parse-number";

/** Options of {@link parseExposition}. */
export interface ParseOptions {
  /**
   * Accept sample timestamps (default `true`: both formats allow them). The gateway passes `false`:
   * it stamps its own time on export, and a client's clock must never reach the receiver.
   */
  allowTimestamps?: boolean;
  /**
   * After a successful parse, throw `GatewayError("InvalidValue")` when the body holds a family the
   * gateway cannot store: an OpenMetrics `gaugehistogram`. Default `false`, so that conformance
   * checks see the parse alone.
   */
  rejectUnsupported?: boolean;
  /**
   * Pushgateway grouping labels to add to every series' key, replacing same-named labels of the
   * body: the keys `withGroupingLabels` (groups.ts) would give, built while parsing. Names must be
   * valid and distinct (as `parseGroupingPath` returns them). Duplicate series are still judged by
   * the body's own labels; two series that only the grouping makes equal are left for `prepare`
   * (merge.ts) to reject, as it does after `withGroupingLabels`.
   */
  group?: LabelPairs;
}

/**
 * Parses an exposition body into families, validating everything the format requires.
 *
 * - `"text"` is Prometheus text format 0.0.4 (as Prometheus 3 reads it, with quoted UTF-8 names);
 *   `"openmetrics"` is OpenMetrics 1.0 (the body must end with `# EOF`).
 * - Family names: a text counter keeps its name as written; an OpenMetrics counter `foo` (samples
 *   `foo_total`) becomes `foo_total`; info `foo` becomes a gauge `foo_info`; stateset `foo` a gauge
 *   `foo` (one series per state, the state in label `foo`); `unknown` becomes `untyped`; a
 *   gaugehistogram becomes a histogram (`_gsum`/`_gcount` as sum/count), which the gateway rejects
 *   with `rejectUnsupported`.
 * - `_created` samples and exemplars are validated, then dropped. Every series gets its canonical
 *   label key (`labelKey` in labels.ts: sorted by name, empty values left out), without `le` for
 *   histograms and `quantile` for summaries, and with `options.group` merged in.
 * - Series come as each family's `keys` and `values`, in the order of their first samples. A
 *   family announced by HELP/TYPE/UNIT but without samples is returned with no series.
 * - Duplicate series (same name and label set in any order; `a=""` counts as no label `a`) are an
 *   error, except an OpenMetrics series repeated with non-decreasing timestamps: the newest point
 *   is kept.
 * - The text format reads a body as the Pushgateway's parser (prometheus/common expfmt) does: a
 *   family's lines may be spread over the body and are merged, HELP may follow the samples (TYPE
 *   may not), the quoted metric name may stand anywhere in the braces, a histogram without a
 *   `le="+Inf"` bucket gets one equal to its `_count`, and unknown escape sequences are errors.
 *   OpenMetrics wants each family contiguous with its metadata first, and keeps unknown escapes.
 *   docs/conformance.md lists where the two parsers still differ, and why.
 *
 * Throws `GatewayError("ParseError")` with `line L, column C: ...` (1-based, columns count
 * characters) on any malformed or invalid input, and `GatewayError("InvalidValue")` for a
 * timestamp when `allowTimestamps` is false.
 *
 * @example
 * parseExposition('# TYPE jobs_total counter\njobs_total{queue="a"} 3\n', "text")
 * // [{ name: "jobs_total", type: "counter", help: "", unit: "",
 * //    keys: ['queue="a"'], values: [3] }]
 */
export function parseExposition(body: string, format: "text" | "openmetrics", options: ParseOptions = {}): Family[] {
  const parser = new Parser(body, format === "openmetrics", options.allowTimestamps ?? true, options.group ?? []);
  const families = parser.run();
  const unsupported = parser.unsupported;
  if (options.rejectUnsupported === true && unsupported !== undefined) {
    throw new GatewayError(
      "InvalidValue",
      `line ${unsupported.line}: gaugehistogram "${unsupported.name}" is not supported: the gateway stores counters, gauges, histograms, summaries and untyped metrics; push it as a histogram or as gauges`,
    );
  }
  return families;
}
