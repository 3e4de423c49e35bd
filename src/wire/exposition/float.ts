/** Floats as the exposition formats write them: sample values, and `le` / `quantile` label values. */

// Prometheus 3's canonical `le` / `quantile` form is shared with the remote-write export, so that
// exported and scraped series carry the same label values.
/**
 * A float as Prometheus 3 writes `le` and `quantile` values (`labels.FormatOpenMetricsFloat`): Go's
 * `strconv.FormatFloat(f, 'g', -1, 64)` with `.0` appended when that has neither `.` nor `e`.
 *
 * @example
 * formatOpenMetricsFloat(1); // "1.0"
 * formatOpenMetricsFloat(1e6); // "1e+06"
 * formatOpenMetricsFloat(0.005); // "0.005"
 */
export function formatOpenMetricsFloat(v: number): string {
  if (v === 0) return "0.0"; // -0 too: Go compares f == 0
  if (Number.isInteger(v) && v > -1e6 && v < 1e6) return `${v}.0`;
  if (v !== v) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  // Go and JS both produce the shortest round-trip digits; they differ only in layout. Go's 'g' with
  // shortest precision uses the exponent form when exp < -4 || exp >= 6 (strconv/ftoa.go: "if precision
  // was the shortest possible, use precision 6 for this decision"), with at least two exponent digits.
  const e = v.toExponential();
  const at = e.indexOf("e");
  const exp = Number(e.slice(at + 1));
  if (exp < -4 || exp >= 6) {
    const abs = exp < 0 ? -exp : exp;
    return `${e.slice(0, at)}e${exp < 0 ? "-" : "+"}${abs < 10 ? "0" : ""}${abs}`;
  }
  // In this range JS writes plain decimals (it switches to exponents only below 1e-7 or from 1e21).
  const s = String(v);
  return s.includes(".") ? s : `${s}.0`;
}

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
