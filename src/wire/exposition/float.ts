/** Floats as the exposition formats write them: sample values, and `le` / `quantile` label values. */

// Prometheus 3's canonical `le` / `quantile` form, shared with the remote-write export so that
// exported and scraped series carry the same label values.
export { formatOpenMetricsFloat } from "../remote-write/write-request";

/**
 * A float as the exposition formats write it: Go-compatible decimal or exponent form,
 * `NaN`, `+Inf`, `-Inf`. `-0` comes out as `0`; {@link formatSampleValue} keeps the sign.
 *
 * @example formatFloat(0.25) // "0.25"; formatFloat(1e21) // "1e+21"; formatFloat(-Infinity) // "-Inf"
 */
export function formatFloat(v: number): string {
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

/**
 * A sample value that every parser of the format reads back as exactly this float. JavaScript's
 * shortest round-trip digits (`5e-324`, `1e+308`, `123456789012345680000`) are valid Go float
 * syntax, read exactly by Go's `strconv.ParseFloat` (promtool, Prometheus) and by Python's
 * `float()`. Only `-0` needs care: `String(-0)` is `"0"`, and Python's OpenMetrics parser reads
 * an integer-looking `-0` with `int()`, which has no negative zero; `-0.0` is a float to all of them.
 *
 * @example formatSampleValue(-0, false) // "-0"; formatSampleValue(-0, true) // "-0.0"; formatSampleValue(NaN, true) // "NaN"
 */
export function formatSampleValue(v: number, openmetrics: boolean): string {
  if (v === 0) return 1 / v > 0 ? "0" : openmetrics ? "-0.0" : "-0";
  return formatFloat(v);
}
